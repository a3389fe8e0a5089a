"""The API's course endpoints: courses, their members, a user's enrollments, feedback.

Views are thin: they check the policy, validate with a serializer, call a service and build the
representation from ``values()`` rows in a fixed number of queries.
"""

from collections import defaultdict

from django.db import connection
from django.db.models import F, OuterRef, Subquery
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.response import Response

from accounts.api import target_user
from accounts.models import User
from courses import policy, services
from courses.filters import CourseFilter, EnrollmentFilter, FeedbackFilter
from courses.models import Course, Enrollment, Feedback, Role
from courses.serializers import (
    USER_PREFIXED,
    CourseInputSerializer,
    CourseSerializer,
    EnrollmentSerializer,
    FeedbackInputSerializer,
    FeedbackSerializer,
    MemberInputSerializer,
    UserEnrollmentInputSerializer,
    UserEnrollmentSerializer,
    enrollment_data,
    feedback_data,
    user_summary_from,
)
from grading.models import Test
from gradingsite.api.serializers import MAX_ID, query_flag
from gradingsite.errors import NotAllowed

COURSE_FIELDS = ("id", "name", "details", "my_role")
TEST_FIELDS = ("id", "course_id", "name", "date", "max_score", "results_published", "updated_at")
ENROLLMENT_FIELDS = ("course_id", "role", "created_at", *USER_PREFIXED)
FEEDBACK_FIELDS = ("id", "course_id", "student_id", "feedback", "created_at")

FORCE_PARAMETER = OpenApiParameter(
    "force", bool, description="Delete even when results are recorded in the course (they are deleted too)."
)


def courses_for(user):
    """Every course, with the caller's role in each as ``my_role``."""
    my_role = Enrollment.objects.filter(course_id=OuterRef("pk"), user_id=user.pk).values("role")[:1]
    return Course.objects.annotate(my_role=Subquery(my_role))


def course_data(rows: list[dict]) -> list[dict]:
    """Course representations for course rows: two queries, for the teachers and the tests, whatever the count."""
    ids = [row["id"] for row in rows]
    if not ids:
        return []
    teachers: dict[int, list] = defaultdict(list)
    for row in (
        Enrollment.objects.filter(course_id__in=ids, role=Role.TEACHER)
        .order_by("id")
        .values("course_id", *USER_PREFIXED)
    ):
        teachers[row["course_id"]].append(user_summary_from(row))
    tests: dict[int, list] = defaultdict(list)
    for row in Test.objects.filter(course_id__in=ids).order_by("date", "id").values(*TEST_FIELDS):
        row["course"] = row.pop("course_id")
        tests[row["course"]].append(row)
    return [
        {
            "id": row["id"],
            "name": row["name"],
            "details": row["details"],
            "teachers": teachers[row["id"]],
            "tests": tests[row["id"]],
            "my_role": row["my_role"],
        }
        for row in rows
    ]


def _course(pk) -> Course:
    return get_object_or_404(Course, pk=pk)


def _require(allowed: bool, message: str = "You do not have permission to perform this action.") -> None:
    if not allowed:
        raise NotAllowed(message)


