"""Conditional requests on the versioned resources (courses, tests, results, categories, users).

- ``ETag: "<version>-<digest>"`` (strong) on every single-object answer that carries a ``version``
  (``viewsets.ETags``): the row's version, and a digest of the answer's exact bytes.
  A representation shows more than its row (a course its tests and teachers and the caller's role,
  a test its ``results_version``, a result its ``percent`` of the test's ``max_score``): the digest
  makes the tag change whenever the body does, the version says which row it was read from.
- ``If-None-Match`` on ``GET``/``HEAD``: when it names the current tag (or is ``*``), 304 and no
  body; so only while the body is byte for byte the one the tag was given with.
- ``If-Match`` on ``PUT``/``PATCH``/``DELETE`` guards the row being written: ``check`` locks the row
  in the write's own transaction and compares the version part of each tag (before the ``-``; a
  bare ``"<version>"`` is the same) with the row's version before anything is written. The tag a
  ``GET`` gave stays good for a write until the row itself changes, whatever it embeds. No match is
  412 ``{"detail": ..., "current": <the representation as it is now>}`` with that representation's
  ``ETag``, and nothing is written. Without ``If-Match`` a write goes ahead as it always did,
  unless ``REQUIRE_IF_MATCH`` is on: then 428.
- One rule for every ``If-Match`` (rows and a test's results version alike): a list matches when
  any of its strong tags does; ``*`` matches anything; a weak tag (``W/"3"``) never matches (RFC
  9110's strong comparison).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from rest_framework.response import Response

from gradingsite.errors import DomainError, PreconditionFailed


class PreconditionRequired(DomainError):
    status_code = 428
    default_detail = 'This write needs an If-Match header with the ETag you read (e.g. If-Match: "3-5e0f…").'


STALE = "The resource changed since you read it (its ETag is no longer the one in If-Match): read it again."


def etag(version: int) -> str:
    """A bare version as a tag: a test's results version (the bulk upsert's ``ETag``)."""
    return f'"{version}"'


def representation_etag(version: int, content: bytes) -> str:
    """The tag of a representation of a row at ``version`` whose body is ``content``."""
    return f'"{version}-{hashlib.blake2b(content, digest_size=12).hexdigest()}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def none_match(request, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison) or is ``*``."""
    header = request.headers.get("If-None-Match")
    if header is None:
        return False
    opaque = tag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == opaque for t in _tags(header))


def _version_of(tag: str) -> int | None:
    """The version a strong tag names: ``"3"`` or ``"3-<digest>"``; None for a weak or malformed one."""
    if len(tag) < 2 or not (tag.startswith('"') and tag.endswith('"')):
        return None
    version = tag[1:-1].split("-", 1)[0]
    return int(version) if version.isascii() and version.isdigit() else None


def if_match_versions(request) -> frozenset[int] | None:
    """The versions ``If-Match`` accepts: None when there is no condition (no header, or ``*``
    among its tags); else the versions of its strong tags (empty: nothing matches)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    tags = _tags(header)
    if "*" in tags:
        return None
    return frozenset(v for v in map(_version_of, tags) if v is not None)


def check(request, model, pk: int, current: Callable[[], dict]) -> None:
    """Compare ``If-Match`` with the row's version, the row locked until the transaction ends.

    Call it inside the write's transaction, after the caller's permission to write was checked,
    and before writing. ``current`` builds the representation sent back with a 412.
    """
    if request.headers.get("If-Match") is None:
        if settings.REQUIRE_IF_MATCH:
            raise PreconditionRequired
        return
    version = model.objects.select_for_update().filter(pk=pk).values_list("version", flat=True).first()
    accepted = if_match_versions(request)
    if version is not None and (accepted is None or version in accepted):
        return
    raise PreconditionFailed({"detail": STALE, "current": current() if version is not None else None})


def with_etag(request, response):
    """``response`` with its ETag, or a 304 when ``If-None-Match`` names it (before it is finalized).

    The tag's digest is of the bytes the response's renderer writes for its data (the renderer
    DRF chose for this request, as it will render the response). A 412 gets the tag of its
    ``current`` representation: the one a ``GET`` would answer now.
    """
    data = getattr(response, "data", None)
    if response.status_code == 412 and isinstance(data, dict):
        tag = _tag_of(request, data.get("current"))
        if tag is not None:
            response["ETag"] = tag
        return response
    tag = _tag_of(request, data) if response.status_code < 300 else None
    if tag is None:
        return response
    if request.method in ("GET", "HEAD") and none_match(request, tag):
        response = Response(status=304)
    response["ETag"] = tag
    return response


def _tag_of(request, data) -> str | None:
    """The ETag of a single-object answer (it has an ``id`` and an integer ``version``), or None."""
    if not (isinstance(data, dict) and "id" in data and isinstance(data.get("version"), int)):
        return None
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is None:
        return None
    content = renderer.render(data, getattr(request, "accepted_media_type", None), {"request": request})
    return representation_etag(data["version"], content)
