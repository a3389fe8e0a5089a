"""Authentication by emailed one-time code: the one place a code is checked."""

import contextlib
import logging

from django.contrib.auth.backends import BaseBackend

from accounts import codes, ratelimit
from accounts.models import User, normalize_email

logger = logging.getLogger(__name__)


class EmailCodeBackend(BaseBackend):
    """Authenticates ``(email, code)`` for the API and the admin alike.

    Returns the user, or None for an unknown or inactive user or a wrong, expired, used or
    superseded code (see ``accounts.codes``). With a request, wrong codes are also counted per
    client address (``accounts.ratelimit.failure_limit``); once that limit is used up this raises
    ``ratelimit.LimitExceeded`` without looking at the code.
    """

    def authenticate(self, request, email=None, code=None, **kwargs):
        if email is None or code is None:
            return None
        limit = ratelimit.failure_limit(ratelimit.client_ip(request)) if request is not None else None
        if limit is not None:
            ratelimit.check(limit)
        user = User.objects.filter(email=normalize_email(email)).first()
        if user is not None and user.is_active and codes.redeem_code(user, code):
            return user
        logger.debug("code sign-in refused for a %s address", "known" if user else "unknown")
        if limit is not None:
            # This failure is answered as one anyway; once over the limit, the next request is refused.
            with contextlib.suppress(ratelimit.LimitExceeded):
                ratelimit.hit([limit])
        return None

    def get_user(self, user_id):
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None