class CourseListView(generics.GenericAPIView):
    """Every course (any signed-in user), and creating one: its creator becomes its teacher."""

    serializer_class = CourseSerializer
    filter_backends = [filters.DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_class = CourseFilter
    search_fields = ["name", "details"]
    ordering_fields = ["id", "name", "created_at", "updated_at"]
    ordering = ["id"]
    schema_forbidden = False

    def get_queryset(self):
        return courses_for(self.request.user)

    @extend_schema(operation_id="courses_list", responses=CourseSerializer(many=True))
    def get(self, request):
        queryset = self.filter_queryset(self.get_queryset()).values(*COURSE_FIELDS)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(course_data(list(page)))

    @extend_schema(operation_id="courses_create", request=CourseInputSerializer, responses={201: CourseSerializer})
    def post(self, request):
        serializer = CourseInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course = services.course_create(by=request.user, **serializer.validated_data)
        return Response(_course_detail(request.user, course.pk), status=status.HTTP_201_CREATED)


def _course_detail(user, pk) -> dict:
    """One course's representation: one query on PostgreSQL, three elsewhere (``course_data``)."""
    if connection.vendor == "postgresql":
        return _course_detail_postgresql(user, pk)
    rows = list(courses_for(user).filter(pk=pk).values(*COURSE_FIELDS))
    if not rows:
        raise Course.DoesNotExist
    return course_data(rows)[0]


# The course page is the most requested read: PostgreSQL builds its teachers and tests as JSON in
# the same statement as the course, in the same shapes, order and time format (microseconds only
# when there are some, "Z" for UTC) as ``course_data`` and the tests' own endpoint give.
_COURSE_DETAIL_SQL = """
SELECT c.id, c.name, c.details,
  (SELECT e.role FROM {enrollment} e WHERE e.course_id = c.id AND e.user_id = %(user)s LIMIT 1),
  COALESCE((
    SELECT json_agg(json_build_object(
      'id', u.id, 'email', u.email, 'first_name', u.first_name, 'last_name', u.last_name) ORDER BY e.id)
    FROM {enrollment} e JOIN {user} u ON u.id = e.user_id
    WHERE e.course_id = c.id AND e.role = %(teacher)s), '[]'::json),
  COALESCE((
    SELECT json_agg(json_build_object(
      'id', t.id, 'course', t.course_id, 'name', t.name, 'date', t.date, 'max_score', t.max_score,
      'results_published', t.results_published,
      'updated_at', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
        || CASE WHEN date_trunc('second', t.updated_at) = t.updated_at THEN ''
                ELSE to_char(t.updated_at AT TIME ZONE 'UTC', '.US') END || 'Z')
      ORDER BY t.date, t.id)
    FROM {test} t WHERE t.course_id = c.id), '[]'::json)
FROM {course} c WHERE c.id = %(course)s
"""


def _course_detail_postgresql(user, pk) -> dict:
    if not 1 <= int(pk) <= MAX_ID:
        raise Course.DoesNotExist
    sql = _COURSE_DETAIL_SQL.format(
        enrollment=Enrollment._meta.db_table,
        user=User._meta.db_table,
        test=Test._meta.db_table,
        course=Course._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"user": user.pk, "teacher": Role.TEACHER.value, "course": int(pk)})
        row = cursor.fetchone()
    if row is None:
        raise Course.DoesNotExist
    course_id, name, details, my_role, teachers, tests = row
    return {"id": course_id, "name": name, "details": details, "teachers": teachers, "tests": tests, "my_role": my_role}


