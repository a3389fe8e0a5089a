"""Where a read goes: a replica (a Heroku follower) when it may lag and one is fit, else the primary.

- A read may lag only when a view says so (``ReplicaReads.replica_actions``: lists, the gradebook and
  its CSV, statistics, course grades) for a ``GET``/``HEAD``, outside any transaction. Everything
  else — writes, ``select_for_update``, transactions, the admin, sign-in — uses the primary.
- Read your writes: a request that writes never reads from a replica, and for
  ``REPLICA_PIN_SECONDS`` after a user's last write (``User.last_write_at``, written on the primary
  after each write and read by the query that authenticates them) neither does that user.
- A replica is fit when it answers and its replay is at most ``REPLICA_MAX_LAG_SECONDS`` behind;
  that is asked of it once every ``CHECK_SECONDS`` per process and remembered. One that fails to
  answer is left alone for ``DOWN_SECONDS``; a read it fails in the middle of is run again on the
  primary (``gradingsite.api.viewsets.ReplicaReads``).

``ReplicaRouter`` (``gradingsite.routers``) asks ``read_alias()`` for every read.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from contextvars import ContextVar
from datetime import timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.utils import timezone

logger = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
DOWN_SECONDS = 5.0
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

# The replica this request's lag-tolerant reads go to, or None (the primary). Set per request.
_reading_from: ContextVar[str | None] = ContextVar("reading_from", default=None)
_fitness: dict[str, tuple[float, bool]] = {}  # alias → (when it was checked, fit)
_turns = itertools.count()
_lock = threading.Lock()

# Replay lag in seconds: none while everything received has been replayed (an idle primary sends
# nothing new, so the last replayed transaction's age says nothing then).
LAG_SQL = (
    "SELECT CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
    "ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 1e9) END"
)


def read_alias() -> str | None:
    """The database alias for a read now: a replica, or None for the router's default (the primary)."""
    alias = _reading_from.get()
    if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        return None
    return alias


def begin_lagging_reads(user) -> str | None:
    """This request's reads may lag: pick a fit replica for them unless ``user`` wrote recently.
    Returns the replica chosen, or None."""
    if not settings.DATABASE_REPLICAS or pinned(user):
        return None
    alias = choose()
    _reading_from.set(alias)
    return alias


def end_lagging_reads() -> None:
    _reading_from.set(None)


def pinned(user) -> bool:
    """Whether ``user`` wrote within ``REPLICA_PIN_SECONDS`` (their reads stay on the primary)."""
    last = getattr(user, "last_write_at", None)
    return last is not None and timezone.now() - last < timedelta(seconds=settings.REPLICA_PIN_SECONDS)


def choose() -> str | None:
    """A fit replica, taking turns among them; None when none is fit."""
    replicas = settings.DATABASE_REPLICAS
    start = next(_turns)
    for offset in range(len(replicas)):
        alias = replicas[(start + offset) % len(replicas)]
        if fit(alias):
            return alias
    return None


def _remembered(alias: str) -> bool | None:
    """What was found of the replica, while still fresh (a fit one for CHECK_SECONDS, an unfit one
    for DOWN_SECONDS); None when it must be asked again."""
    checked = _fitness.get(alias)
    if checked is None:
        return None
    when, ok = checked
    return ok if time.monotonic() - when < (CHECK_SECONDS if ok else DOWN_SECONDS) else None


def fit(alias: str) -> bool:
    remembered = _remembered(alias)
    if remembered is not None:
        return remembered
    with _lock:  # one thread of the process asks; the others use its answer
        remembered = _remembered(alias)
        if remembered is not None:
            return remembered
        ok = _lag_ok(alias)
        _fitness[alias] = (time.monotonic(), ok)
        return ok


def _lag_ok(alias: str) -> bool:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(LAG_SQL)
            lag = float(cursor.fetchone()[0])
    except DatabaseError as exc:
        logger.warning("Replica %s is not answering (%s): reading from the primary", alias, type(exc).__name__)
        connections[alias].close()
        return False
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        logger.warning("Replica %s is %.1f s behind: reading from the primary", alias, lag)
        return False
    return True


def mark_down(alias: str) -> None:
    """A read failed on this replica: don't use it for a while."""
    _fitness[alias] = (time.monotonic(), False)
    connections[alias].close()


def forget() -> None:
    """Forget what is known of the replicas (tests)."""
    _fitness.clear()


def record_write(user) -> None:
    """``user`` just wrote: keep their reads on the primary for ``REPLICA_PIN_SECONDS`` (only with
    replicas; at most one update a second per user)."""
    if not settings.DATABASE_REPLICAS or user is None or not getattr(user, "pk", None):
        return
    now = timezone.now()
    last = getattr(user, "last_write_at", None)
    if last is not None and now - last < timedelta(seconds=1):
        return
    try:
        type(user).objects.using(DEFAULT_DB_ALIAS).filter(pk=user.pk).update(last_write_at=now)
    except DatabaseError:
        # The write itself succeeded; only its author's next reads may come from a replica.
        logger.warning("Could not record the time of user %s's write", user.pk)
        return
    user.last_write_at = now


class ReplicaMiddleware:
    """Every request starts reading from the primary; a successful write records its author's time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        end_lagging_reads()
        response = self.get_response(request)
        if request.method not in SAFE_METHODS and response.status_code < 400:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                record_write(user)
        return response
