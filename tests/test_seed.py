from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses.models import Course, Enrollment, Feedback, Role
from grading.models import GradeChange, Test, TestResult


def _snapshot():
    return {
        "users": sorted(User.objects.values_list("email", "first_name", "last_name")),
        "enrollments": sorted(Enrollment.objects.values_list("user__email", "course__name", "role")),
        "tests": sorted(Test.objects.values_list("course__name", "name", "date", "max_score")),
        "results": sorted(TestResult.objects.values_list("test__name", "student__email", "score", "updated_at")),
        "history": GradeChange.objects.count(),
        "feedback": sorted(Feedback.objects.values_list("student__email", "feedback")),
    }


@pytest.mark.django_db
def test_seed_loads_the_demo_course_exactly():
    call_command("seed", stdout=StringIO())
    course = Course.objects.get(name="CRUD with Prisma")
    assert set(course.enrollments.values_list("user__email", "role")) == {
        ("grace@hey.com", Role.TEACHER),
        ("devi@prisma.io", Role.STUDENT),
        ("david@prisma.io", Role.STUDENT),
    }
    grace = User.objects.get(email="grace@hey.com")
    assert (grace.first_name, grace.last_name) == ("Grace", "Bell")
    assert list(course.tests.order_by("date").values_list("name", flat=True)) == [
        "First test",
        "Second test",
        "Final exam",
    ]
    scores = {(r.test.name, r.student.email): r.score for r in TestResult.objects.select_related("test", "student")}
    assert scores == {
        ("First test", "devi@prisma.io"): Decimal("800"),
        ("First test", "david@prisma.io"): Decimal("650"),
        ("Second test", "devi@prisma.io"): Decimal("950"),
        ("Second test", "david@prisma.io"): Decimal("900"),
        ("Final exam", "devi@prisma.io"): Decimal("910"),
        ("Final exam", "david@prisma.io"): Decimal("950"),
    }
    assert set(TestResult.objects.values_list("grader__email", flat=True)) == {"grace@hey.com"}
    assert Feedback.objects.filter(course=course, student__email="devi@prisma.io").count() == 1
    assert GradeChange.objects.filter(action="created").count() == 6


@pytest.mark.django_db
def test_running_seed_twice_changes_nothing():
    call_command("seed", stdout=StringIO())
    before = _snapshot()
    call_command("seed", stdout=StringIO())
    assert _snapshot() == before


@pytest.mark.django_db
def test_bulk_seed_creates_the_requested_counts():
    call_command("seed", students=30, tests=4, courses=2, stdout=StringIO())
    bulk = Course.objects.filter(name__startswith="Bulk course")
    assert bulk.count() == 2
    assert Test.objects.filter(course__in=bulk).count() == 8
    assert Enrollment.objects.filter(course__in=bulk, role=Role.STUDENT).count() == 60
    assert TestResult.objects.filter(test__course__in=bulk).count() == 240
    # Running it again adds nothing.
    call_command("seed", students=30, tests=4, courses=2, stdout=StringIO())
    assert TestResult.objects.filter(test__course__in=bulk).count() == 240


@pytest.mark.django_db
def test_bulk_seed_inserts_in_bulk_not_row_by_row():
    def queries_to_seed(students):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            call_command("seed", students=students, tests=2, courses=1, stdout=StringIO())
            transaction.set_rollback(True)
        return len(queries)

    assert queries_to_seed(200) == queries_to_seed(10)


@pytest.mark.django_db
def test_the_demo_course_is_in_the_admin_for_its_teacher_and_a_superuser(client):
    call_command("seed", stdout=StringIO())
    boss = User.objects.create_superuser("boss@example.com")
    for user in (User.objects.get(email="grace@hey.com"), boss):
        client.force_login(user)
        response = client.get("/admin/courses/course/")
        assert response.status_code == 200
        assert "CRUD with Prisma" in response.content.decode()
