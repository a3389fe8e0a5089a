"""Request parsing for the API: JSON only, and never more of it than the configured limit.

Every parser refuses (413) a body whose declared ``Content-Length`` is over its endpoint's limit
before reading any of it, and reads a body of unknown length (chunked) only up to one byte past it.
"""

import codecs
import json

from django.conf import settings
from rest_framework import exceptions, parsers, status


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "request_too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded by ``DATA_UPLOAD_MAX_MEMORY_SIZE``, and total on any input.

    DRF reads JSON bodies straight from the request stream, so Django's own size check (made only
    when ``request.body`` is read) never runs for them. The declared ``Content-Length`` is checked
    first; a body without one (chunked) is read up to the limit and refused beyond it. Bad UTF-8,
    bad JSON, ``NaN`` and nesting too deep for the parser are all a 400.
    """

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
        return super().parse(stream, media_type, parser_context)


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")
