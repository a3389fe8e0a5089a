"""Tests and results: thin viewsets over the policy (``courses.policy``) and the grade service.

Each viewset fetches the object it is about together with the caller's role in its course (one
query, ``policy.with_caller_role``), names its rule from the policy (``rule``, applied by
``gradingsite.api.permissions.PolicyPermission``), and hands writes to ``grading.services``.
An object that exists but isn't the caller's to see or change is a 403; a student's own result
while its test is unpublished reads as absent, a 404.

Routes (``grading/urls.py``): a course's tests (``/api/courses/{id}/tests/``), a test
(``/api/tests/{id}/``, and its ``stats``), a test's results (``/api/tests/{id}/results/``), one
result (``/api/test-results/{id}/``, and its ``history``), a student's results
(``/api/users/{id}/test-results/``). In nested collections ``pk`` is the parent's id.
"""

from django.contrib.auth import get_user_model
from django.core.paginator import InvalidPage, Page
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Case, CharField, Value, When
from django.http import Http404
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from django_filters.utils import translate_validation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from accounts.authentication import CALLER
from accounts.views import NOT_YOURS, user_in_path
from courses import policy
from courses.models import Course, Enrollment
from grading import notices, reports, services
from grading.filters import TestResultFilter
from grading.models import GradeChange, Test, TestResult, results_version
from grading.serializers import (
    GRADE_CHANGE,
    NOTICE,
    RESULT,
    SCORE_OR_EXCUSED,
    STUDENT_RESULT,
    TEST,
    BulkErrorSerializer,
    BulkInvalid,
    BulkItemErrorSerializer,
    BulkItemSerializer,
    BulkOutcomeSerializer,
    GradeChangeSerializer,
    NoticeSerializer,
    ResultCreateSerializer,
    ResultUpdateSerializer,
    StudentResultSerializer,
    TestResultSerializer,
    TestSerializer,
    TestStatsSerializer,
    parse_bulk_items,
    result_data,
)
from gradingsite.api import preconditions
from gradingsite.api.permissions import Rule
from gradingsite.api.serializers import MAX_ID, query_flag
from gradingsite.api.viewsets import ApiViewSet, VersionedWrites, get_or_404, path_id, swagger_fake
from gradingsite.errors import Invalid
from gradingsite.sql import ModelSelect, Sql, SqlBool, fetch, fragment, json_decimal_as_float, json_text, json_time_text

User = get_user_model()

_FORCE_PARAM = OpenApiParameter(
    "force", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Delete even though results are recorded."
)


# Reports over grades (a course's gradebook, a test's statistics and notices, a result's history): a
# teacher of the object's course, or an admin.
TEACHERS_ONLY = "Only a teacher of this course or an admin may do this."


# Tests.


@extend_schema_view(
    list=extend_schema(summary="List a course's tests"),
    create=extend_schema(summary="Add a test to a course"),
)
class CourseTestViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, ApiViewSet):
    """A course's tests (``/api/courses/{id}/tests/``)."""

    serializer_class = TestSerializer
    rule = Rule(read=policy.can_view_course_tests, write=policy.can_manage_course)
    rule_object = "course"
    filter_backends = [OrderingFilter]
    ordering_fields = ["id", "name", "date", "max_score", "updated_at"]
    ordering = ["date", "id"]

    @cached_property
    def course(self) -> Course:
        return get_or_404(policy.with_caller_role(Course.objects.all(), self.request.user, "pk"), self.kwargs["pk"])

    def get_queryset(self):
        if swagger_fake(self):
            return Test.objects.none()
        # ``results_version`` where the caller may see it (``TestSerializer.get_results_version``'s
        # rule): their role is the same in every test of the course, read with the course.
        role = Value(self.course.caller_role, output_field=CharField())
        shown = policy.results_version_shown(self.request.user, role)
        visible = Case(When(shown, then=results_version()), default=None)
        return Test.objects.filter(course_id=self.course.pk).annotate(results_version=visible)

    def list(self, request, pk):
        # Rows of ``TEST``'s columns: one dict display per row, no serializer fields.
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()).values_list(*TEST.columns))
        return self.get_paginated_response(TEST.rows(page))

    def perform_create(self, serializer):
        test = services.test_create(course=self.course, **serializer.validated_data)
        # What the representation asks of a new test, known without a query: the caller's role in
        # its course (``policy.with_caller_role``, read with the course) and its results version.
        test.caller_role, test.caller_role_for = self.course.caller_role, self.course.caller_role_for
        test.results_version = 0
        serializer.instance = test


