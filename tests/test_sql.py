"""The hot reads written as SQL text (gradingsite.sql): they give what the ORM gives, and the app
compiles nothing through Django's private query API."""

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from django.db import connection
from django.db.models import F, FloatField, Value
from django.db.models.functions import Cast, Round
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses import views as course_views
from courses.models import Enrollment, Role
from courses.policy import with_caller_role
from grading.models import Test, TestResult
from grading.serializers import RESULT
from grading.views import _TEST_WITH_CALLER_ROLE
from gradingsite.sql import ModelSelect, fetch

# A test's results page through the ORM, the reference the page's SQL (grading.views) is checked
# against: ``TestResultSerializer``'s columns, with ``percent`` (100 · score / max_score, 1 decimal,
# half up, computed in ``numeric``) and the scores read as floats.
_ROW_COLUMNS = tuple(
    {"score": "score_float", "late_deduction": "late_deduction_float"}.get(column, column) for column in RESULT.columns
)


def with_row_columns(queryset, max_score):
    percent = Round(F("score") * Value(100) / Value(max_score), 1)
    return queryset.annotate(
        percent=Cast(percent, FloatField()),
        score_float=Cast("score", FloatField()),
        entered_score=Cast(F("score") + F("late_deduction"), FloatField()),
        late_deduction_float=Cast("late_deduction", FloatField()),
    )


pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def test_a_model_select_gives_the_querysets_objects_for_each_new_value(make_user):
    ada = make_user("ada@example.com", social={"github": "ada"})
    bob = make_user("bob@example.com")
    by_pk = ModelSelect(User, "id = %s")

    assert [u.email for u in by_pk.objects(ada.pk)] == ["ada@example.com"]
    with CaptureQueriesContext(connection) as queries:
        (found,) = by_pk.objects(bob.pk)
    assert len(queries) == 1 and found == bob
    assert by_pk.objects(ada.pk)[0].social == {"github": "ada"}  # JSON converted as the ORM would
    assert by_pk.objects(10**9) == []


def test_a_model_select_loads_every_field_as_the_orm_does(make_user):
    ada = make_user("ada@example.com", social={"github": "ada"}, first_name="Ada")
    User.objects.filter(pk=ada.pk).update(last_write_at=datetime(2026, 12, 1, 9, 30, 0, 123456, tzinfo=UTC))
    fields = [f.attname for f in User._meta.concrete_fields]

    (found,) = ModelSelect(User, "id = %s").objects(ada.pk)
    expected = User.objects.get(pk=ada.pk)

    assert {name: getattr(found, name) for name in fields} == {name: getattr(expected, name) for name in fields}
    assert not found._state.adding and found._state.db == "default"


def test_fast_times_read_the_same_aware_utc_datetimes_as_the_orm(make_user):
    ada = make_user("ada@example.com")
    stamp = datetime(2026, 12, 1, 9, 30, 0, 5, tzinfo=UTC)
    User.objects.filter(pk=ada.pk).update(last_write_at=stamp)

    ((fast,),) = fetch("SELECT last_write_at FROM accounts_user WHERE id = %s", [ada.pk], fast_times=True)
    ((slow,),) = fetch("SELECT last_write_at FROM accounts_user WHERE id = %s", [ada.pk])

    assert fast == slow == stamp == User.objects.get(pk=ada.pk).last_write_at
    assert fast.utcoffset().total_seconds() == 0