class CourseDetailView(generics.GenericAPIView):
    """A course with its teachers and tests; its teachers and admins change or delete it."""

    serializer_class = CourseSerializer
    pagination_class = None
    schema_forbidden = ("PUT", "PATCH", "DELETE")
    schema_errors = {"DELETE": ["409"]}

    def get_queryset(self):
        return Course.objects.all()

    @extend_schema(operation_id="courses_retrieve", responses=CourseSerializer)
    def get(self, request, pk):
        try:
            return Response(_course_detail(request.user, pk))
        except Course.DoesNotExist:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)

    @extend_schema(operation_id="courses_update", request=CourseInputSerializer, responses=CourseSerializer)
    def put(self, request, pk):
        return self._update(request, pk, partial=False)

    @extend_schema(operation_id="courses_partial_update", request=CourseInputSerializer, responses=CourseSerializer)
    def patch(self, request, pk):
        return self._update(request, pk, partial=True)

    @extend_schema(operation_id="courses_destroy", parameters=[FORCE_PARAMETER], responses={204: None})
    def delete(self, request, pk):
        course = _course(pk)
        _require(policy.can_manage_course(request.user, course))
        services.course_delete(course=course, force=query_flag(request, "force"), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _update(self, request, pk, *, partial):
        course = _course(pk)
        _require(policy.can_manage_course(request.user, course))
        serializer = CourseInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        services.course_update(course=course, **serializer.validated_data)
        return Response(_course_detail(request.user, course.pk))


class CourseMembersView(generics.GenericAPIView):
    """A course's enrollments (teachers and admins): list, and enroll a user by id or by email."""

    serializer_class = EnrollmentSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = EnrollmentFilter
    ordering_fields = ["id", "created_at", "role", "email", "first_name", "last_name"]
    ordering = ["id"]
    schema_errors = {"POST": ["409"]}

    def get_queryset(self):
        return Enrollment.objects.all()

    @extend_schema(operation_id="courses_members_list", responses=EnrollmentSerializer(many=True))
    def get(self, request, pk):
        course = _course(pk)
        _require(policy.can_view_members(request.user, course))
        queryset = (
            self.get_queryset()
            .filter(course=course)
            .annotate(email=F("user__email"), first_name=F("user__first_name"), last_name=F("user__last_name"))
        )
        rows = self.filter_queryset(queryset).values(*ENROLLMENT_FIELDS)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response([enrollment_data(row) for row in page])

    @extend_schema(
        operation_id="courses_members_create", request=MemberInputSerializer, responses={201: EnrollmentSerializer}
    )
    def post(self, request, pk):
        course = _course(pk)
        _require(policy.can_manage_course(request.user, course))
        serializer = MemberInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if "user" in data:
            _require(policy.can_enroll(request.user, data["user"], course, data["role"]))
            enrollment = services.enroll(user=data["user"], course=course, role=data["role"])
        else:
            enrollment = services.enroll_by_email(email=data["email"], course=course, role=data["role"])
        return Response(_enrollment_out(enrollment), status=status.HTTP_201_CREATED)


def _enrollment_out(enrollment: Enrollment) -> dict:
    user = enrollment.user
    return {
        "user": {"id": user.pk, "email": user.email, "first_name": user.first_name, "last_name": user.last_name},
        "course": enrollment.course_id,
        "role": enrollment.role,
        "created_at": enrollment.created_at,
    }


class UserCoursesView(generics.GenericAPIView):
    """A user's enrollments (the user themself, admins), and enrolling them in a course (rule E)."""

    serializer_class = UserEnrollmentSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = EnrollmentFilter
    ordering_fields = ["id", "created_at", "role", "course_name"]
    ordering = ["id"]
    schema_errors = {"POST": ["409"]}

    def get_queryset(self):
        return Enrollment.objects.all()

    @extend_schema(operation_id="users_courses_list", responses=UserEnrollmentSerializer(many=True))
    def get(self, request, pk):
        user = target_user(request, pk)
        queryset = self.get_queryset().filter(user_id=user.pk).annotate(course_name=F("course__name"))
        rows = self.filter_queryset(queryset).values(
            "role", "created_at", "course_id", "course_name", "course__details", *USER_PREFIXED
        )
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(
            [
                {
                    "user": user_summary_from(row),
                    "course": {"id": row["course_id"], "name": row["course_name"], "details": row["course__details"]},
                    "role": row["role"],
                    "created_at": row["created_at"],
                }
                for row in page
            ]
        )

    @extend_schema(
        operation_id="users_courses_create",
        request=UserEnrollmentInputSerializer,
        responses={201: EnrollmentSerializer},
    )
    def post(self, request, pk):
        user = request.user if int(pk) == request.user.pk else get_object_or_404(User, pk=pk)
        serializer = UserEnrollmentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        course, role = serializer.validated_data["course"], serializer.validated_data["role"]
        _require(
            policy.can_enroll(request.user, user, course, role),
            "Only a teacher of the course or an admin may enroll someone else, or anyone as a teacher.",
        )
        enrollment = services.enroll(user=user, course=course, role=role)
        return Response(_enrollment_out(enrollment), status=status.HTTP_201_CREATED)


class UserCourseView(generics.GenericAPIView):
    """Unenroll a user from a course: the user themself, a teacher of the course, or an admin."""

    serializer_class = None
    schema_errors = {"DELETE": ["409"]}

    @extend_schema(operation_id="users_courses_destroy", responses={204: None})
    def delete(self, request, pk, course_id):
        user = request.user if int(pk) == request.user.pk else get_object_or_404(User, pk=pk)
        course = _course(course_id)
        _require(policy.can_unenroll(request.user, user, course))
        enrollment = get_object_or_404(Enrollment, user=user, course=course)
        services.unenroll(enrollment=enrollment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CourseFeedbackView(generics.GenericAPIView):
    """Feedback on a course: its teachers and admins read it all, a student their own; students leave it."""

    serializer_class = FeedbackSerializer
    filter_backends = [filters.DjangoFilterBackend, OrderingFilter]
    filterset_class = FeedbackFilter
    ordering_fields = ["id", "created_at"]
    ordering = ["id"]

    def get_queryset(self):
        return Feedback.objects.all()

    @extend_schema(operation_id="courses_feedback_list", responses=FeedbackSerializer(many=True))
    def get(self, request, pk):
        course = _course(pk)
        scope = policy.feedback_scope(request.user, course)
        _require(scope is not None)
        queryset = self.get_queryset().filter(course=course)
        if scope == "own":
            queryset = queryset.filter(student_id=request.user.pk)
        page = self.paginate_queryset(self.filter_queryset(queryset).values(*FEEDBACK_FIELDS))
        return self.get_paginated_response([feedback_data(row) for row in page])

    @extend_schema(
        operation_id="courses_feedback_create", request=FeedbackInputSerializer, responses={201: FeedbackSerializer}
    )
    def post(self, request, pk):
        course = _course(pk)
        _require(policy.can_leave_feedback(request.user, course), "Only the course's students leave feedback on it.")
        serializer = FeedbackInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        feedback = services.feedback_create(course=course, student=request.user, **serializer.validated_data)
        return Response(
            {
                "id": feedback.pk,
                "course": feedback.course_id,
                "student": feedback.student_id,
                "feedback": feedback.feedback,
                "created_at": feedback.created_at,
            },
            status=status.HTTP_201_CREATED,
        )
