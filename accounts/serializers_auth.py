"""Request and response bodies of the /api/auth/ endpoints."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gradingsite.api.serializers import StrictInputMixin

JWT_PATTERN = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$"


@extend_schema_field({"type": "string", "pattern": r"^[0-9]{8}$", "example": "04815162"})
class CodeField(serializers.CharField):
    """The emailed code. Anything that isn't the live code is a 401, whatever its shape."""


@extend_schema_field({"type": "string", "pattern": JWT_PATTERN})
class TokenField(serializers.CharField):
    """A JWT as issued; whitespace is kept, so a mangled token reads as invalid (401), not blank."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)


class LoginSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class AuthenticateSerializer(StrictInputMixin, serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    code = CodeField(max_length=32, help_text="The 8-digit code from the email.")


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["Bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class RefreshSerializer(StrictInputMixin, serializers.Serializer):
    refresh = TokenField()


class TokenRefreshSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class LogoutSerializer(StrictInputMixin, serializers.Serializer):
    refresh = TokenField()
