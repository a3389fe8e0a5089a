"""The /api/auth/ endpoints: sign in by emailed code, refresh, log out.

``login``, ``authenticate`` and ``refresh`` are open (and ignore any Authorization header, so a
stale token never blocks signing in again); ``logout`` and ``logout-all`` need a valid access token.
"""

from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import codes, ratelimit, tokens
from accounts.serializers_auth import (
    AuthenticateSerializer,
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    TokenRefreshSerializer,
)
from gradingsite.api.schema import DetailSerializer
from gradingsite.errors import NotAllowed

_DETAIL = OpenApiResponse(DetailSerializer)
LOGIN_SENT = "If the address can sign in, a sign-in code is on its way to it. It works for 10 minutes."
WRONG_CODE = "The code is wrong, expired or already used. Ask for a new one."


def _throttled(exc: ratelimit.LimitExceeded) -> exceptions.Throttled:
    # DRF's handler turns ``wait`` into the Retry-After header.
    return exceptions.Throttled(wait=exc.wait, detail="Too many sign-in requests.")


class _OpenAuthView(APIView):
    authentication_classes = ()
    permission_classes = (AllowAny,)

    def get_authenticate_header(self, request):
        # Without an authentication class DRF would turn a 401 into a 403.
        return 'Bearer realm="api"'


class LoginView(_OpenAuthView):
    @extend_schema(
        tags=["auth"],
        summary="Email a one-time sign-in code (creates the user if new)",
        request=LoginSerializer,
        responses={200: _DETAIL, 429: _DETAIL, 503: _DETAIL},
        auth=[],
    )
    def post(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            codes.request_login_code(email=body.validated_data["email"], ip=ratelimit.client_ip(request))
        except ratelimit.LimitExceeded as exc:
            raise _throttled(exc) from None
        return Response({"detail": LOGIN_SENT})


class AuthenticateView(_OpenAuthView):
    @extend_schema(
        tags=["auth"],
        summary="Trade an emailed code for tokens",
        description="The access token is also sent in the `Authorization: Bearer …` response header.",
        request=AuthenticateSerializer,
        responses={200: TokenPairSerializer, 401: _DETAIL, 429: _DETAIL},
        auth=[],
    )
    def post(self, request):
        body = AuthenticateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            user = authenticate(request, email=body.validated_data["email"], code=body.validated_data["code"])
        except ratelimit.LimitExceeded as exc:
            raise _throttled(exc) from None
        if user is None:
            raise exceptions.AuthenticationFailed(WRONG_CODE)
        pair = tokens.issue_tokens(user)
        return Response(pair, headers={"Authorization": f"Bearer {pair['access']}"})


class RefreshView(_OpenAuthView):
    @extend_schema(
        tags=["auth"],
        summary="Trade a refresh token for a new pair (the old one stops working)",
        request=RefreshSerializer,
        responses={200: TokenRefreshSerializer, 401: _DETAIL},
        auth=[],
    )
    def post(self, request):
        body = RefreshSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            pair = tokens.rotate(body.validated_data["refresh"])
        except tokens.TokenRefused as exc:
            raise exceptions.AuthenticationFailed(str(exc), code="token_not_valid") from None
        return Response(
            {"access": pair["access"], "refresh": pair["refresh"]},
            headers={"Authorization": f"Bearer {pair['access']}"},
        )


class LogoutView(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        tags=["auth"],
        summary="Revoke one of the caller's refresh tokens",
        request=LogoutSerializer,
        responses={204: None},
    )
    def post(self, request):
        body = LogoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            tokens.revoke(body.validated_data["refresh"], user=request.user)
        except tokens.TokenRefused as exc:
            raise exceptions.ValidationError({"refresh": [str(exc)]}) from None
        except PermissionError as exc:
            raise NotAllowed(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)


class LogoutAllView(APIView):
    permission_classes = (IsAuthenticated,)
    schema_forbidden = False  # any signed-in user may log themself out

    @extend_schema(
        tags=["auth"],
        summary="Revoke every token of the caller, access tokens included",
        request=None,
        responses={204: None},
    )
    def post(self, request):
        tokens.revoke_all(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
