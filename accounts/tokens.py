"""JWTs: the one place tokens are minted, rotated and revoked.

Tokens are HS256 with ``JWT_SECRET`` and carry the issuer and audience from ``SIMPLE_JWT``
(simplejwt sets and checks them). Beyond simplejwt's claims each token carries:

- ``iat`` to the microsecond (a JSON number with a fraction, as RFC 7519 allows), so that
  "log out everywhere" kills every token issued up to that instant and none issued after it,
  even within the same second (``user.tokens_valid_after``);
- ``auth_time``: when the login that started the chain happened. A refresh keeps it, and no
  token's ``exp`` passes ``auth_time + REFRESH_CHAIN_MAX_DAYS``.

Refreshing rotates: the presented refresh token is blacklisted under a row lock on its
``OutstandingToken``, so of two concurrent refreshes of one token exactly one succeeds.

Every request's access token is verified by ``AccessToken`` (``SIMPLE_JWT["AUTH_TOKEN_CLASSES"]``):
simplejwt's, whose signature and claims are checked by ``TokenBackend`` below.
"""

import base64
import hashlib
import hmac
import time
from datetime import datetime, timedelta
from functools import cached_property

import orjson
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.backends import TokenBackend as SimpleJWTTokenBackend
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, datetime_to_epoch

from accounts.models import User
from gradingsite.api.serializers import MAX_ID


class TokenRefused(Exception):
    """A refresh token that can't be used: invalid, expired, revoked, or its user is gone."""


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class TokenBackend(SimpleJWTTokenBackend):
    """simplejwt's token backend, verifying the tokens this app issues without PyJWT's generic work.

    PyJWT verifies any JWT: per token it decodes and parses the header, checks every character of
    each segment against the base64url alphabet in a Python loop, and re-validates the key (is it
    PEM, SSH, DER, a JWK?) before each HMAC: ~0.1 ms, most of it the same work on the same key and
    header every time. Every token this app issues has the same header (HS256, as simplejwt encodes
    it), so for a token with exactly that header this checks, per token, what PyJWT checks: the
    HMAC-SHA256 signature (compared in constant time with the canonical encoding of the right one),
    a canonical payload that is a JSON object, and the claims as PyJWT checks them (``exp`` not
    past, ``iat`` and ``nbf`` not ahead, the issuer, the audience, ``sub`` and ``jti`` strings),
    leeway included. A token that passes is decoded; anything else (another header, a bad
    signature, an expired or odd claim) goes to simplejwt's own ``decode`` (PyJWT), which refuses
    it with its usual error, or accepts the rare valid token this doesn't take the short way.
    """

    @cached_property
    def _issued_header(self) -> bytes:
        # The header segment of the tokens this backend encodes (PyJWT's sorted, compact JSON).
        return self.encode({}).split(".", 1)[0].encode()

    def decode(self, token, verify: bool = True) -> dict:
        if verify and self.algorithm == "HS256" and self.jwks_client is None:
            payload = self._issued_here(token)
            if payload is not None:
                return payload
        return super().decode(token, verify)

    def _issued_here(self, token) -> dict | None:
        """The payload of a valid token in the form this app issues; None for any other."""
        raw = token.encode() if isinstance(token, str) else token
        if not isinstance(raw, bytes):
            return None
        header, _, rest = raw.partition(b".")
        segment, _, signature = rest.partition(b".")
        if header != self._issued_header:
            return None
        mac = hmac.new(self.prepared_signing_key, b"%s.%s" % (header, segment), hashlib.sha256).digest()
        if not hmac.compare_digest(_b64(mac), signature):
            return None
        try:
            data = base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
            payload = orjson.loads(data)
        except (ValueError, orjson.JSONDecodeError):
            return None
        if _b64(data) != segment or not isinstance(payload, dict) or not self._claims_hold(payload):
            return None
        return payload

    def _claims_hold(self, payload: dict) -> bool:
        """PyJWT's claim checks, as simplejwt asks for them; False where PyJWT would refuse (or might)."""
        now, leeway = time.time(), self.get_leeway().total_seconds()
        exp, iat, nbf = payload.get("exp"), payload.get("iat", 0), payload.get("nbf", 0)
        if not (_number(exp) and _number(iat) and _number(nbf)):
            return False
        if int(exp) <= now - leeway or int(iat) > now + leeway or int(nbf) > now + leeway:
            return False
        if self.issuer is not None and (not isinstance(self.issuer, str) or payload.get("iss") != self.issuer):
            return False
        if self.audience is not None:
            audience = payload.get("aud")
            if not isinstance(self.audience, str):
                return False
            listed = isinstance(audience, list) and all(isinstance(a, str) for a in audience)
            if audience != self.audience and not (listed and self.audience in audience):
                return False
        return all(isinstance(payload[claim], str) for claim in ("sub", "jti") if claim in payload)


class AccessToken(tokens.AccessToken):
    """simplejwt's access token (its claims and checks: type, ``jti``, expiry), verified by
    ``TokenBackend``, which is made once rather than looked up for every token."""

    _token_backend = TokenBackend(
        api_settings.ALGORITHM,
        api_settings.SIGNING_KEY,
        api_settings.VERIFYING_KEY,
        api_settings.AUDIENCE,
        api_settings.ISSUER,
        api_settings.JWK_URL,
        api_settings.LEEWAY,
        api_settings.JSON_ENCODER,
    )


