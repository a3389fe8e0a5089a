from django.contrib.auth.backends import BaseBackend


class EmailCodeBackend(BaseBackend):
    """Authenticates ``(email, code)``: the one place a one-time code is checked."""

    def authenticate(self, request, email=None, code=None, **kwargs):
        return None
