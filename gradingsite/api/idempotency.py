"""``Idempotency-Key``: a retried create or grade write is answered, not applied twice.

On the writes that take it (``ApiViewSet.idempotent_actions``: grading one student, the bulk
upsert, a result's PUT, the CSV import, creating a course, a test or an enrollment), a request
with ``Idempotency-Key: <1-255 printable characters>`` runs in one transaction that:

1. takes a transaction-scoped advisory lock on (caller, key): if another request with that key
   holds it (still running), 409;
2. looks for the caller's stored answer under that key from the last 24 hours: the same method,
   path and body (SHA-256) → that answer again, with ``Idempotent-Replayed: true``, and nothing
   written; another request → 422;
3. otherwise runs the request and, when it succeeds (2xx), stores its status and body in the same
   transaction as its writes. An error answer is not stored: a retry is checked again.

Keys are per caller (another user's key is not yours) and expire after 24 hours; expired rows are
removed when their key is used again and every hour by the worker (``grading.tasks``).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

from accounts.models import IdempotencyKey
from gradingsite.errors import Conflict, DomainError, Invalid

HEADER = "Idempotency-Key"
TTL = timedelta(hours=24)
MAX_LENGTH = 255


class Unprocessable(DomainError):
    status_code = 422
    default_detail = "This Idempotency-Key was used for another request: use a new key for a new request."


class Replay(Exception):
    """The stored answer to the same request: sent again instead of running it."""

    def __init__(self, stored: IdempotencyKey):
        self.stored = stored

    def response(self) -> HttpResponse:
        response = HttpResponse(
            bytes(self.stored.body), status=self.stored.status, content_type=self.stored.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response


@dataclass
class Claim:
    user_id: int
    key: str
    request_hash: str


def begin(request) -> Claim | None:
    """Before the request runs (inside its transaction). Raises ``Replay``, ``Conflict`` (409),
    ``Unprocessable`` (422) or ``Invalid`` (400, a malformed key); None without a key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not (1 <= len(key) <= MAX_LENGTH) or not key.isascii() or not key.isprintable():
        raise Invalid({"detail": f"{HEADER} must be 1 to {MAX_LENGTH} printable ASCII characters."})
    user_id = request.user.pk
    digest = hashlib.sha256(b"\n".join([request.method.encode(), request.get_full_path().encode(), _body(request)]))
    claim = Claim(user_id=user_id, key=key, request_hash=digest.hexdigest())
    if connection.vendor == "postgresql":
        lock = int.from_bytes(hashlib.sha256(f"{user_id}:{key}".encode()).digest()[:8], "big", signed=True)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [lock])
            if not cursor.fetchone()[0]:
                raise Conflict(f"A request with this {HEADER} is still being processed; try again in a moment.")
    stored = IdempotencyKey.objects.filter(user_id=user_id, key=key).first()
    if stored is not None and stored.created_at < timezone.now() - TTL:
        stored.delete()
        stored = None
    if stored is not None:
        if stored.request_hash != claim.request_hash:
            raise Unprocessable
        raise Replay(stored)
    return claim


def _body(request) -> bytes:
    """The request's body, read once and kept for the view (which applies its own size limit: the
    CSV import takes more than Django's in-memory limit for other bodies)."""
    django_request = request._request
    if not hasattr(django_request, "_body"):
        data = django_request.read()
        django_request._body = data
        django_request._stream = io.BytesIO(data)
    return django_request._body


def store(claim: Claim, response) -> None:
    """After a successful request, in its transaction: keep its answer for a retry."""
    IdempotencyKey.objects.create(
        user_id=claim.user_id,
        key=claim.key,
        request_hash=claim.request_hash,
        status=response.status_code,
        content_type=response.get("Content-Type", "application/json"),
        body=response.rendered_content if hasattr(response, "rendered_content") else response.content,
    )


def delete_expired() -> int:
    return IdempotencyKey.objects.filter(created_at__lt=timezone.now() - TTL).delete()[0]
