"""Conditional requests on the versioned resources (courses, tests, results, categories, users).

- ``ETag: "<version>"`` (strong) on every single-object answer that carries a ``version``
  (``ApiViewSet.finalize_response``).
- ``If-None-Match`` on ``GET``/``HEAD``: when it names the current tag (or is ``*``), 304 and no body.
- ``If-Match`` on ``PUT``/``PATCH``/``DELETE``: ``check`` locks the row in the write's own transaction
  and compares its version before anything is written; a tag that isn't the current one is 412
  ``{"detail": ..., "current": <the representation as it is now>}`` and nothing is written. ``*``
  matches any version; weak tags (``W/"3"``) never match (RFC 9110's strong comparison). Without
  ``If-Match`` a write goes ahead as it always did, unless ``REQUIRE_IF_MATCH`` is on: then 428.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from rest_framework.response import Response

from gradingsite.errors import DomainError, PreconditionFailed


class PreconditionRequired(DomainError):
    status_code = 428
    default_detail = 'This write needs an If-Match header with the ETag you read (e.g. If-Match: "3").'


STALE = "The resource changed since you read it (its ETag is no longer the one in If-Match): read it again."


def etag(version: int) -> str:
    return f'"{version}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(request, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison) or is ``*``."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    opaque = tag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == opaque for t in _tags(header))


def check(request, model, pk: int, current: Callable[[], dict]) -> None:
    """Compare ``If-Match`` with the row's version, the row locked until the transaction ends.

    Call it inside the write's transaction, after the caller's permission to write was checked,
    and before writing. ``current`` builds the representation sent back with a 412.
    """
    header = request.headers.get("If-Match")
    if header is None:
        if settings.REQUIRE_IF_MATCH:
            raise PreconditionRequired
        return
    version = model.objects.select_for_update().filter(pk=pk).values_list("version", flat=True).first()
    tags = _tags(header)
    if version is not None and ("*" in tags or etag(version) in tags):
        return
    raise PreconditionFailed({"detail": STALE, "current": current() if version is not None else None})


def expected_version(request) -> int | None:
    """The version an ``If-Match`` asks for, for a write that takes one tag (the bulk upsert): None
    without the header or with ``*``; -1 (matching nothing) for anything but one strong tag."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags:
        return None
    if len(tags) == 1 and tags[0].startswith('"') and tags[0].endswith('"') and tags[0][1:-1].isdigit():
        return int(tags[0][1:-1])
    return -1


def with_etag(request, response):
    """``response`` with its ETag, or a 304 when ``If-None-Match`` names it (before it is finalized)."""
    tag = etag_of(getattr(response, "data", None)) if response.status_code < 300 else None
    if tag is None:
        return response
    if request.method in ("GET", "HEAD") and none_match(request, tag):
        response = Response(status=304)
    response["ETag"] = tag
    return response


def etag_of(data) -> str | None:
    """The ETag of a single-object answer: its ``version`` when it has an ``id`` and one."""
    if isinstance(data, dict) and "id" in data and isinstance(data.get("version"), int):
        return etag(data["version"])
    return None
