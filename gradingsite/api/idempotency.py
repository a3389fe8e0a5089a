"""``Idempotency-Key``: a retried write is answered with the first answer, not applied twice.

Every write of the API (``POST``, ``PUT``, ``PATCH`` and ``DELETE`` of a view built on
``IdempotentWrites``: every ``ApiViewSet``, and signing out) takes ``Idempotency-Key: <1-255
printable ASCII characters>`` (400 otherwise). The open sign-in routes (``login``, ``authenticate``,
``refresh``) answer 400 to a key: keys belong to a caller, and there is none yet. On a read the
header is ignored. A keyed write runs in one transaction that:

1. waits until the caller is known to be allowed: the key is looked up when the view first parses
   the request body, which every view does after its permission checks (its object's included),
   so a caller who may not write gets their 401/403/404 and no byte of the body is read. A write
   that has no body (or a ``DELETE``, whose body is never read) is looked up before the view runs;
2. takes a transaction-scoped advisory lock on (caller, key): if another request with that key
   holds it (still running), 409;
3. looks for the caller's stored answer under that key from the last 24 hours: the same method,
   path and body (SHA-256; of a multipart body, its parts: field names, file names and contents,
   not the random boundary) → that answer again, nothing written: its status, its bytes and every
   header that describes them (``Content-Type``, ``ETag``, ``Location``...), with
   ``Idempotent-Replayed: true``; another request → 422;
4. a new key while the caller already has ``IDEMPOTENCY_KEYS_PER_USER`` live keys → 429 with
   ``Retry-After`` (when their oldest key expires);
5. otherwise runs the request and, when it succeeds (2xx) and changed something (a row inserted,
   updated or deleted, and not rolled back), stores its answer in the same transaction as its
   writes. An error answer, or one that wrote nothing (a dry run, a PUT of what is already there),
   is not stored: a retry is run again, which is as safe.

The body is read by the view's parser, never more of it than the endpoint takes
(``gradingsite.api.parsers``), and hashed from what the parser read, not copied again.
Keys are per caller (another user's key is not yours) and expire after 24 hours; expired rows are
removed when their key is used again and every hour by the worker (``grading.tasks``).
"""

from __future__ import annotations

import hashlib
import math
import re
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.permissions import AllowAny

from gradingsite.api.parsers import CHUNKED_BODY, ApiRequest
from gradingsite.errors import Conflict, DomainError, Invalid

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TTL = timedelta(hours=24)
MAX_LENGTH = 255
NOT_ACCEPTED = f"{HEADER} is not accepted here: keys belong to a signed-in caller, and this endpoint is open."
# Headers of an answer that are not part of it: set again (or not at all) for a replay.
_NOT_REPLAYED = frozenset({"date", "idempotent-replayed"})


def _keys():
    """The model of the stored answers (``IDEMPOTENCY_KEY_MODEL``, as ``AUTH_USER_MODEL`` names the
    user's): this shared layer names no app."""
    return apps.get_model(settings.IDEMPOTENCY_KEY_MODEL)


class Unprocessable(DomainError):
    status_code = 422
    default_detail = "This Idempotency-Key was used for another request: use a new key for a new request."


class Replay(Exception):
    """The stored answer to the same request: sent again instead of running it."""

    def __init__(self, stored):
        self.stored = stored

    def response(self) -> HttpResponse:
        response = HttpResponse(bytes(self.stored.body), status=self.stored.status)
        del response["Content-Type"]  # only the stored headers: a 204 has none
        for name, value in self.stored.headers.items():
            response[name] = value
        response["Idempotent-Replayed"] = "true"
        return response


def valid_key(request) -> str:
    key = request.META[META_KEY]
    if not (1 <= len(key) <= MAX_LENGTH) or not key.isascii() or not key.isprintable():
        raise Invalid({"detail": f"{HEADER} must be 1 to {MAX_LENGTH} printable ASCII characters."})
    return key


