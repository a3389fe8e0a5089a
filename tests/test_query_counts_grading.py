"""Speed as behaviour: the tests and results endpoints run a fixed number of queries, whatever the size.

Each count is pinned with the queries it stands for. Every request starts with one query that
loads the caller from the token (``AUTH``).
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading import services
from grading.models import Notice, NoticeRecipient, Test, TestResult
from tests.conftest import first_category

pytestmark = pytest.mark.django_db

AUTH = 1
# A write students can see tells them through the test's result notice: one statement adds the
# students to the pending notice (JOIN); when none is pending, the notice is opened: INSERT it, defer
# its job, INSERT the students (OPEN, after the JOIN that found nothing).
JOIN = 1
OPEN = JOIN + 3


def _students(course, n, prefix="s"):
    users = User.objects.bulk_create([User(email=f"{prefix}{i}@example.com") for i in range(n)])
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    return users


def _count(client, method, url, data=None):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data, format="json")
    assert response.status_code < 300, response.content
    return len(queries)


@pytest.mark.parametrize("n", [2, 200])
def test_results_list_runs_three_queries_for_any_size(client_for, teacher, course, test_, n):
    students = _students(course, n)
    TestResult.objects.bulk_create(
        [TestResult(test=test_, student=s, score=Decimal(i % 100)) for i, s in enumerate(students)]
    )
    # AUTH, the test with the caller's role, COUNT(*) and the page in one statement.
    url = f"/api/tests/{test_.pk}/results/?page_size=1000&ordering=-score"
    assert _count(client_for(teacher), "get", url) == AUTH + 2


@pytest.mark.parametrize("n", [2, 200])
def test_tests_list_runs_four_queries_for_any_size(client_for, student, course, n):
    Test.objects.bulk_create(
        [
            Test(
                course=course, category=first_category(course), name=f"T{i}", date=date(2026, 1, 1) + timedelta(days=i)
            )
            for i in range(n)
        ]
    )
    # AUTH, the course with the caller's role, COUNT(*), the page.
    assert _count(client_for(student), "get", f"/api/courses/{course.pk}/tests/?page_size=1000") == AUTH + 3


@pytest.mark.parametrize("n", [10, 1000])
def test_bulk_upsert_runs_the_same_queries_for_10_and_1000_items(client_for, teacher, course, test_, n):
    students = _students(course, n)
    # Half the items update existing results, half create new ones.
    TestResult.objects.bulk_create([TestResult(test=test_, student=s, score=Decimal(1)) for s in students[: n // 2]])
    items = [{"student": s.pk, "score": 2} for s in students]
    # AUTH, the test with the caller's role, SAVEPOINT (the test client's transaction), the test's row
    # locked, the enrolled students, the existing results locked, INSERT results, UPDATE results,
    # INSERT history, the test's results version moved (its new value is the ETag), the result notice
    # opened (OPEN), RELEASE SAVEPOINT.
    assert _count(client_for(teacher), "put", f"/api/tests/{test_.pk}/results/", items) == AUTH + 10 + OPEN


def test_grading_one_student_is_one_statement_when_a_notice_is_open(
    client_for, teacher, course, test_, student, classmate
):
    url = f"/api/tests/{test_.pk}/results/"
    client = client_for(teacher)
    # The first grade opens the notice: the caller read with the test and the caller's role in it
    # (one statement: AUTH), the one statement
    # (which writes nothing while no notice is open), then the write step by step: SAVEPOINT, the
    # test's row share-locked together with "enrolled?" and "published?", INSERT the result (the
    # unique constraint answers "graded already?"), INSERT its history, the test's results version
    # moved, the notice opened (OPEN), RELEASE SAVEPOINT. (Outside a test's transaction the
    # savepoint pair is BEGIN/COMMIT.)
    assert _count(client, "post", url, {"student": student.pk, "score": 5}) == AUTH + 7 + OPEN
    # The next ones join it: the caller with the test (AUTH), the one statement.
    assert _count(client, "post", url, {"student": classmate.pk, "score": 6}) == AUTH + 1
    assert Notice.objects.get(test=test_).recipients.count() == 2


def test_grades_of_a_hidden_test_open_no_notice(client_for, teacher, course, test_, student):
    test_.results_published = False
    test_.save()
    url = f"/api/tests/{test_.pk}/results/"
    # The caller with the test and the caller's role (AUTH), the one statement.
    assert _count(client_for(teacher), "post", url, {"student": student.pk, "score": 5}) == AUTH + 1
    assert not Notice.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("published", [True, False])
def test_grading_one_student_is_two_round_trips_to_postgresql_the_commit_included(
    client_for, teacher, course, test_, student, classmate, published
):
    """As the server runs it, outside any transaction. Django lists a transaction's ``BEGIN`` and
    ``COMMIT`` among the queries it captures, each a round trip to PostgreSQL (psycopg sends the
    ``BEGIN`` before the first statement); outside a transaction a statement commits as it ends, in
    its own round trip: the caller's load, which authentication does for every request, here with
    the test and the caller's role in it; and the grade's one statement."""
    Test.objects.filter(pk=test_.pk).update(results_published=published)
    client = client_for(teacher)
    url = f"/api/tests/{test_.pk}/results/"
    assert client.post(url, {"student": classmate.pk, "score": 6}, format="json").status_code == 201  # opens the notice

    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, {"student": student.pk, "score": 5}, format="json")

    assert response.status_code == 201, response.content
    statements = [query["sql"].split(None, 1)[0].upper() for query in queries]
    assert statements == ["SELECT", "WITH"]  # the caller with the test and the caller's role, the grade
    result = TestResult.objects.get(test=test_, student=student)
    assert response.json()["id"] == result.pk and result.score == 5
    assert result.history.get().new_score == 5
    assert services._results_version(test_) == 2
    recipients = NoticeRecipient.objects.filter(notice__test=test_).values_list("student_id", flat=True)
    assert sorted(recipients) == (sorted([student.pk, classmate.pk]) if published else [])


def test_reading_one_result_runs_two_queries(client_for, teacher, student, test_):
    result = services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    # AUTH, the result with its test and the caller's role.
    assert _count(client_for(student), "get", f"/api/test-results/{result.pk}/") == AUTH + 1


def test_reading_one_test_runs_two_queries(client_for, student, test_):
    # AUTH, the test with the caller's role.
    assert _count(client_for(student), "get", f"/api/tests/{test_.pk}/") == AUTH + 1


def _graded(test, teacher, n, prefix):
    """n more students of the test's course, each with a result on it."""
    students = _students(test.course, n, prefix)
    services.results_upsert(test=test, items=[(s.pk, Decimal(i % 100)) for i, s in enumerate(students)], by=teacher)
    return students


