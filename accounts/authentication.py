from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.models import User
from accounts.tokens import issued_before_revocation, token_user_id
from gradingsite.sql import ModelSelect

# Every authenticated request loads its user: SQL written once (gradingsite.sql.ModelSelect).
# Prepared (planned once per connection): every authenticated request runs it.
CALLER = ModelSelect(User, "id = %s", prepare=True)


class JWTAuthentication(_SimpleJWTAuthentication):
    """Bearer JWT authentication for the API.

    Only access tokens are accepted (simplejwt checks the type, signature, algorithm, expiry,
    issuer and audience). The user is loaded with one query, which is also what checks that the
    user still exists and is active, and that the token was issued after their last
    "log out everywhere" (``tokens_valid_after``); each failure is a 401.

    A view may read its object in that same query (one round trip less): its ``load_caller(user_id)``
    answers the caller's rows as ``CALLER.objects`` would (``[]``: no such user), having kept the object
    its path names for itself, or None where it doesn't, and then the user is read alone.
    """

    _view = None

    def authenticate(self, request):
        self._view = (getattr(request, "parser_context", None) or {}).get("view")
        return super().authenticate(request)

    def get_raw_token(self, header: bytes):
        # The scheme name is case-insensitive (RFC 9110): "bearer" and "BEARER" are "Bearer".
        parts = header.split()
        if parts and parts[0].lower() == b"bearer":
            parts[0] = b"Bearer"
        return super().get_raw_token(b" ".join(parts))

    def get_user(self, validated_token):
        user_id = token_user_id(validated_token)
        if user_id is None:
            # Only a token signed with our key gets here, but it must still never become a 500.
            raise AuthenticationFailed(_("Token contained no recognizable user identification"), code="token_not_valid")
        load_caller = getattr(self._view, "load_caller", None)
        users = load_caller(user_id) if load_caller is not None else None
        if users is None:
            users = CALLER.objects(user_id)
        if not users:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        user = users[0]
        if not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        if issued_before_revocation(user, validated_token):
            raise AuthenticationFailed(_("Token has been revoked"), code="token_revoked")
        return user
