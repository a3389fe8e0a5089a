"""Request limits kept in the database, so every worker and dyno shares them.

What is counted (a refused request is never counted, so ``Retry-After`` is exact):

- ``POST /api/auth/login/`` and the admin's "email me a code": one hit on the client IP
  (``settings.LOGIN_REQUESTS_PER_IP_PER_HOUR``) and one on the email address
  (``settings.LOGIN_CODES_PER_EMAIL_PER_HOUR``); a request over either limit is refused whole.
- Wrong codes on ``/api/auth/authenticate/`` and the admin's code form: one hit per failure on the
  client IP (``settings.LOGIN_FAILURES_PER_IP_PER_HOUR``, default 100). Successful sign-ins are
  not counted, so many people signing in from one address are never held up by it.

A window is one hour, sliding: ``Retry-After`` is the time until the oldest counted request
leaves it.
"""

import ipaddress
import math
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import LoginThrottle

WINDOW_SECONDS = 3600


@dataclass(frozen=True)
class Limit:
    key: str
    max_hits: int


class LimitExceeded(Exception):
    """Raised when a request is over a limit; ``wait`` is whole seconds until it would fit."""

    def __init__(self, wait: int):
        self.wait = wait
        super().__init__(f"rate limited for {wait} s")


def client_ip(request) -> str:
    """The client's address as the limits count it (``address_key``).

    Behind ``TRUSTED_PROXY_COUNT`` proxies (1 in a Heroku dyno: the router; 0 elsewhere), the
    address is that many hops from the right of X-Forwarded-For: each trusted proxy appends the
    address it received the request from, so hops further left are whatever the client chose to
    send. When the header has fewer hops than proxies, the leftmost hop is used. ``REMOTE_ADDR`` is
    the client when there is no trusted proxy, for a request that did not come through the proxy
    (one without ``X-Forwarded-Proto``, which Heroku's router always sets), and when the hop is not
    an IP address at all. A client talking to the process directly therefore can't pick its address
    unless the deployment says a proxy is in front of it.
    """
    remote = address_key(request.META.get("REMOTE_ADDR") or "") or "unknown"
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0 or "HTTP_X_FORWARDED_PROTO" not in request.META:
        return remote
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    return address_key(hops[-proxies if len(hops) >= proxies else 0]) or remote


def address_key(text: str) -> str | None:
    """An address as one client: IPv4 as it is; an IPv4-mapped IPv6 address as its IPv4; any other
    IPv6 address as its /64 (what one subscriber is usually given). None if it is not an address."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address.exploded}/64", strict=False))
    return str(address)


def login_limits(ip: str, email: str) -> list[Limit]:
    return [
        Limit(f"ip:{ip}", settings.LOGIN_REQUESTS_PER_IP_PER_HOUR),
        Limit(f"email:{email}", settings.LOGIN_CODES_PER_EMAIL_PER_HOUR),
    ]


def failure_limit(ip: str) -> Limit:
    return Limit(f"fail:{ip}", settings.LOGIN_FAILURES_PER_IP_PER_HOUR)


def _locked_row(key: str, now) -> tuple[LoginThrottle, bool]:
    """The key's row, locked until the surrounding transaction ends, and whether it was created."""
    row = LoginThrottle.objects.select_for_update().filter(key=key).first()
    if row is not None:
        return row, False
    try:
        with transaction.atomic():
            LoginThrottle.objects.create(key=key, hits=[], updated_at=now)
    except IntegrityError:
        pass  # another process created it first
    return LoginThrottle.objects.select_for_update().get(key=key), True


def _recent(row: LoginThrottle, now_ts: float) -> list[float]:
    return sorted(hit for hit in row.hits if hit > now_ts - WINDOW_SECONDS)


def _wait(recent: list[float], max_hits: int, now_ts: float) -> int | None:
    """Seconds until ``recent`` has room for one more hit, or None if it has room now."""
    if len(recent) < max_hits:
        return None
    oldest_counted = recent[len(recent) - max_hits]
    return max(1, math.ceil(oldest_counted + WINDOW_SECONDS - now_ts))


def hit(limits: list[Limit]) -> None:
    """Counts one request against every limit, or raises ``LimitExceeded`` and counts nothing.

    Rows are locked in the order given, so callers must list limits in a fixed order.
    """
    now = timezone.now()
    now_ts = now.timestamp()
    created_any = False
    with transaction.atomic():
        rows = []
        for limit in limits:
            row, created = _locked_row(limit.key, now)
            created_any |= created
            rows.append((limit, row))
        waits = [wait for limit, row in rows if (wait := _wait(_recent(row, now_ts), limit.max_hits, now_ts))]
        if waits:
            raise LimitExceeded(max(waits))
        for _limit, row in rows:
            row.hits = [*_recent(row, now_ts), now_ts]
            row.updated_at = now
            row.save(update_fields=["hits", "updated_at"])
    if created_any:
        # New keys are when the table grows; old ones are cleared then, outside the locks above.
        forget_stale()


def check(limit: Limit) -> None:
    """Raises ``LimitExceeded`` if ``limit`` is used up, without counting anything."""
    row = LoginThrottle.objects.filter(key=limit.key).first()
    if row is None:
        return
    now_ts = timezone.now().timestamp()
    wait = _wait(_recent(row, now_ts), limit.max_hits, now_ts)
    if wait:
        raise LimitExceeded(wait)


def forget_stale() -> int:
    """Deletes rows with no hit inside the window; returns how many."""
    cutoff = timezone.now() - timedelta(seconds=WINDOW_SECONDS)
    deleted, _ = LoginThrottle.objects.filter(updated_at__lt=cutoff).delete()
    return deleted