class Claim:
    """A keyed write of one caller: looked up once (``look_up``), stored after it succeeded."""

    def __init__(self, user_id: int, key: str, method: str, path: str):
        self.user_id, self.key = user_id, key
        self._hash = hashlib.sha256()
        for part in (method, path):
            self._hash.update(part.encode())
            self._hash.update(b"\0")
        self.request_hash: str | None = None  # set once looked up
        self.replayed = False

    def look_up(self, request: ApiRequest | None = None) -> None:
        """With the parsed ``request`` (None: a write without a body). Raises ``Replay``,
        ``Conflict`` (409), ``Unprocessable`` (422) or ``Throttled`` (429, too many live keys)."""
        if request is not None:
            _hash_body(self._hash, request)
        self.request_hash = self._hash.hexdigest()
        lock = int.from_bytes(hashlib.sha256(f"{self.user_id}:{self.key}".encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock])
            if not cursor.fetchone()[0]:
                raise Conflict(f"A request with this {HEADER} is still being processed; try again in a moment.")
        cutoff = timezone.now() - TTL
        stored = _keys().objects.filter(user_id=self.user_id, key=self.key).first()
        if stored is not None and stored.created_at < cutoff:
            stored.delete()
            stored = None
        if stored is not None:
            if stored.request_hash != self.request_hash:
                raise Unprocessable
            raise Replay(stored)
        _check_bound(self.user_id, cutoff)

    def store(self, response) -> None:
        """After a successful request that changed something, in its transaction: keep its answer."""
        if getattr(response, "streaming", False):
            return  # no write answers with a stream; such an answer is not kept
        if hasattr(response, "render"):
            response.render()
        _keys().objects.create(
            user_id=self.user_id,
            key=self.key,
            request_hash=self.request_hash,
            status=response.status_code,
            headers={name: value for name, value in response.items() if name.lower() not in _NOT_REPLAYED},
            body=response.content,
        )


def _hash_body(digest, request: ApiRequest) -> None:
    """Add what the parser read: the bytes of a JSON or CSV body (hashed as they streamed), the
    parts of a multipart one."""
    media_type = (request.content_type or "").split(";")[0].strip().lower()
    digest.update(media_type.encode() + b"\0")
    data = request.data
    if media_type == "multipart/form-data":
        for name in sorted(data):
            for value in data.getlist(name):
                digest.update(b"field\0%s\0" % name.encode())
                if hasattr(value, "chunks"):
                    digest.update(b"file\0%s\0%d\0" % ((value.name or "").encode(), value.size or 0))
                    for chunk in value.chunks():
                        digest.update(chunk)
                    value.seek(0)
                else:
                    digest.update(str(value).encode())
                digest.update(b"\0")
    else:
        digest.update(request.body_digest.digest())


def _check_bound(user_id: int, cutoff) -> None:
    """A new key: refused (429) while the caller already has ``IDEMPOTENCY_KEYS_PER_USER`` live ones."""
    limit = settings.IDEMPOTENCY_KEYS_PER_USER
    live = _keys().objects.filter(user_id=user_id, created_at__gte=cutoff)
    if live[:limit].count() < limit:
        return
    oldest = live.order_by("created_at").values_list("created_at", flat=True).first()
    wait = max(1, math.ceil((oldest + TTL - timezone.now()).total_seconds()))
    raise exceptions.Throttled(
        wait=wait,
        detail=f"You have {limit} {HEADER}s from the last 24 hours, the most kept per caller: "
        "send this write without a key, or wait until the oldest expires.",
    )


def delete_expired() -> int:
    return _keys().objects.filter(created_at__lt=timezone.now() - TTL).delete()[0]


# A ``WITH`` statement that writes: one of its parts (or its main statement) is an ``INSERT``,
# ``UPDATE`` or ``DELETE`` (not a ``SELECT ... FOR UPDATE``).
_MODIFYING_WITH = re.compile(
    r"(?:\bAS(?:\s+(?:NOT\s+)?MATERIALIZED)?\s*\(|\))\s*(?:INSERT|UPDATE|DELETE)\b", re.IGNORECASE
)


