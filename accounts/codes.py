"""One-time sign-in codes: issuing, emailing and redeeming them.

The rules, each enforced here and nowhere else:

- a code is 8 digits from ``secrets``; only its keyed hash is stored (HMAC-SHA256 with a key
  derived from ``SECRET_KEY``, over the user's id and the code), never the code itself;
- it works for ``settings.LOGIN_CODE_MINUTES`` minutes, once;
- issuing a code for a user makes their older code stop working (one row per user);
- ``settings.LOGIN_CODE_MAX_ATTEMPTS`` wrong tries kill it; the count lives in the database;
- redemption locks the row, so of two concurrent redemptions exactly one succeeds.

Codes are checked only through ``accounts.backends.EmailCodeBackend``.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from accounts import email as outgoing
from accounts import ratelimit
from accounts.models import LoginCode, User, normalize_email

CODE_DIGITS = 8
_HASH_SALT = "accounts.codes.LoginCode"


def generate_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalize_code(code) -> str:
    """What a person typed, without the spaces or dashes they may have added."""
    return "".join(str(code or "").split()).replace("-", "")


def code_hash(user_id: int, code: str) -> str:
    return salted_hmac(_HASH_SALT, f"{user_id}:{code}", algorithm="sha256").hexdigest()


def issue_code(user: User) -> str:
    """A new code for ``user``; any code issued before it stops working."""
    code = generate_code()
    now = timezone.now()
    row = LoginCode(
        user=user,
        code_hash=code_hash(user.pk, code),
        created_at=now,
        expires_at=now + timedelta(minutes=settings.LOGIN_CODE_MINUTES),
        attempts=0,
    )
    # One atomic upsert: concurrent requests for one user leave exactly one live code.
    LoginCode.objects.bulk_create(
        [row],
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["code_hash", "created_at", "expires_at", "attempts"],
    )
    return code


def redeem_code(user: User, code: str) -> bool:
    """True if ``code`` is ``user``'s live code, which is then used up; False otherwise.

    A wrong code counts as a try; the code is deleted when used, expired or out of tries.
    """
    now = timezone.now()
    with transaction.atomic():
        row = LoginCode.objects.select_for_update().filter(user=user).first()
        if row is None:
            return False
        if row.expires_at <= now or row.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
            row.delete()
            return False
        if not constant_time_compare(row.code_hash, code_hash(user.pk, normalize_code(code))):
            row.attempts += 1
            if row.attempts >= settings.LOGIN_CODE_MAX_ATTEMPTS:
                row.delete()
            else:
                row.save(update_fields=["attempts"])
            return False
        row.delete()
        return True


def user_for_login(email: str) -> User:
    """The user with this address, created (with no password) if new."""
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return User.objects.create_user(email)
    except IntegrityError:  # created by a concurrent request
        return User.objects.get(email=email)


def request_login_code(*, email: str, ip: str, create_user: bool = True, allowed=None) -> None:
    """Counts the request against the login limits, then issues and emails a code.

    Raises ``ratelimit.LimitExceeded`` (nothing counted, nothing sent) or
    ``accounts.email.EmailUnavailable``. Says nothing about whether the address has an account:
    an inactive user, an unknown address when ``create_user`` is false, or a user that
    ``allowed(user)`` refuses gets no code and no error.
    """
    email = normalize_email(email)
    ratelimit.hit(ratelimit.login_limits(ip, email))
    user = user_for_login(email) if create_user else User.objects.filter(email=email).first()
    if user is None or not user.is_active or (allowed is not None and not allowed(user)):
        return
    code = issue_code(user)
    outgoing.send_login_code(user.email, code)