def test_the_course_page_statement_gives_the_orms_row_for_every_kind_of_caller(
    course, teacher, student, admin_user, make_user, test_
):
    outsider = make_user("outsider@example.com")
    Enrollment.objects.create(course=course, user=make_user("second@example.com"), role=Role.TEACHER)
    Test.objects.filter(pk=test_.pk).update(updated_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    Test.objects.create(course=course, name="Hidden", date=test_.date, max_score=Decimal("12.5"))
    Test.objects.filter(pk=test_.pk).update(results_published=True)

    for user in (teacher, student, admin_user, outsider):
        (row,) = course_views.courses_for(user).filter(pk=course.pk).values(*course_views.COURSE_FIELDS)
        # Byte for byte, as the renderer writes them (teachers and tests are JSON text from the database).
        detail = orjson.dumps(course_views.course_detail(user, course.pk))
        assert detail == orjson.dumps(course_views.course_data(row)), user.email


def test_the_test_with_the_callers_role_gives_the_orms_object_for_every_kind_of_caller(
    test_, teacher, student, admin_user, make_user
):
    outsider = make_user("outsider@example.com")
    for user in (teacher, student, admin_user, outsider):
        expected = with_caller_role(Test.objects.all(), user).get(pk=test_.pk)
        (found,) = _TEST_WITH_CALLER_ROLE.objects(user.pk, test_.pk)
        fields = [f.attname for f in Test._meta.concrete_fields]
        assert [getattr(found, f) for f in fields] == [getattr(expected, f) for f in fields]
        assert found.caller_role == expected.caller_role, user.email
    assert _TEST_WITH_CALLER_ROLE.objects(teacher.pk, test_.pk + 1) == []


@pytest.mark.parametrize("ordering", ["id", "-id", "student", "-score,id", "percent,-created_at,id", "-updated_at"])
@pytest.mark.parametrize(
    ("filters", "page"), [("", 2), ("&excused=true", 1), ("&excused=false", 2), ("&student={student}", 1)]
)
def test_the_results_page_statement_orders_and_filters_as_the_orm(
    ordering, filters, page, client_for, teacher, course, test_, make_user
):
    students = [make_user() for _ in range(7)]
    Enrollment.objects.bulk_create([Enrollment(user=s, course=course, role=Role.STUDENT) for s in students])
    for i, s in enumerate(students):
        # Ties in score and percent, an excused result, one created later than the others.
        score = None if i == 3 else Decimal(40 + i % 3)
        TestResult.objects.create(test=test_, student=s, score=score, excused=score is None)
    TestResult.objects.filter(student=students[5]).update(created_at=datetime(2027, 1, 1, tzinfo=UTC))
    query = f"?ordering={ordering}&page_size=3&page={page}" + filters.format(student=students[3].pk)

    body = client_for(teacher).get(f"/api/tests/{test_.pk}/results/{query}").json()

    queryset = with_row_columns(TestResult.objects.filter(test=test_), test_.max_score)
    if "excused" in filters:
        queryset = queryset.filter(excused=filters.endswith("true"))
    if "student" in filters:
        queryset = queryset.filter(student=students[3])
    rows = list(queryset.order_by(*ordering.split(",")).values(*_ROW_COLUMNS)[3 * (page - 1) : 3 * page])
    assert rows
    assert [(r["id"], r["score"], r["percent"], r["created_at"]) for r in body["results"]] == [
        (r["id"], r["score_float"], r["percent"], r["created_at"].isoformat().replace("+00:00", "Z")) for r in rows
    ]
    assert body["count"] == queryset.count()


@pytest.mark.parametrize(
    "ordering",
    [None, "-test_date,-id", "test_date,-id", "id", "-score,id", "test_name,-id", "created_at", "-updated_at"],
)
@pytest.mark.parametrize("who", ["student", "admin_user"])
@pytest.mark.parametrize("page", [1, 2])
def test_a_students_results_statement_orders_filters_and_counts_as_the_orm(
    ordering, who, page, request, client_for, student, teacher, course, other_course
):
    Enrollment.objects.create(user=student, course=other_course, role=Role.STUDENT)
    day = datetime(2026, 3, 1).date()
    tests = [
        Test.objects.create(course=c, name=name, date=day.replace(day=d), max_score=Decimal(m), results_published=p)
        for c, name, d, m, p in [
            (course, "Quiz", 3, 10, True),
            (course, "Quiz", 1, 40, True),  # the same name, an earlier date
            (course, "Final", 3, 100, False),  # the same date as the first, unpublished
            (other_course, "Essay", 2, 20, True),
            (other_course, "Lab", 9, 12.5, True),
            (other_course, "Oral", 5, 30, False),
            (other_course, "Project", 7, 50, True),
        ]
    ]
    for i, test in enumerate(tests):
        score = None if i == 4 else Decimal(i % 3 + 5)  # ties in score, one excused
        TestResult.objects.create(test=test, student=student, grader=teacher, score=score, excused=score is None)
    query = {"page_size": 2, "page": page} | ({"ordering": ordering} if ordering else {})

    body = client_for(request.getfixturevalue(who)).get(f"/api/users/{student.pk}/test-results/", query).json()

    # The ORM's rows, ordered by the test's own date and name (not the result's copy).
    queryset = TestResult.objects.filter(student=student)
    if who == "student":
        queryset = queryset.filter(test__results_published=True)
    terms = (ordering or "test_date,id").split(",")
    order = [t.replace("test_date", "test__date").replace("test_name", "test__name") for t in terms]
    rows = list(queryset.order_by(*order).select_related("test__course")[2 * (page - 1) : 2 * page])
    assert body["count"] == queryset.count()
    assert [r["id"] for r in body["results"]] == [r.pk for r in rows]
    assert [(r["test_name"], r["course"]["name"], r["percent"]) for r in body["results"]] == [
        (r.test.name, r.test.course.name, r.percent) for r in rows
    ]


def test_the_app_compiles_nothing_through_djangos_private_query_api():
    private = re.compile(
        r"sql_with_params|get_compiler|make_debug_cursor|make_cursor|\._fields\b|compiler\.select\b|"
        r"get_converters|apply_converters|queries_logged|close_if_health_check_failed|\.query\.\w"
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for app in ("accounts", "courses", "grading", "gradingsite")
        for path in sorted((ROOT / app).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]

    assert found == []


# The statements the code asks to prepare (``fetch(prepare=True)``), each known by a piece of its text.
_PREPARED = {
    "the caller": 'FROM "accounts_user" WHERE id = $1',
    "the course page": "mine.role",
    "the results page": "string_agg",
    "the test with the caller's role": 'FROM "grading_test" WHERE grading_test.id = $',
    "the caller and the test": 'LEFT JOIN "grading_test"',
    "a grade": "WITH ",
    "a student's results page": "counted.student_id",
}


def test_the_statements_run_on_every_request_or_costly_to_plan_are_prepared_and_nothing_else(
    client_for, teacher, test_, student
):
    # The suite's connections bind parameters on the server, where statements can be prepared.
    assert connection.settings_dict["OPTIONS"].get("prepare_threshold") is not None
    TestResult.objects.create(test=test_, student=student, score=Decimal("10"))
    client = client_for(teacher)
    for ordering in ("id", "-score"):
        assert client.get(f"/api/tests/{test_.pk}/results/?ordering={ordering}").status_code == 200
    assert client.get(f"/api/courses/{test_.course_id}/").status_code == 200
    assert client.get("/api/profile/").status_code == 200
    assert client_for(student).get(f"/api/users/{student.pk}/test-results/").status_code == 200

    statements = [row[0] for row in fetch("SELECT statement FROM pg_prepared_statements", [])]
    seen = {name for name, piece in _PREPARED.items() for statement in statements if piece in statement}

    assert {"the caller", "the course page", "the results page", "a student's results page"} <= seen, statements
    # Nothing else: not the ORM's statements.
    assert [s for s in statements if not any(piece in s for piece in _PREPARED.values())] == []
