"""The API's people: sign-in (``/api/auth/``), the caller's profile, and users.

``login``, ``authenticate`` and ``refresh`` are open (and ignore any Authorization header, so a
stale token never blocks signing in again); ``logout`` and ``logout-all`` need a valid access token.
Users are listed and created by admins; a user's own record is read, changed and deleted by the
user themself or an admin.
"""

from django.contrib.auth import authenticate
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from accounts import codes, policy, ratelimit, tokens, user_services
from accounts.models import User, normalize_email
from accounts.serializers import USER, UserCreateSerializer, UserSerializer, UserUpdateSerializer, user_data
from accounts.serializers_auth import (
    AuthenticateSerializer,
    LoginSerializer,
    LogoutSerializer,
    RefreshSerializer,
    TokenPairSerializer,
    TokenRefreshSerializer,
)
from gradingsite.api import idempotency, preconditions
from gradingsite.api.filters import SearchFilter
from gradingsite.api.permissions import Rule
from gradingsite.api.schema import DetailSerializer
from gradingsite.api.viewsets import ApiViewSet, VersionedWrites, path_id
from gradingsite.errors import NotAllowed

_DETAIL = OpenApiResponse(DetailSerializer)
LOGIN_SENT = "If the address can sign in, a sign-in code is on its way to it. It works for 10 minutes."
WRONG_CODE = "The code is wrong, expired or already used. Ask for a new one."
WWW_AUTHENTICATE = 'Bearer realm="api"'
NOT_YOURS = "You may only act on your own account."


def _throttled(exc: ratelimit.LimitExceeded) -> exceptions.Throttled:
    # DRF's handler turns ``wait`` into the Retry-After header.
    return exceptions.Throttled(wait=exc.wait, detail="Too many sign-in requests.")


_OPEN = {"authentication_classes": (), "permission_classes": (AllowAny,)}


class AuthViewSet(idempotency.IdempotentWrites, viewsets.ViewSet):
    """Sign in by emailed code, refresh, log out."""

    schema_forbidden = True

    def get_authenticate_header(self, request):
        # Without an authentication class (the open actions) DRF would turn a 401 into a 403.
        return WWW_AUTHENTICATE

    @extend_schema(
        summary="Email a one-time sign-in code (creates the user if new)",
        request=LoginSerializer,
        responses={200: _DETAIL, 429: _DETAIL, 503: _DETAIL},
        auth=[],
    )
    @action(detail=False, methods=["post"], **_OPEN)
    def login(self, request):
        body = LoginSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            codes.request_login_code(email=body.validated_data["email"], ip=ratelimit.client_ip(request))
        except ratelimit.LimitExceeded as exc:
            raise _throttled(exc) from None
        return Response({"detail": LOGIN_SENT})

    @extend_schema(
        summary="Trade an emailed code for tokens",
        description="The access token is also sent in the `Authorization: Bearer …` response header.",
        request=AuthenticateSerializer,
        responses={200: TokenPairSerializer, 401: _DETAIL, 429: _DETAIL},
        auth=[],
    )
    @action(detail=False, methods=["post"], **_OPEN)
    def authenticate(self, request):
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

    @extend_schema(
        summary="Trade a refresh token for a new pair (the old one stops working)",
        request=RefreshSerializer,
        responses={200: TokenRefreshSerializer, 401: _DETAIL},
        auth=[],
    )
    @action(detail=False, methods=["post"], **_OPEN)
    def refresh(self, request):
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

    @extend_schema(
        summary="Revoke one of the caller's refresh tokens",
        request=LogoutSerializer,
        responses={204: None},
    )
    @action(detail=False, methods=["post"], permission_classes=(IsAuthenticated,))
    def logout(self, request):
        body = LogoutSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            tokens.revoke(body.validated_data["refresh"], user=request.user)
        except tokens.TokenRefused as exc:
            raise exceptions.ValidationError({"refresh": [str(exc)]}) from None
        except PermissionError as exc:
            raise NotAllowed(str(exc)) from None
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Revoke every token of the caller, access tokens included",
        request=None,
        responses={204: None},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="logout-all",
        permission_classes=(IsAuthenticated,),
        schema_forbidden=False,  # any signed-in user may log themself out
    )
    def logout_all(self, request):
        tokens.revoke_all(request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProfileViewSet(viewsets.GenericViewSet):
    """The caller's own user record."""

    serializer_class = UserSerializer
    schema_forbidden = False
    rule = Rule(read=policy.is_signed_in)

    def finalize_response(self, request, response, *args, **kwargs):
        return super().finalize_response(request, preconditions.with_etag(request, response), *args, **kwargs)

    def retrieve(self, request):
        """The caller's own user record."""
        return Response(user_data(request.user))


def user_in_path(request, pk) -> User:
    """The user named in the path, whoever the caller (404 unknown); the view checks its rule next
    (``check_object_permissions``)."""
    pk = path_id(pk)
    if pk == request.user.pk:
        return request.user
    user = User.objects.filter(pk=pk).first()
    if user is None:
        raise exceptions.NotFound
    return user


class UserFilter(filters.FilterSet):
    email = filters.CharFilter(method="filter_email", help_text="Exact email address (case-insensitive).")

    class Meta:
        model = User
        fields = ["email"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=normalize_email(value))


class UserViewSet(VersionedWrites, ApiViewSet):
    """Users: admins list and create them; a user themself or an admin reads, changes and deletes one."""

    serializer_class = UserSerializer
    queryset = User.objects.all()
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = UserFilter
    search_fields = ["email", "first_name", "last_name"]
    ordering_fields = ["id", "email", "first_name", "last_name"]
    ordering = ["id"]
    schema_errors = {"POST": ["409"], "PUT": ["409"], "PATCH": ["409"]}

    rule = {
        ("list", "create"): Rule(read=policy.can_list_users, write=policy.can_create_users),
        ("retrieve", "update", "partial_update", "destroy"): Rule(
            read=policy.can_act_on_user, write=policy.can_act_on_user, message=NOT_YOURS
        ),
    }

    def get_object(self):
        user = user_in_path(self.request, self.kwargs["pk"])
        self.check_object_permissions(self.request, user)
        self.check_version(user)
        return user

    def representation(self, pk: int) -> dict:
        return user_data(User.objects.get(pk=pk))

    def list(self, request):
        """All users (admins only): list and create."""
        queryset = self.filter_queryset(self.get_queryset()).values_list(*USER.columns)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(USER.rows(page))

    @extend_schema(request=UserCreateSerializer)
    def create(self, request):
        """All users (admins only): list and create."""
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_services.user_create(**serializer.validated_data)
        return Response(user_data(user), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk):
        """One user: the user themself or an admin reads, changes and deletes it."""
        return Response(user_data(self.get_object()))

    @extend_schema(request=UserUpdateSerializer)
    def update(self, request, pk, partial=False):
        """One user: the user themself or an admin reads, changes and deletes it."""
        user = self.get_object()
        serializer = UserUpdateSerializer(
            data=request.data, partial=partial, context={"actor": request.user, "user": user}
        )
        serializer.is_valid(raise_exception=True)
        user = user_services.user_update(user=user, **serializer.validated_data)
        return Response(user_data(user))

    @extend_schema(request=UserUpdateSerializer)
    def partial_update(self, request, pk):
        """One user: the user themself or an admin reads, changes and deletes it."""
        return self.update(request, pk, partial=True)

    def destroy(self, request, pk):
        """One user: the user themself or an admin reads, changes and deletes it."""
        user_services.user_delete(user=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