@extend_schema_view(
    retrieve=extend_schema(summary="Read a test"),
    update=extend_schema(summary="Replace a test"),
    partial_update=extend_schema(summary="Change a test"),
    destroy=extend_schema(
        summary="Delete a test",
        parameters=[_FORCE_PARAM],
    ),
)
class TestViewSet(
    mixins.RetrieveModelMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, VersionedWrites, ApiViewSet
):
    """A test: its course's members and admins read it; its teachers and admins change or delete it."""

    serializer_class = TestSerializer
    rule = Rule(read=policy.can_view_test, write=policy.can_manage_test)
    schema_errors = {"DELETE": ["409"]}
    replica_actions = frozenset({"stats"})

    def get_queryset(self):
        if swagger_fake(self):
            return Test.objects.none()
        return policy.with_caller_role(Test.objects.annotate(results_version=results_version()), self.request.user)

    def perform_update(self, serializer):
        serializer.instance = services.test_update(
            test=serializer.instance, by=self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        services.test_delete(test=instance, force=query_flag(self.request, "force"), by=self.request.user)

    @extend_schema(
        operation_id="tests_stats",
        summary="A test's statistics over its results' percents",
        description="Computed by the database over each result's `percent`. `stddev` is the population "
        "standard deviation. With no results, `count` is 0, the statistics are null and the buckets empty.",
        responses={200: TestStatsSerializer},
        tags=["reports"],
    )
    @action(detail=True, rule=Rule(read=policy.can_manage_test, message=TEACHERS_ONLY))
    def stats(self, request, pk):
        return Response(reports.test_stats(self.get_object()))

    @extend_schema(
        operation_id="tests_notices",
        summary="The emails telling a test's students about their results, newest first",
        description="One notice per publication of the results, or per batch of changes to results students "
        "can see (changes within `RESULT_NOTIFY_DELAY_SECONDS` merge into one). Teachers of the course and "
        "admins only.",
        responses=NoticeSerializer(many=True),
        tags=["reports"],
    )
    @action(
        detail=True,
        serializer_class=NoticeSerializer,
        rule=Rule(read=policy.can_manage_test, message=TEACHERS_ONLY),
        filter_backends=[],
    )
    def notices(self, request, pk):
        page = self.paginate_queryset(notices.notices_with_counts(self.get_object()).values_list(*NOTICE.columns))
        return self.get_paginated_response(NOTICE.rows(page))


# Results.


# A test's results page written as JSON by PostgreSQL, one text per filter and order (``%(...)s`` are
# parameters): each row as ``RESULT`` renders it, byte for byte, keys in the serializer's order.
# ``percent`` (100 · score / max_score, 1 decimal, half up) and the scores are computed in ``numeric``
# and written as the JSON of the same values read as floats (``85.0``, ``12.35``); the page's order is
# the ORM's over the same columns (``percent`` sorted as a float; tests/test_sql.py compares the two).
_JSON_VALUES = {
    "id": Sql("p.id::text"),
    "test_id": Sql("p.test_id::text"),
    "student_id": Sql("p.student_id::text"),
    "grader_id": Sql("COALESCE(p.grader_id::text, 'null')"),
    "score": Sql(json_decimal_as_float("p.score")),
    "percent": Sql(json_decimal_as_float("p.percent_exact")),
    "excused": SqlBool("p.excused"),
    "entered_score": Sql(json_decimal_as_float("(p.score + p.late_deduction)")),
    "late_deduction": Sql(json_decimal_as_float("p.late_deduction")),
    "late_waived": SqlBool("p.late_waived"),
    "created_at": json_time_text("p.created_at"),
    "updated_at": json_time_text("p.updated_at"),
    "version": Sql("p.version::text"),
}
_JSON_ROW = json_text(
    [
        *(
            part
            for i, (key, column) in enumerate(zip(RESULT.keys, RESULT.columns, strict=True))
            for part in (f'{"{" if i == 0 else ","}"{key}":', _JSON_VALUES[column])
        ),
        "}",
    ]
)
# The page's rows counted (``TestResultViewSet.list``'s ``count``) and the page's rows joined by
# commas (``NULL`` for none: ``_page_json`` adds the brackets), in one statement. The page is
# aggregated by the statement itself, not a subquery, and without the brackets: each is another copy
# of the page's text in PostgreSQL. The row's braces doubled: the text is a template for
# ``str.format`` (``{where}``, ``{order}``). string_agg takes the sorted page's rows in their order.
_RESULTS_COUNT_AND_PAGE = (
    f"SELECT (SELECT count(*) FROM {TestResult._meta.db_table} r WHERE r.test_id = %(test)s{{where}}), "  # noqa: S608
    f"string_agg({_JSON_ROW.replace('{', '{{').replace('}', '}}')}, ',') FROM ("
    "SELECT r.id, r.test_id, r.student_id, r.grader_id, r.score, "
    "ROUND(r.score * 100 / %(max_score)s, 1) AS percent_exact, "
    "ROUND(r.score * 100 / %(max_score)s, 1)::double precision AS percent, "
    "r.excused, r.late_deduction, r.late_waived, r.created_at, r.updated_at, r.version "
    f"FROM {TestResult._meta.db_table} r WHERE r.test_id = %(test)s{{where}} "
    "ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s) p"
)


def _page_json(rows: str | None) -> str:
    """``_RESULTS_COUNT_AND_PAGE``'s page as a JSON array."""
    return f"[{rows}]" if rows is not None else "[]"


# ``?ordering=`` fields (``TestResultViewSet.ordering_fields``) as the ORM orders by them.
_RESULT_ORDER = {
    "id": "r.id",
    "student": "r.student_id",
    "score": "r.score",
    "percent": "percent",
    "created_at": "r.created_at",
    "updated_at": "r.updated_at",
}


# The test of a test's results, with the caller's role in its course (``policy.with_caller_role``):
# the object every request to ``/api/tests/{id}/results/`` is about, its rule asked of it.
_TEST_WITH_CALLER_ROLE = ModelSelect(
    Test,
    f"{Test._meta.db_table}.id = %s",
    extra={
        "caller_role": f"SELECT e.role FROM {Enrollment._meta.db_table} e "  # noqa: S608
        f"WHERE e.user_id = %s AND e.course_id = {Test._meta.db_table}.course_id LIMIT 1"
    },
    prepare=True,
)


# The caller's row (``accounts.authentication.CALLER``) and beside it the test's with the caller's
# role, as ``_TEST_WITH_CALLER_ROLE`` reads them (NULLs where there is no such test). Parameters: the
# user's id (for the role), the test's, the user's.
_CALLER_AND_TEST = (
    f"SELECT {CALLER.columns}, {_TEST_WITH_CALLER_ROLE.columns} "  # noqa: S608
    f'FROM "{User._meta.db_table}" LEFT JOIN "{Test._meta.db_table}" ON "{Test._meta.db_table}".id = %s '
    f'WHERE "{User._meta.db_table}".id = %s'
)


def _results_where(filters: dict) -> tuple[str, dict]:
    """``TestResultFilter``'s filters as SQL for ``_RESULTS_COUNT_AND_PAGE`` (after ``r.test_id = ...``)."""
    unknown = set(filters) - {"student", "excused"}
    if unknown:
        raise ValueError(f"_results_where does not know the filters {sorted(unknown)}")
    where, params = "", {}
    if filters.get("student") is not None:
        where, params["student"] = " AND r.student_id = %(student)s", filters["student"]
    if filters.get("excused") in (True, False):
        where += " AND r.excused" if filters["excused"] else " AND NOT r.excused"
    return where, params


@extend_schema_view(
    list=extend_schema(summary="List a test's results"),
    create=extend_schema(
        summary="Grade one student",
        request=ResultCreateSerializer,
    ),
)
class TestResultViewSet(ApiViewSet):
    """A test's results (``/api/tests/{id}/results/``): its course's teachers and admins list them,
    grade one student (``POST``) or many at once (``PUT``, all or nothing)."""

    serializer_class = TestResultSerializer
    rule = Rule(read=policy.can_manage_test, write=policy.can_manage_test)
    rule_object = "test"
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = TestResultFilter
    ordering_fields = ["id", "student", "score", "percent", "created_at", "updated_at"]
    ordering = ["id"]
    schema_errors = {"POST": ["409"]}

    def load_caller(self, user_id: int) -> list | None:
        """For a grade (``POST``): the caller's user row and the test with the caller's role in one
        statement (``accounts.authentication.JWTAuthentication``); the test is then ``test``'s. A test
        that isn't there is looked for again by ``test`` (a 404, after the caller was checked)."""
        if self.request.method != "POST" or Test.objects.db != DEFAULT_DB_ALIAS:
            return None
        try:
            test_id = path_id(self.kwargs.get("pk"))
        except Http404:
            return None  # the caller first (a 401 before the 404)
        rows = fetch(_CALLER_AND_TEST, [user_id, test_id, user_id], fast_times=True, prepare=True)
        if not rows:
            return []
        user = CALLER.instance(rows[0][: CALLER.width])
        if rows[0][CALLER.width] is not None:
            test = _TEST_WITH_CALLER_ROLE.instance(rows[0][CALLER.width :])
            test.caller_role_for = user.pk
            self.__dict__["test"] = test  # the cached_property's value
        return [user]

    @cached_property
    def test(self) -> Test:
        # ``policy.with_caller_role(Test.objects.all(), user)``'s row, read by SQL text written once.
        user = self.request.user
        found = _TEST_WITH_CALLER_ROLE.objects(user.pk, path_id(self.kwargs["pk"]), using=Test.objects.db)
        if not found:
            raise Http404
        test = found[0]
        test.caller_role_for = user.pk
        return test

    def get_queryset(self):
        if swagger_fake(self):
            return TestResult.objects.none()
        return TestResult.objects.filter(test_id=self.test.pk)

    def get_object(self):
        # The object a PUT changes is the test's set of results; DRF's OPTIONS metadata asks for it.
        return self.test

    def list(self, request, pk):
        """The requested page's rows as JSON text from the database, with the checks and answers of
        DRF's own filtering and pagination.

        The rows are counted and the page written by PostgreSQL in one statement
        (``_RESULTS_COUNT_AND_PAGE``, SQL written once), and the page passed through as it is
        (``gradingsite.sql.fragment``): no Python object per row or value. Measured at one gunicorn
        worker on a page of 1,000 (bench/README.md): a quarter less of the server's CPU per page, and
        more requests per second, for about as much more of the database's. No queryset is built:
        the filters are validated by the filterset's form (its 400s, as ``DjangoFilterBackend``'s),
        once, and only when the query asks for one of them; the ordering is ``OrderingFilter``'s
        (unknown fields dropped, ``ordering`` by default). The page number (a positive integer:
        ``PageNumberPagination``) gives the page's offset before the count is known; a page past the
        end is then a 404, as DRF's. The cursor is Django's, so the query is logged and its errors
        translated like any other.
        """
        where, params = _results_where(self._filters(request))
        order = ", ".join(
            f"{_RESULT_ORDER[term.lstrip('-')]}{' DESC' if term.startswith('-') else ''}"
            for term in OrderingFilter().get_ordering(request, None, self)
        )
        paginator = self.paginator
        page_size = paginator.get_page_size(request)
        django_paginator = paginator.django_paginator_class([], page_size)
        page_number = int(paginator.get_page_number(request, django_paginator))
        sql = _RESULTS_COUNT_AND_PAGE.format(where=where, order=order)
        params |= {
            "max_score": self.test.max_score,
            "test": self.test.pk,
            "limit": page_size,
            # A page far past the end: an offset PostgreSQL takes, and no rows (then a 404 below).
            "offset": min((page_number - 1) * page_size, MAX_ID),
        }
        # Prepared: its planning was a tenth of its cost (gradingsite.sql.fetch).
        django_paginator.count, rows = fetch(sql, params, TestResult.objects.db, prepare=True)[0]  # the count known
        try:
            paginator.page = django_paginator.page(page_number)
        except InvalidPage as exc:
            message = paginator.invalid_page_message.format(page_number=page_number, message=str(exc))
            raise NotFound(message) from None
        paginator.request = request
        return self.get_paginated_response(fragment(_page_json(rows)))

    def _filters(self, request) -> dict:
        """``TestResultFilter``'s cleaned values, or its 400 as ``DjangoFilterBackend`` answers it;
        none when the query names none of its filters (an absent filter is always valid)."""
        filterset_class = self.filterset_class
        if not any(name in request.query_params for name in filterset_class.base_filters):
            return {}
        filters = filterset_class(request.query_params, queryset=TestResult.objects.none(), request=request)
        if not filters.is_valid():
            raise translate_validation(filters.errors)
        return filters.form.cleaned_data

    def create(self, request, pk):
        data = ResultCreateSerializer.validated(request.data)
        result = services.result_record(
            test=self.test,
            # Only the id is needed: the service checks the enrollment, which also proves the user exists.
            student=User(pk=data["student"]),
            score=data.get("score"),
            excused=data.get("excused", False),
            by=request.user,
            via=GradeChange.Via.API,
            grader=data.get("grader"),
            late_waived=data.get("late_waived", False),
        )
        return Response(result_data(result), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Create or update many results (all or nothing)",
        request=BulkItemSerializer(many=True),
        responses={200: BulkOutcomeSerializer, 400: BulkErrorSerializer},
    )
    def bulk_update(self, request, pk):
        waived: dict[int, bool] = {}
        try:
            typed, errors = parse_bulk_items(request.data, waived)
        except BulkInvalid as exc:
            return _bulk_error(exc.message, [(None, None, exc.message)])
        outcome = services.results_upsert(
            test=self.test,
            items=[pair for _, pair in typed],
            by=request.user,
            via=GradeChange.Via.API,
            # With type errors the rest is still checked (to report every bad item), never written.
            dry_run=bool(errors),
            expected_results_versions=preconditions.if_match_versions(request),
            waived=waived,
        )
        errors.extend((typed[i][0], field, message) for i, field, message in outcome.errors)
        if errors:
            return _bulk_error("Some items are invalid; nothing was saved.", errors)
        # The test's results version after this write: If-Match for the next one.
        counts = BulkOutcomeSerializer.build(
            created=outcome.created, updated=outcome.updated, unchanged=outcome.unchanged
        )
        return Response(counts, headers={"ETag": preconditions.etag(outcome.results_version)})


def _bulk_error(detail: str, errors) -> Response:
    ordered = sorted(errors, key=lambda e: (e[0] if e[0] is not None else -1, e[1] or ""))
    items = [BulkItemErrorSerializer.build(index=i, field=f, message=m) for i, f, m in ordered]
    body = BulkErrorSerializer.build(detail=detail, errors=items)
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


@extend_schema_view(
    retrieve=extend_schema(summary="Read a result"),
    update=extend_schema(
        summary="Change a result's score",
        request=ResultUpdateSerializer,
    ),
    partial_update=extend_schema(
        summary="Change a result's score",
        request=ResultUpdateSerializer,
    ),
    destroy=extend_schema(summary="Delete a result"),
)
class ResultViewSet(mixins.DestroyModelMixin, VersionedWrites, ApiViewSet):
    """One result: the student reads their own (published) one; teachers of the course and admins
    read, change and delete it, and read its history."""

    serializer_class = TestResultSerializer
    # A student's own result while its test's results are unpublished reads as absent (404).
    rule = Rule(read=policy.can_view_result, write=policy.can_manage_result, absent=policy.result_hidden_from)

    def get_queryset(self):
        if swagger_fake(self):
            return TestResult.objects.none()
        queryset = TestResult.objects.select_related("test")
        return policy.with_caller_role(queryset, self.request.user, "test__course_id")

    def retrieve(self, request, pk):
        return Response(result_data(self.get_object()))

    def representation(self, pk: int) -> dict:
        return result_data(self.get_queryset().get(pk=pk))

    def update(self, request, pk, partial=False):
        result = self.get_object()
        serializer = ResultUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        score, excused = data.get("score"), data.get("excused")
        if excused:
            score = None
        elif "score" in data:
            if score is None:
                raise Invalid({"score": [SCORE_OR_EXCUSED]})
            excused = False
        elif excused is False and result.excused:
            raise Invalid({"score": ["A score is required to un-excuse this result."]})
        else:  # only the grader or the waiver changes (or excused: false on a scored result)
            score, excused = result.entered_score, result.excused
        result = services.result_update(
            result=result,
            score=score,
            excused=excused,
            by=request.user,
            via=GradeChange.Via.API,
            grader=data.get("grader"),
            late_waived=data.get("late_waived"),
        )
        return Response(result_data(result))

    def partial_update(self, request, pk):
        return self.update(request, pk, partial=True)

    def perform_destroy(self, instance):
        services.result_delete(result=instance, by=self.request.user, via=GradeChange.Via.API)

    @extend_schema(
        operation_id="test_results_history",
        summary="A result's grade history, oldest first",
        responses=GradeChangeSerializer(many=True),
        tags=["reports"],
    )
    @action(
        detail=True,
        serializer_class=GradeChangeSerializer,
        rule=Rule(read=policy.can_manage_result, message=TEACHERS_ONLY),
        filter_backends=[OrderingFilter],
        ordering_fields=["changed_at", "id"],
        ordering=["changed_at", "id"],
    )
    def history(self, request, pk):
        """A result's history, oldest first: one line per create, update and delete."""
        result = self.get_object()
        history = self.filter_queryset(GradeChange.objects.filter(result_id=result.pk))
        page = self.paginate_queryset(history.values_list(*GRADE_CHANGE.columns))
        return self.get_paginated_response(GRADE_CHANGE.rows(page))


# ``STUDENT_RESULT``'s columns as ``_STUDENT_RESULTS_PAGE`` selects them (``r`` the result, ``t`` its
# test, ``c`` its course): the scores and ``percent`` (computed exactly in ``numeric``, rounded half
# up as ``percent_of`` rounds it) as floats, which orjson writes without a Python call.
_STUDENT_RESULT_EXPRESSIONS = {
    "id": "r.id",
    "test_id": "r.test_id",
    "student_id": "r.student_id",
    "grader_id": "r.grader_id",
    "score": "r.score::double precision",
    "percent": "ROUND(r.score * 100 / t.max_score, 1)::double precision",
    "excused": "r.excused",
    "entered_score": "(r.score + r.late_deduction)::double precision",
    "late_deduction": "r.late_deduction::double precision",
    "late_waived": "r.late_waived",
    "created_at": "r.created_at",
    "updated_at": "r.updated_at",
    "test__name": "t.name",
    "test__course__id": "t.course_id",
    "test__course__name": "c.name",
}
# ``?ordering=`` fields as the ORM orders by them.
_STUDENT_RESULT_ORDER = {
    "id": "r.id",
    "score": "r.score",
    "created_at": "r.created_at",
    "updated_at": "r.updated_at",
    "test_name": "t.name",
    "test_date": "r.test_date",
}
# One page of a student's results, and the count of all of them as the last column of each row
# (computed once); ``{published}`` narrows both to the published ones, ``%(...)s`` are parameters.
_STUDENT_RESULTS_PAGE = (
    f"SELECT {', '.join(_STUDENT_RESULT_EXPRESSIONS[column] for column in STUDENT_RESULT.columns)}, "  # noqa: S608
    f"(SELECT COUNT(*) FROM {TestResult._meta.db_table} counted WHERE counted.student_id = %(student)s{{counted}}) "
    f"FROM {TestResult._meta.db_table} r JOIN {Test._meta.db_table} t ON t.id = r.test_id "
    f"JOIN {Course._meta.db_table} c ON c.id = t.course_id "
    "WHERE r.student_id = %(student)s{published} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"
)


class StudentResultViewSet(ApiViewSet):
    """A user's results as a student (``/api/users/{id}/test-results/``), each with its test's name
    and its course: the user themself (published results only) and admins (all of them)."""

    serializer_class = StudentResultSerializer
    queryset = TestResult.objects.all()
    filter_backends = [OrderingFilter]
    rule = {"test_results": Rule(read=policy.can_act_on_user, message=NOT_YOURS)}

    @extend_schema(responses=StudentResultSerializer(many=True))
    @action(
        detail=True,
        url_path="test-results",
        url_name="test-results",
        ordering_fields=list(_STUDENT_RESULT_ORDER),
        ordering=["test_date", "id"],
    )
    def test_results(self, request, pk):
        """A user's results as a student, each with its test's name and its course.

        The student themself doesn't see results of tests whose results are not published; an admin
        sees them all. The page and the count are one statement (``_STUDENT_RESULTS_PAGE``). In the
        default order (the test's date, then id; or the date's reverse) it walks an index of the
        student's results (``TestResult.test_date``), so the page costs what its rows cost, however
        many results the student has elsewhere; the count reads that index alone. The other orders
        sort the student's results.
        """
        student = user_in_path(request, pk)
        self.check_object_permissions(request, student)
        paginator = self.paginator
        page_size = paginator.get_page_size(request)
        django_paginator = paginator.django_paginator_class([], page_size)
        number = int(paginator.get_page_number(request, django_paginator))  # digits only, or a 404
        order = ", ".join(
            f"{_STUDENT_RESULT_ORDER[term.lstrip('-')]}{' DESC' if term.startswith('-') else ''}"
            for term in OrderingFilter().get_ordering(request, self.get_queryset(), self)
        )
        # The student's own copy of each test's publication (``TestResult.test_published``).
        published = "" if policy.sees_unpublished_results(request.user, student) else " AND {r}.test_published"
        sql = _STUDENT_RESULTS_PAGE.format(
            published=published.format(r="r"), counted=published.format(r="counted"), order=order
        )
        # A page far past the end: an offset PostgreSQL takes, and no rows (then a 404 below).
        offset = min((number - 1) * page_size, MAX_ID)
        params = {"student": student.pk, "limit": page_size, "offset": offset}
        # Prepared: planning the joins and the count cost more than running them.
        rows = fetch(sql, params, self.get_queryset().db, fast_times=True, prepare=True)
        if not rows and number > 1:
            message = paginator.invalid_page_message.format(page_number=number, message="That page contains no results")
            raise NotFound(message)
        django_paginator.count = rows[0][-1] if rows else 0  # known: no count query of its own
        paginator.page = Page([row[:-1] for row in rows], number, django_paginator)
        paginator.request = request
        # Rows of ``STUDENT_RESULT``'s columns: one dict display per row, no serializer fields.
        return self.get_paginated_response(STUDENT_RESULT.rows(paginator.page.object_list))
