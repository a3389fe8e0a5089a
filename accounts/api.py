"""The API's user endpoints: the caller's profile, users (admin), a user's own results."""

from django.db.models import F
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import user_services
from accounts.models import User, normalize_email
from accounts.serializers import (
    StudentResultSerializer,
    UserCreateSerializer,
    UserSerializer,
    UserUpdateSerializer,
    social_data,
    user_data,
)
from courses import policy
from grading.models import TestResult, percent_of
from gradingsite.api.permissions import IsAdmin
from gradingsite.errors import Invalid, NotAllowed

USER_ROW_FIELDS = ("id", "email", "first_name", "last_name", "social", "is_superuser")


def _user_row(row: dict) -> dict:
    return {
        "id": row["id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "social": social_data(row["social"]),
        "is_admin": row["is_superuser"],
    }


def target_user(request, pk) -> User:
    """The user named in the path, when the caller is that user or an admin (404 unknown, 403 other)."""
    if int(pk) == request.user.pk:
        return request.user
    user = get_object_or_404(User, pk=pk)
    if not policy.can_act_on_user(request.user, user):
        raise NotAllowed("You may only act on your own account.")
    return user


class ProfileView(generics.GenericAPIView):
    """The caller's own user record."""

    serializer_class = UserSerializer
    pagination_class = None
    schema_forbidden = False

    @extend_schema(operation_id="profile_retrieve", responses=UserSerializer)
    def get(self, request):
        return Response(user_data(request.user))


class UserFilter(filters.FilterSet):
    email = filters.CharFilter(method="filter_email", help_text="Exact email address (case-insensitive).")

    class Meta:
        model = User
        fields = ["email"]

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=normalize_email(value))


class UserListView(generics.GenericAPIView):
    """All users (admins only): list and create."""

    permission_classes = [IsAuthenticated, IsAdmin]
    serializer_class = UserSerializer
    queryset = User.objects.all()
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = UserFilter
    search_fields = ["email", "first_name", "last_name"]
    ordering_fields = ["id", "email", "first_name", "last_name"]
    ordering = ["id"]
    schema_errors = {"POST": ["409"]}

    @extend_schema(operation_id="users_list", responses=UserSerializer(many=True))
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset()).values(*USER_ROW_FIELDS)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([_user_row(row) for row in page])

    @extend_schema(operation_id="users_create", request=UserCreateSerializer, responses={201: UserSerializer})
    def post(self, request):
        serializer = UserCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = user_services.user_create(**serializer.validated_data)
        return Response(user_data(user), status=status.HTTP_201_CREATED)


class UserDetailView(generics.GenericAPIView):
    """One user: the user themself or an admin reads, changes and deletes it."""

    serializer_class = UserSerializer
    pagination_class = None
    schema_errors = {"PUT": ["409"], "PATCH": ["409"]}

    @extend_schema(operation_id="users_retrieve", responses=UserSerializer)
    def get(self, request, pk):
        return Response(user_data(target_user(request, pk)))

    @extend_schema(operation_id="users_update", request=UserUpdateSerializer, responses=UserSerializer)
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="users_partial_update", request=UserUpdateSerializer, responses=UserSerializer)
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(operation_id="users_destroy", responses={204: None})
    def delete(self, request, pk):
        user_services.user_delete(user=target_user(request, pk), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk, *, partial):
        user = target_user(request, pk)
        serializer = UserUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = serializer.validated_data
        if not policy.can_change_account_flags(request.user):
            errors = {}
            if "email" in changes and normalize_email(changes["email"]) != user.email:
                errors["email"] = ["Only an admin may change the email address."]
            if "is_admin" in changes and changes["is_admin"] != user.is_superuser:
                errors["is_admin"] = ["Only an admin may change is_admin."]
            if errors:
                raise Invalid(errors)
        user = user_services.user_update(user=user, **changes)
        return Response(user_data(user))


class UserTestResultsView(generics.GenericAPIView):
    """A user's results as a student, each with its test's name and its course.

    The student themself doesn't see results of tests whose results are not published; an admin
    sees them all. Rows are read with ``values()`` in one query (plus the page count).
    """

    serializer_class = StudentResultSerializer
    filter_backends = [OrderingFilter]
    ordering_fields = ["id", "score", "created_at", "updated_at", "test_name", "test_date"]
    ordering = ["test_date", "id"]

    def get_queryset(self):
        return TestResult.objects.none()

    @extend_schema(operation_id="users_test_results_list", responses=StudentResultSerializer(many=True))
    def get(self, request, pk):
        student = target_user(request, pk)
        queryset = TestResult.objects.filter(student_id=student.pk)
        if not policy.sees_unpublished_results(request.user, student):
            queryset = queryset.filter(test__results_published=True)
        queryset = queryset.annotate(
            test_name=F("test__name"),
            test_date=F("test__date"),
            max_score=F("test__max_score"),
            course_id=F("test__course_id"),
            course_name=F("test__course__name"),
        ).values(
            "id",
            "test_id",
            "student_id",
            "grader_id",
            "score",
            "created_at",
            "updated_at",
            "test_name",
            "test_date",
            "max_score",
            "course_id",
            "course_name",
        )
        page = self.paginate_queryset(self.filter_queryset(queryset))
        return self.get_paginated_response(
            [
                {
                    "id": row["id"],
                    "test": row["test_id"],
                    "student": row["student_id"],
                    "grader": row["grader_id"],
                    "score": row["score"],
                    "percent": percent_of(row["score"], row["max_score"]),
                    "created_at": row["created_at"],
                    "updated_at": row["updated_at"],
                    "test_name": row["test_name"],
                    "course": {"id": row["course_id"], "name": row["course_name"]},
                }
                for row in page
            ]
        )
