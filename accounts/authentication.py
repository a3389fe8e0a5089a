from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed

from accounts.tokens import issued_before_revocation, token_user_id


class JWTAuthentication(_SimpleJWTAuthentication):
    """Bearer JWT authentication for the API.

    Only access tokens are accepted (simplejwt checks the type, signature, algorithm, expiry,
    issuer and audience). The user is loaded with one query, which is also what checks that the
    user still exists and is active, and that the token was issued after their last
    "log out everywhere" (``tokens_valid_after``); each failure is a 401.
    """

    def get_raw_token(self, header: bytes):
        # The scheme name is case-insensitive (RFC 9110): "bearer" and "BEARER" are "Bearer".
        parts = header.split()
        if parts and parts[0].lower() == b"bearer":
            parts[0] = b"Bearer"
        return super().get_raw_token(b" ".join(parts))

    def get_user(self, validated_token):
        if token_user_id(validated_token) is None:
            # Only a token signed with our key gets here, but it must still never become a 500.
            raise AuthenticationFailed(_("Token contained no recognizable user identification"), code="token_not_valid")
        user = super().get_user(validated_token)
        if issued_before_revocation(user, validated_token):
            raise AuthenticationFailed(_("Token has been revoked"), code="token_revoked")
        return user
