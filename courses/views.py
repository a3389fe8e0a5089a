"""The API's course endpoints: courses and their members, feedback, a user's enrollments.

Viewsets are thin: they name their rules from the policy (``rule``, applied by
``gradingsite.api.permissions.PolicyPermission``), validate with a serializer, call a service and
build the representation from ``values()`` rows in a fixed number of queries.
"""

from django.db import connection
from django.db.models import F, FilteredRelation, OuterRef, Q
from django.utils.functional import cached_property
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from accounts.models import User
from accounts.serializers import USER_SUMMARY
from accounts.views import NOT_YOURS, user_in_path
from courses import policy, services
from courses.embeds import embeds
from courses.filters import CourseFilter, EnrollmentFilter, FeedbackFilter
from courses.models import Course, Enrollment, Feedback, Role
from courses.serializers import (
    ENROLLMENT,
    FEEDBACK,
    USER_ENROLLMENT,
    CourseInputSerializer,
    CourseSerializer,
    EnrollmentSerializer,
    FeedbackInputSerializer,
    FeedbackSerializer,
    MemberInputSerializer,
    UserEnrollmentInputSerializer,
    UserEnrollmentSerializer,
)
from gradingsite.api.filters import SearchFilter
from gradingsite.api.permissions import Rule
from gradingsite.api.serializers import query_flag
from gradingsite.api.viewsets import ApiViewSet, VersionedWrites, get_or_404, path_id
from gradingsite.sql import JSONList, JSONObject, fetch, fragment

# ``CourseSerializer``'s keys that are the course's own columns, in its order.
_COURSE_COLUMNS = tuple(
    key
    for key in CourseSerializer().fields
    if any(field.concrete and field.attname == key for field in Course._meta.get_fields())
)
# Model fields first, then annotations: the order values() gives its columns in. The lists other
# apps embed (``courses.embeds``) are registered by their apps' ready(), before this module is read.
COURSE_FIELDS = (
    *_COURSE_COLUMNS,
    "my_role",
    "teachers_json",
    *(embed.column for embed in embeds.values()),
)

FORCE_PARAMETER = OpenApiParameter(
    "force", bool, description="Delete even when results are recorded in the course (they are deleted too)."
)


# A teacher as a course shows them: ``UserSummarySerializer``'s keys, each with its column of the user.
_TEACHER_COLUMNS = dict(zip(USER_SUMMARY.keys, USER_SUMMARY.columns, strict=True))


def courses_for(user):
    """Every course with all its representation needs, in one statement: the caller's role in it
    (``my_role``), and as JSON written by the database its teachers (``teachers_json``) and the
    lists the apps above embed (``courses.embeds``: ``tests_json``).

    Teachers in the order they were enrolled. The caller's role is a join (their enrollment, if
    any), so an embedded list reads it as a column of the course's row.
    """
    teachers = (
        Enrollment.objects.filter(course_id=OuterRef("pk"), role=Role.TEACHER)
        .order_by("id")
        .values(json=JSONObject(**{key: f"user__{column}" for key, column in _TEACHER_COLUMNS.items()}))
    )
    mine = FilteredRelation("enrollments", condition=Q(enrollments__user_id=user.pk))
    return Course.objects.annotate(mine=mine, my_role=F("mine__role")).annotate(
        teachers_json=JSONList(teachers), **{embed.column: JSONList(embed.rows(user)) for embed in embeds.values()}
    )


def _course_keys() -> tuple[tuple[str, str, bool], ...]:
    """``CourseSerializer``'s keys, in its order, as ``course_data`` reads them from a course's row:
    each with its column and whether it is a list the database wrote as JSON text (its teachers and
    the embedded lists, ``{key}_json``), put in the response as it is."""
    json_columns = {"teachers_json", *(embed.column for embed in embeds.values())}
    keys = []
    for key in CourseSerializer().fields:
        column = f"{key}_json" if f"{key}_json" in json_columns else key
        keys.append((key, column, column in json_columns))
    if missing := json_columns - {column for _, column, _ in keys}:
        raise TypeError(f"CourseSerializer doesn't declare the lists {sorted(missing)}")
    if unread := {column for _, column, _ in keys} - {*COURSE_FIELDS}:
        raise TypeError(f"A course's row has no columns {sorted(unread)}")
    return tuple(keys)


