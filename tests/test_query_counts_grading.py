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
from courses.models import Enrollment, Role
from grading import services
from grading.models import Test, TestResult

pytestmark = pytest.mark.django_db

AUTH = 1


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
def test_results_list_runs_four_queries_for_any_size(client_for, teacher, course, test_, n):
    students = _students(course, n)
    TestResult.objects.bulk_create(
        [TestResult(test=test_, student=s, score=Decimal(i % 100)) for i, s in enumerate(students)]
    )
    # AUTH, the test with the caller's role, COUNT(*), the page.
    url = f"/api/tests/{test_.pk}/results/?page_size=1000&ordering=-score"
    assert _count(client_for(teacher), "get", url) == AUTH + 3


@pytest.mark.parametrize("n", [2, 200])
def test_tests_list_runs_four_queries_for_any_size(client_for, student, course, n):
    Test.objects.bulk_create(
        [Test(course=course, name=f"T{i}", date=date(2026, 1, 1) + timedelta(days=i)) for i in range(n)]
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
    # INSERT history, RELEASE SAVEPOINT.
    assert _count(client_for(teacher), "put", f"/api/tests/{test_.pk}/results/", items) == AUTH + 9


def test_grading_one_student_runs_seven_queries(client_for, teacher, course, test_, student):
    # AUTH, the test with the caller's role, SAVEPOINT, the test's row share-locked, "enrolled?",
    # INSERT the result (the unique constraint answers "graded already?"), INSERT its history,
    # RELEASE SAVEPOINT. (Outside a test's transaction the savepoint pair is BEGIN/COMMIT.)
    url = f"/api/tests/{test_.pk}/results/"
    assert _count(client_for(teacher), "post", url, {"student": student.pk, "score": 5}) == AUTH + 7


def test_reading_one_result_runs_two_queries(client_for, teacher, student, test_):
    result = services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    # AUTH, the result with its test and the caller's role.
    assert _count(client_for(student), "get", f"/api/test-results/{result.pk}/") == AUTH + 1


def test_reading_one_test_runs_two_queries(client_for, student, test_):
    # AUTH, the test with the caller's role.
    assert _count(client_for(student), "get", f"/api/tests/{test_.pk}/") == AUTH + 1