class WriteWatch:
    """Whether the statements run while it is installed (``connection.execute_wrapper``) changed a
    row: an ``INSERT``, ``UPDATE`` or ``DELETE`` that reached one, and wasn't rolled back to a
    savepoint since (a dry run). A ``WITH`` statement that writes counts when it answers rows: such
    statements here answer the rows they wrote (a write in one statement, ``grading.services``).
    Writes to the stored keys themselves don't count."""

    def __init__(self):
        self._levels: list[list] = [["", False]]  # [savepoint name, changed a row within it]

    @property
    def changed(self) -> bool:
        return any(changed for _, changed in self._levels)

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        words = sql.split(None, 4)
        head = words[0].upper() if words else ""
        if head == "SAVEPOINT":
            self._levels.append([words[1], False])
        elif head == "RELEASE" or (head == "ROLLBACK" and len(words) == 4):
            index = self._index(words[-1])
            if index is not None:
                changed = head == "RELEASE" and any(level[1] for level in self._levels[index:])
                del self._levels[index + 1 :]
                if head == "RELEASE":
                    self._levels.pop()
                    self._levels[-1][1] = self._levels[-1][1] or changed
                else:  # ROLLBACK TO SAVEPOINT: the savepoint stays, its writes are undone
                    self._levels[index][1] = False
        elif (
            (head in ("INSERT", "UPDATE", "DELETE") or (head == "WITH" and _MODIFYING_WITH.search(sql)))
            and _keys()._meta.db_table not in sql
            and (context["cursor"].rowcount or 0) > 0
        ):
            self._levels[-1][1] = True
        return result

    def _index(self, name: str) -> int | None:
        for index in range(len(self._levels) - 1, 0, -1):
            if self._levels[index][0] == name:
                return index
        return None


class IdempotentWrites:
    """The ``Idempotency-Key`` of the writes of an APIView (see the module's docstring)."""

    _idempotency: Claim | None = None
    _writes: WriteWatch | None = None

    def initialize_request(self, request, *args, **kwargs):
        request = super().initialize_request(request, *args, **kwargs)
        request.__class__ = ApiRequest  # the same object, with its hooks (a subclass adding no state)
        return request

    def dispatch(self, request, *args, **kwargs):
        self._idempotency = self._writes = None
        if request.method in METHODS and META_KEY in request.META:
            self._writes = WriteWatch()
            with connection.execute_wrapper(self._writes), transaction.atomic():
                return super().dispatch(request, *args, **kwargs)
        return super().dispatch(request, *args, **kwargs)

    def takes_idempotency_key(self) -> bool:
        """Whether this action honours a key: a write that needs a signed-in caller."""
        return self.request.method in METHODS and not any(isinstance(p, AllowAny) for p in self.get_permissions())

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self._writes is None:
            return
        key = valid_key(request)
        if not self.takes_idempotency_key() or not request.user.is_authenticated:
            raise Invalid({"detail": NOT_ACCEPTED})
        self._idempotency = Claim(request.user.pk, key, request.method, request.get_full_path())
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method == "DELETE" or (length <= 0 and not request.META.get(CHUNKED_BODY)):
            self._idempotency.look_up()
        else:
            request.body_digest = hashlib.sha256()
            request.on_parsed = self._idempotency.look_up

    def handle_exception(self, exc):
        if isinstance(exc, Replay):
            self._idempotency.replayed = True
            transaction.set_rollback(True)  # anything the view wrote before it read its body
            return exc.response()
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim = self._idempotency
        if claim is None or claim.replayed or not 200 <= response.status_code < 300:
            return response
        if claim.request_hash is None:
            # The view succeeded without reading the body it was sent: the body didn't matter.
            try:
                claim.look_up()
            except Exception as exc:  # answered as the view's own errors are
                transaction.set_rollback(True)
                return self.finalize_response(request, self.handle_exception(exc), *args, **kwargs)
        if self._writes is not None and self._writes.changed:
            claim.store(response)
        return response


def takes_key(view, method: str) -> bool:
    """For the schema: whether ``view``'s operation with this method honours a key."""
    return isinstance(view, IdempotentWrites) and method in METHODS and view.takes_idempotency_key()