@pytest.mark.parametrize("n", [2, 200])
def test_reading_a_test_or_a_result_runs_two_queries_whatever_else_is_recorded(client_for, teacher, test_, n):
    students = _graded(test_, teacher, n, "r")
    result = TestResult.objects.get(test=test_, student=students[0])
    client = client_for(teacher)
    # AUTH, the object with the caller's role.
    assert _count(client, "get", f"/api/tests/{test_.pk}/") == AUTH + 1
    assert _count(client, "get", f"/api/test-results/{result.pk}/") == AUTH + 1


@pytest.mark.parametrize("n", [2, 200])
def test_stats_run_three_queries_for_any_size(client_for, teacher, test_, n):
    _graded(test_, teacher, n, "s")
    # AUTH, the test with the caller's role, the statistics.
    assert _count(client_for(teacher), "get", f"/api/tests/{test_.pk}/stats/") == AUTH + 2


@pytest.mark.parametrize("n", [2, 200])
def test_history_runs_four_queries_for_any_length(client_for, teacher, test_, student, n):
    result = services.result_record(test=test_, student=student, score=Decimal(0), by=teacher)
    for score in range(1, n):
        result = services.result_update(result=result, score=Decimal(score % 100), by=teacher)
    # AUTH, the result with its test and the caller's role, COUNT(*), the page.
    assert _count(client_for(teacher), "get", f"/api/test-results/{result.pk}/history/?page_size=1000") == AUTH + 3


@pytest.mark.parametrize("elsewhere", [0, 180])
def test_a_students_first_page_is_one_statement_whatever_they_have_elsewhere(client_for, student, course, elsewhere):
    """20 results in one course, and none or 180 more in other courses: the same queries for the first page."""
    teacher = User.objects.create_user("t@example.com")

    def take_tests(course, n, day):
        Enrollment.objects.get_or_create(user=student, course=course, defaults={"role": Role.STUDENT})
        category = first_category(course)
        tests = Test.objects.bulk_create(
            [
                Test(course=course, category=category, name=f"T{i}", date=date(2026, 1, 1) + timedelta(days=day + i))
                for i in range(n)
            ]
        )
        TestResult.objects.bulk_create([TestResult(test=t, student=student, grader=teacher, score=1) for t in tests])

    take_tests(course, 20, day=0)
    for i in range(elsewhere // 20):
        take_tests(Course.objects.create(name=f"Other {i}"), 20, day=100 + 20 * i)
    client = client_for(student)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/api/users/{student.pk}/test-results/", {"page_size": 20})
    assert response.json()["count"] == 20 + elsewhere
    assert [r["test_name"] for r in response.json()["results"]] == [f"T{i}" for i in range(20)]
    # AUTH, the page with its count.
    assert len(queries) == AUTH + 1