# ``course_data``'s body: one dict display (no per-key loop), built from the keys above, which
# ``CourseSerializer`` declares, never from input.
_COURSE_DISPLAY = ", ".join(
    f"{key!r}: fragment(row[{column!r}])" if is_json else f"{key!r}: row[{column!r}]"
    for key, column, is_json in _course_keys()
)
_build_course_data = eval(f"lambda row: {{{_COURSE_DISPLAY}}}", {"fragment": fragment})  # noqa: S307


def course_data(row: dict) -> dict:
    """A course's representation from a ``courses_for(...).values(*COURSE_FIELDS)`` row: the keys
    ``CourseSerializer`` declares, in its order."""
    return _build_course_data(row)


def _json_list(rows: str) -> str:
    """The rows of ``rows`` (SQL text selecting a column ``json``) as ``JSONList`` writes them."""
    return f"""COALESCE((SELECT json_agg(rows.json)::text FROM (
        {rows}
    ) rows), '[]')"""  # noqa: S608


def _course_page_sql(admin: bool) -> str:
    """``courses_for(user).filter(pk=pk).values(*COURSE_FIELDS)`` written as SQL text, parameters
    ``user`` and ``pk``: the same columns, teachers and embedded lists (the tests compare the two)."""
    q = connection.ops.quote_name
    course, enrollment, user_table = q(Course._meta.db_table), q(Enrollment._meta.db_table), q(User._meta.db_table)
    caller = User(is_superuser=admin)
    teacher = Role.TEACHER.value
    summary = ", ".join(f"'{key}', u.{column}" for key, column in _TEACHER_COLUMNS.items())
    teachers = f"""SELECT json_build_object({summary}) AS json
        FROM {enrollment} e JOIN {user_table} u ON u.id = e.user_id
        WHERE e.course_id = c.id AND e.role = '{teacher}' ORDER BY e.id"""  # noqa: S608
    lists = ",\n    ".join(
        _json_list(rows)
        for rows in [teachers, *(e.rows_sql(caller, course="c.id", role="mine.role") for e in embeds.values())]
    )
    # Only table names, the embedded lists' SQL and fixed fragments are formatted in; values are parameters.
    return f"""
SELECT {", ".join(f"c.{column}" for column in _COURSE_COLUMNS)}, mine.role,
    {lists}
FROM {course} c LEFT JOIN {enrollment} mine ON mine.course_id = c.id AND mine.user_id = %(user)s
WHERE c.id = %(pk)s"""  # noqa: S608


# The most requested read, written once as SQL. What an admin sees differs in its SQL (every
# results version), so admins have their own.
_COURSE_PAGE = {admin: _course_page_sql(admin) for admin in (False, True)}
_GRADING_SCHEME = Course._meta.get_field("grading_scheme")
_LATE_POLICY = Course._meta.get_field("late_policy")


def course_detail(user, pk: int) -> dict:
    """One course's representation: one query."""
    # Prepared: planning its correlated subqueries cost twice what running them does.
    rows = fetch(_COURSE_PAGE[policy.is_admin(user)], {"user": user.pk, "pk": pk}, prepare=True)
    if not rows:
        raise Course.DoesNotExist
    row = dict(zip(COURSE_FIELDS, rows[0], strict=True))
    row["grading_scheme"] = _GRADING_SCHEME.from_db_value(row["grading_scheme"], None, connection)
    row["late_policy"] = _LATE_POLICY.from_db_value(row["late_policy"], None, connection)
    return course_data(row)


