"""Issuing JWTs: the one place tokens are minted for a user."""

from rest_framework_simplejwt.tokens import RefreshToken


def issue_tokens(user) -> dict:
    """A fresh access and refresh token pair for ``user``."""
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    return {
        "access": str(access),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(access.lifetime.total_seconds()),
    }
