from rest_framework_simplejwt.authentication import JWTAuthentication as _SimpleJWTAuthentication


class JWTAuthentication(_SimpleJWTAuthentication):
    """Bearer JWT authentication for the API."""