class CourseViewSet(VersionedWrites, ApiViewSet):
    """Courses: any signed-in user lists and reads them and creates one (becoming its teacher); its
    teachers and admins change or delete it and manage its members."""

    serializer_class = CourseSerializer
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = CourseFilter
    search_fields = ["name", "details"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ["id"]
    schema_forbidden = ("PUT", "PATCH", "DELETE")
    schema_errors = {"DELETE": ["409"]}
    rule = {
        ("list", "create"): Rule(read=policy.is_signed_in, write=policy.is_signed_in),
        # Reading one needs no check of the course: any signed-in user may (retrieve loads none).
        ("retrieve", "update", "partial_update", "destroy"): Rule(
            read=policy.is_signed_in, write=policy.can_manage_course
        ),
    }

    def get_queryset(self):
        if self.action in ("members", "enroll"):  # the course's enrollments
            return Enrollment.objects.annotate(
                email=F("user__email"), first_name=F("user__first_name"), last_name=F("user__last_name")
            )
        return courses_for(self.request.user)

    def get_object(self):
        course = get_or_404(Course.objects.all(), self.kwargs["pk"])
        self.check_object_permissions(self.request, course)
        return course

    def representation(self, pk: int) -> dict:
        return course_detail(self.request.user, pk)

    def list(self, request):
        """Every course (any signed-in user), and creating one: its creator becomes its teacher."""
        queryset = self.filter_queryset(self.get_queryset()).values(*COURSE_FIELDS)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response([course_data(row) for row in page])

    @extend_schema(request=CourseInputSerializer)
    def create(self, request):
        """Every course (any signed-in user), and creating one: its creator becomes its teacher."""
        serializer = CourseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = services.course_create(by=request.user, **serializer.validated_data)
        return Response(course_detail(request.user, course.pk), status=status.HTTP_201_CREATED)

    def retrieve(self, request, pk):
        """A course with its teachers and tests; its teachers and admins change or delete it."""
        try:
            return Response(course_detail(request.user, path_id(pk)))
        except Course.DoesNotExist:
            raise NotFound from None

    @extend_schema(request=CourseInputSerializer)
    def update(self, request, pk, partial=False):
        """A course with its teachers and tests; its teachers and admins change or delete it."""
        course = self.get_object()
        self.check_version(course)
        serializer = CourseInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.course_update(course=course, by=request.user, **serializer.validated_data)
        return Response(course_detail(request.user, course.pk))

    @extend_schema(request=CourseInputSerializer)
    def partial_update(self, request, pk):
        """A course with its teachers and tests; its teachers and admins change or delete it."""
        return self.update(request, pk, partial=True)

    @extend_schema(parameters=[FORCE_PARAMETER])
    def destroy(self, request, pk):
        """A course with its teachers and tests; its teachers and admins change or delete it."""
        course = self.get_object()
        self.check_version(course)
        services.course_delete(course=course, force=query_flag(request, "force"), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=EnrollmentSerializer(many=True))
    @action(
        detail=True,
        serializer_class=EnrollmentSerializer,
        filter_backends=[filters.DjangoFilterBackend, OrderingFilter],
        filterset_class=EnrollmentFilter,
        ordering_fields=["id", "created_at", "role", "email", "first_name", "last_name"],
        ordering=["id"],
        schema_forbidden=True,
        schema_errors={"POST": ["409"]},
        rule=Rule(read=policy.can_view_members, write=policy.can_manage_course),
    )
    def members(self, request, pk):
        """A course's enrollments (teachers and admins): list, and enroll a user by id or by email."""
        course = self.get_object()
        rows = self.filter_queryset(self.get_queryset().filter(course=course)).values_list(*ENROLLMENT.columns)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ENROLLMENT.rows(page))

    @extend_schema(request=MemberInputSerializer, responses={201: EnrollmentSerializer})
    @members.mapping.post
    def enroll(self, request, pk):
        """A course's enrollments (teachers and admins): list, and enroll a user by id or by email."""
        course = self.get_object()  # its teachers and admins enroll anyone in any role (rule E)
        serializer = MemberInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "user" in data:
            enrollment = services.enroll(user=data["user"], course=course, role=data["role"])
        else:
            enrollment = services.enroll_by_email(email=data["email"], course=course, role=data["role"])
        return Response(ENROLLMENT.of(enrollment), status=status.HTTP_201_CREATED)


