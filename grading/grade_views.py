"""Course grades and the grade categories they are built from.

Routes (``grading/urls.py``): a course's categories (``/api/courses/{id}/categories/``: its members
read them, its teachers and admins add one), a category (``/api/categories/{id}/``), and a course's
grades (``/api/courses/{id}/grades/``: teachers and admins read every student's row, a student their
own, computed over published results only). The rules of the computation are in ``grading.grades``.
"""

from django.db.models import RestrictedError
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from courses import policy
from courses.models import Course
from grading import grades, services
from grading.models import GradeCategory
from grading.serializers import CATEGORY, CategorySerializer, CourseGradeSerializer
from gradingsite.api.permissions import Rule
from gradingsite.api.viewsets import ApiViewSet, VersionedWrites, get_or_404, swagger_fake
from gradingsite.errors import Conflict


@extend_schema_view(
    list=extend_schema(summary="List a course's grade categories"),
    create=extend_schema(summary="Add a grade category to a course"),
)
class CourseCategoryViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, ApiViewSet):
    """A course's grade categories, in ``position`` order (``/api/courses/{id}/categories/``)."""

    serializer_class = CategorySerializer
    # Course members and admins read a course's categories; its teachers and admins add one.
    rule = Rule(read=policy.can_view_course_tests, write=policy.can_manage_course)
    rule_object = "course"

    @cached_property
    def course(self) -> Course:
        return get_or_404(policy.with_caller_role(Course.objects.all(), self.request.user, "pk"), self.kwargs["pk"])

    def get_queryset(self):
        if swagger_fake(self):
            return GradeCategory.objects.none()
        return GradeCategory.objects.filter(course_id=self.course.pk).order_by("position", "id")

    def perform_create(self, serializer):
        serializer.instance = services.category_create(course=self.course, **serializer.validated_data)

    def list(self, request, pk):
        # Rows of ``CATEGORY``'s columns: one dict display per row, no serializer fields.
        rows = self.filter_queryset(self.get_queryset()).values_list(*CATEGORY.columns)
        page = self.paginate_queryset(rows)
        if page is None:
            return Response(CATEGORY.rows(rows))
        return self.get_paginated_response(CATEGORY.rows(page))


@extend_schema_view(
    retrieve=extend_schema(summary="Read a grade category"),
    update=extend_schema(summary="Replace a grade category"),
    partial_update=extend_schema(summary="Change a grade category"),
    destroy=extend_schema(summary="Delete a grade category (409 while it holds tests, or if it is the course's last)"),
)
class CategoryViewSet(
    mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, VersionedWrites, ApiViewSet
):
    """A grade category: its course's members and admins read it; its teachers and admins change or delete it."""

    serializer_class = CategorySerializer
    rule = Rule(read=policy.can_view_category, write=policy.can_manage_category)
    schema_errors = {"DELETE": ["409"]}

    def get_queryset(self):
        if swagger_fake(self):
            return GradeCategory.objects.none()
        return policy.with_caller_role(GradeCategory.objects.all(), self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.category_update(category=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, instance):
        try:
            services.category_delete(category=instance)
        except RestrictedError:  # a test was moved into it meanwhile
            raise Conflict("This category holds tests; move them to another category first.") from None


# Course grades.

GRADE_ORDERING = ("current_percent", "final_percent", "last_name", "first_name", "email")
_NAME_ORDER = ("last_name", "first_name", "email")


def _sort_key(field: str, descending: bool):
    """Rows by ``field``; a null percent sorts last both ways."""
    if field in _NAME_ORDER:
        return lambda row: row["student"][field].casefold()

    def key(row):
        value = row[field]
        if value is None:
            return (1, 0)
        return (0, -value if descending else value)

    return key


def order_grades(rows: list[dict], terms: list[str]) -> list[dict]:
    """Sort grade rows by ``?ordering=`` terms (stable, last term first), names breaking ties."""
    rows = list(rows)
    for term in reversed([*terms, *_NAME_ORDER]):
        field = term.lstrip("-")
        descending = term.startswith("-")
        # Percent keys already put descending values first; names sort with reverse=.
        rows.sort(key=_sort_key(field, descending), reverse=descending and field in _NAME_ORDER)
    return rows


class CourseGradesViewSet(ApiViewSet):
    """A course's grades (``/api/courses/{id}/grades/``), registered beside ``courses.views.CourseViewSet``."""

    queryset = Course.objects.all()
    rule = {
        "grades": Rule(
            read=policy.can_read_grades,
            message="Only the course's teachers, its students (their own grade) and admins read its grades.",
        )
    }
    serializer_class = CourseGradeSerializer
    filter_backends = [OrderingFilter]
    replica_actions = frozenset({"grades"})

    @extend_schema(
        summary="Every student's course grade",
        description="Teachers of the course and admins: every student's current and final percent, letter, "
        "missing tests and per-category percents with what was dropped. A student: only their own row, "
        "computed over tests whose results are published. Others: 403. Ordered by last name, first name, "
        "email unless `?ordering=` says otherwise (a null percent sorts last either way).",
        responses=CourseGradeSerializer(many=True),
        tags=["reports"],
    )
    @action(detail=True, ordering_fields=list(GRADE_ORDERING), ordering=list(_NAME_ORDER))
    def grades(self, request, pk):
        course = get_or_404(policy.with_caller_role(Course.objects.all(), request.user, "pk"), pk)
        self.check_object_permissions(request, course)
        scope = policy.grades_scope(request.user, course)
        if scope == "own":
            rows = grades.course_grades(course, student_id=request.user.pk, published_only=True)
        else:
            rows = grades.course_grades(course)
        terms = OrderingFilter().get_ordering(request, Course.objects.none(), self) or []
        page = self.paginate_queryset(order_grades(rows, [t for t in terms if t.lstrip("-") in GRADE_ORDERING]))
        return self.get_paginated_response(page)
