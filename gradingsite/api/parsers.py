"""Request parsing for the API: JSON only, and never more of it than the configured limit."""

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
        request = parser_context.get("request")
        try:
            declared = int(getattr(request, "META", {}).get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            declared = 0
        if limit is not None and declared > limit:
            raise RequestTooLarge()
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


def _no_constants(name):
    raise ValueError(f"{name} is not valid JSON")