class FeedbackViewSet(ApiViewSet):
    """Feedback on a course (``/api/courses/{id}/feedback/``): its teachers and admins read it all,
    a student their own; students leave it. ``pk`` in the path is the course's."""

    serializer_class = FeedbackSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = FeedbackFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]
    rule = {
        "list": Rule(read=policy.can_read_feedback),
        "create": Rule(write=policy.can_leave_feedback, message="Only the course's students leave feedback on it."),
    }
    rule_object = "course"

    def get_queryset(self):
        return Feedback.objects.all()

    @cached_property
    def course(self) -> Course:
        return get_or_404(policy.with_caller_role(Course.objects.all(), self.request.user, "pk"), self.kwargs["pk"])

    def list(self, request, pk):
        """Feedback on a course: its teachers and admins read it all, a student their own; students leave it."""
        scope = policy.feedback_scope(request.user, self.course)
        queryset = self.get_queryset().filter(course=self.course)
        if scope == "own":
            queryset = queryset.filter(student_id=request.user.pk)
        page = self.paginate_queryset(self.filter_queryset(queryset).values_list(*FEEDBACK.columns))
        return self.get_paginated_response(FEEDBACK.rows(page))

    @extend_schema(request=FeedbackInputSerializer)
    def create(self, request, pk):
        """Feedback on a course: its teachers and admins read it all, a student their own; students leave it."""
        course = self.course
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = services.feedback_create(course=course, student=request.user, **serializer.validated_data)
        return Response(FEEDBACK.of(feedback), status=status.HTTP_201_CREATED)


class UserEnrollmentViewSet(ApiViewSet):
    """A user's enrollments (``/api/users/{id}/courses/``): the user themself and admins read them;
    enrolling follows rule E; the user, a teacher of the course or an admin unenrolls."""

    serializer_class = UserEnrollmentSerializer
    queryset = Enrollment.objects.all()
    rule = {
        # Who may enroll the user in which course depends on the body: rule E, asked by the input
        # serializer (``UserEnrollmentInputSerializer``).
        ("enrollments", "enroll"): Rule(read=policy.can_act_on_user, write=policy.is_signed_in, message=NOT_YOURS),
        "unenroll": Rule(write=policy.can_unenroll),
    }

    def get_object(self):
        """The user the path names (404 unknown), once the action's rule allows the caller."""
        user = user_in_path(self.request, self.kwargs["pk"])
        self.check_object_permissions(self.request, user)
        return user

    @extend_schema(responses=UserEnrollmentSerializer(many=True))
    @action(
        detail=True,
        url_path="courses",
        url_name="courses",
        filter_backends=[filters.DjangoFilterBackend, OrderingFilter],
        filterset_class=EnrollmentFilter,
        ordering_fields=["id", "created_at", "role", "course_name"],
        ordering=["id"],
        schema_errors={"POST": ["409"]},
    )
    def enrollments(self, request, pk):
        """A user's enrollments (the user themself, admins), and enrolling them in a course (rule E)."""
        user = self.get_object()
        queryset = self.get_queryset().filter(user_id=user.pk).annotate(course_name=F("course__name"))
        page = self.paginate_queryset(self.filter_queryset(queryset).values_list(*USER_ENROLLMENT.columns))
        return self.get_paginated_response(USER_ENROLLMENT.rows(page))

    @extend_schema(
        request=UserEnrollmentInputSerializer,
        responses={201: EnrollmentSerializer},
    )
    @enrollments.mapping.post
    def enroll(self, request, pk):
        """A user's enrollments (the user themself, admins), and enrolling them in a course (rule E)."""
        user = self.get_object()
        serializer = UserEnrollmentInputSerializer(data=request.data, context={"actor": request.user, "user": user})
        serializer.is_valid(raise_exception=True)
        course, role = serializer.validated_data["course"], serializer.validated_data["role"]
        enrollment = services.enroll(user=user, course=course, role=role)
        return Response(ENROLLMENT.of(enrollment), status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None})
    @action(
        detail=True,
        methods=["delete"],
        url_path=r"courses/(?P<course_id>[^/]+)",
        url_name="course",
        serializer_class=None,
        schema_errors={"DELETE": ["409"]},
    )
    def unenroll(self, request, pk, course_id):
        """Unenroll a user from a course: the user themself, a teacher of the course, or an admin."""
        user = user_in_path(request, pk)
        course = get_or_404(Course.objects.all(), course_id)
        self.check_object_permissions(request, Enrollment(user=user, course=course))  # it may not exist
        enrollment = Enrollment.objects.filter(user=user, course=course).first()
        if enrollment is None:
            raise NotFound
        services.unenroll(enrollment=enrollment)
        return Response(status=status.HTTP_204_NO_CONTENT)