def _precise_epoch(moment: datetime) -> float:
    return round(moment.timestamp(), 6)


def _chain_end(auth_time: int) -> datetime:
    return datetime_from_epoch(auth_time) + timedelta(days=settings.REFRESH_CHAIN_MAX_DAYS)


def _cap_exp(token, end: datetime) -> None:
    if token["exp"] > datetime_to_epoch(end):
        token["exp"] = datetime_to_epoch(end)


def _mint(user: User, auth_time: int) -> tuple[RefreshToken, tokens.AccessToken]:
    refresh = RefreshToken()
    refresh[api_settings.USER_ID_CLAIM] = str(user.pk)
    refresh["auth_time"] = auth_time
    refresh["iat"] = _precise_epoch(refresh.current_time)
    _cap_exp(refresh, _chain_end(auth_time))
    access = refresh.access_token
    access["iat"] = refresh["iat"]
    _cap_exp(access, _chain_end(auth_time))
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[api_settings.JTI_CLAIM],
        token=str(refresh),
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return refresh, access


def _body(refresh: RefreshToken, access: tokens.AccessToken) -> dict:
    return {
        "access": str(access),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "expires_in": max(0, int(access["exp"] - datetime_to_epoch(access.current_time))),
    }


def issue_tokens(user) -> dict:
    """A fresh access and refresh token pair for ``user``, starting a new login chain."""
    refresh, access = _mint(user, auth_time=datetime_to_epoch(timezone.now()))
    return _body(refresh, access)


def token_user_id(token) -> int | None:
    """The user id a token names (simplejwt writes it as a string), or None if it names no possible row."""
    try:
        user_id = int(str(token.get(api_settings.USER_ID_CLAIM)))
    except ValueError:
        return None
    return user_id if 1 <= user_id <= MAX_ID else None


def issued_before_revocation(user: User, token) -> bool:
    """True if ``token`` was issued no later than the user's last "log out everywhere"."""
    if user.tokens_valid_after is None:
        return False
    try:
        issued_at = float(token.get("iat", 0))
    except (TypeError, ValueError):
        return True
    return issued_at <= _precise_epoch(user.tokens_valid_after)


def _presented_refresh(raw: str) -> RefreshToken:
    """A refresh token as presented, validated; ``TokenRefused`` if it isn't one of ours and live."""
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise TokenRefused(str(exc)) from None
    except KeyError:
        # Signed with our key but missing a claim (simplejwt reads the jti unguarded).
        raise TokenRefused("Token is invalid") from None


def rotate(raw_refresh: str) -> dict:
    """Trades a refresh token for a new pair; the presented one stops working.

    Raises ``TokenRefused`` for a token that is invalid, expired, blacklisted, of the wrong type,
    past its chain's end, issued before "log out everywhere", or whose user is deleted or inactive.
    """
    presented = _presented_refresh(raw_refresh)
    auth_time = presented.get("auth_time")
    if not isinstance(auth_time, int) or _chain_end(auth_time) <= timezone.now():
        raise TokenRefused("This sign-in is too old to refresh; sign in again.")
    with transaction.atomic():
        # The model orders by its nullable user: without order_by("pk") the lock would need an outer join.
        outstanding = (
            OutstandingToken.objects.select_for_update(of=("self",))
            .filter(jti=str(presented.get(api_settings.JTI_CLAIM)))
            .order_by("pk")
            .first()
        )
        if outstanding is None or BlacklistedToken.objects.filter(token=outstanding).exists():
            raise TokenRefused("Token is blacklisted")
        user_id = token_user_id(presented)
        user = User.objects.filter(pk=user_id).first() if user_id is not None else None
        if user is None or not user.is_active or issued_before_revocation(user, presented):
            raise TokenRefused("Token is no longer valid")
        BlacklistedToken.objects.create(token=outstanding)
        refresh, access = _mint(user, auth_time=auth_time)
    return _body(refresh, access)


def revoke(raw_refresh: str, *, user: User) -> None:
    """Blacklists one of ``user``'s refresh tokens.

    Raises ``TokenRefused`` for a token that is not a live refresh token, and ``PermissionError``
    for one that belongs to someone else.
    """
    presented = _presented_refresh(raw_refresh)
    if str(presented.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise PermissionError("This refresh token belongs to another user.")
    outstanding = OutstandingToken.objects.filter(jti=str(presented.get(api_settings.JTI_CLAIM))).first()
    if outstanding is None:
        raise TokenRefused("Token is not known")
    BlacklistedToken.objects.get_or_create(token=outstanding)


def revoke_all(user: User) -> None:
    """Every token of ``user`` issued up to now stops working, access tokens at their next request."""
    now = timezone.now()
    with transaction.atomic():
        User.objects.filter(pk=user.pk).update(tokens_valid_after=now)
        live = OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True)
        BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in live], ignore_conflicts=True)
    user.tokens_valid_after = now
