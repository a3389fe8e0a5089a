"""Request parsing for the API: JSON only, and never more of it than the configured limit.

The body is read only by the view's parser, when the view first asks for ``request.data`` (after
its permission checks). Every parser refuses (413) a body whose declared ``Content-Length`` is over
its endpoint's limit before reading any of it, and reads a body of unknown length (chunked, which
``gradingsite.wsgi`` marks with ``CHUNKED_BODY``) only up to one byte past it.
"""

import codecs
import io
import json

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.request import Request

# Set in the WSGI environ by gradingsite.wsgi.ChunkedRequestBodies: the body has no length, read it
# from wsgi.input until it ends.
CHUNKED_BODY = "gradingsite.chunked_body"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


class JSONParser(parsers.BaseParser):
    """A JSON parser bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE``, and total on any input.

    It reads the request stream itself (DRF would hand a subclass of its own JSON parser the whole
    of ``request.body``, read past any limit for a chunked body). The declared ``Content-Length`` is
    checked first; a body without one (chunked) is read up to the limit and refused beyond it. Bad
    UTF-8, bad JSON, ``NaN`` and nesting too deep for the parser are all a 400.
    """

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None:
            refuse_declared_over(parser_context, limit)
        body = stream.read(limit + 1) if limit is not None else stream.read()
        if limit is not None and len(body) > limit:
            raise RequestTooLarge()
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise exceptions.ParseError(f"Unknown charset {encoding!r}.") from None
        try:
            text = body.decode(encoding)
            return json.loads(text, parse_constant=_no_constants)
        except (ValueError, RecursionError) as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None


def refuse_declared_over(parser_context, limit: int) -> None:
    """413 when the request declares a body longer than ``limit`` bytes: before reading any of it."""
    request = (parser_context or {}).get("request")
    try:
        declared = int(getattr(request, "META", {}).get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        declared = 0
    if declared > limit:
        raise RequestTooLarge()


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser for a body of at most ``max_bytes`` (parts' headers and boundaries
    included): a longer declared body is 413 before any of it is read."""

    max_bytes: int

    def parse(self, stream, media_type=None, parser_context=None):
        refuse_declared_over(parser_context, self.max_bytes)
        request = parser_context["request"]
        if request.META.get(CHUNKED_BODY):
            # Django's multipart parser needs the length: read up to the limit, then parse that.
            body = stream.read(self.max_bytes + 1)
            if len(body) > self.max_bytes:
                raise RequestTooLarge()
            request.META["CONTENT_LENGTH"] = str(len(body))
            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)


class _Hashed:
    """A body stream that adds what is read of it to a hash."""

    def __init__(self, stream, digest):
        self.stream, self.digest = stream, digest

    def read(self, *args):
        data = self.stream.read(*args)
        self.digest.update(data)
        return data

    def readline(self, *args):
        data = self.stream.readline(*args)
        self.digest.update(data)
        return data


class ApiRequest(Request):
    """DRF's request, as the API's views get it.

    - A chunked body (``CHUNKED_BODY``) is given to the parser as a stream, which reads no more of it
      than its endpoint takes.
    - With ``body_digest`` (a hashlib object), what the parser reads is added to it as it streams.
    - ``on_parsed(request)`` is called when the body was first parsed.
    """

    body_digest = None
    on_parsed = None
    _parsed = False

    def _load_stream(self):
        super()._load_stream()
        if self._stream is None and self._request.META.get(CHUNKED_BODY):
            self._stream = self._request.META["wsgi.input"]
        if self._stream is not None and self.body_digest is not None:
            self._stream = _Hashed(self._stream, self.body_digest)

    def _load_data_and_files(self):
        super()._load_data_and_files()
        if not self._parsed:
            self._parsed = True
            if self.on_parsed is not None:
                self.on_parsed(self)


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")
