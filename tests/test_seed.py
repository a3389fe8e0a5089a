from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses.models import Course, Enrollment, Feedback, Role
from grading.grades import course_grades
from grading.management.commands.seed import category_specs
from grading.models import GradeCategory, GradeChange, Test, TestResult


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
def test_bulk_seed_keeps_one_category_by_points_by_default():
    call_command("seed", students=3, tests=2, courses=1, stdout=StringIO())
    course = Course.objects.get(name="Bulk course 001")
    assert course.weighting == "points"
    assert list(course.grade_categories.values_list("name", "weight")) == [("Tests", Decimal(100))]
    assert not TestResult.objects.filter(test__course=course, excused=True).exists()


@pytest.mark.django_db
def test_bulk_seed_with_categories_spreads_the_tests_and_grades_every_student():
    call_command("seed", "--students", "5", "--tests", "8", "--courses", "1", "--categories", "4", stdout=StringIO())
    course = Course.objects.get(name="Bulk course 001")
    assert course.weighting == "categories"
    categories = list(GradeCategory.objects.filter(course=course).order_by("position"))
    assert [(c.name, c.weight, c.drop_lowest, c.drop_highest) for c in categories] == [
        ("Exams", Decimal(40), 0, 0),
        ("Quizzes", Decimal(30), 1, 0),
        ("Homework", Decimal(20), 2, 0),
        ("Project", Decimal(10), 0, 0),
    ]
    assert [c.tests.count() for c in categories] == [2, 2, 2, 2]
    assert TestResult.objects.filter(test__course=course).count() == 40

    rows = course_grades(course)
    assert len(rows) == 5
    for row in rows:
        assert row["current_percent"] is not None
        assert row["final_percent"] is not None
        assert [c["name"] for c in row["categories"]] == ["Exams", "Quizzes", "Homework", "Project"]
        assert all(c["current_percent"] is not None for c in row["categories"])
        # Quizzes drop their lowest; Homework would drop two of two, but keeps one.
        assert [len(c["dropped"]) for c in row["categories"]] == [0, 1, 1, 0]

    # Running it again changes nothing.
    before = _snapshot(), list(GradeCategory.objects.values_list("course__name", "name", "weight", "updated_at"))
    call_command("seed", "--students", "5", "--tests", "8", "--courses", "1", "--categories", "4", stdout=StringIO())
    assert (_snapshot(), list(GradeCategory.objects.values_list("course__name", "name", "weight", "updated_at"))) == (
        before
    )


@pytest.mark.django_db
def test_bulk_seed_with_categories_excuses_one_result_in_fifty():
    call_command("seed", students=50, tests=4, courses=1, categories=2, stdout=StringIO())
    results = TestResult.objects.filter(test__course__name="Bulk course 001")
    assert results.count() == 200
    assert results.filter(excused=True, score__isnull=True).count() == 4
    assert results.filter(excused=False, score__isnull=False).count() == 196


def test_category_weights_sum_to_100_for_any_count():
    assert category_specs(1) == [("Exams", Decimal(100), 0, 0)]
    assert [w for _, w, _, _ in category_specs(3)] == [Decimal("44.45"), Decimal("33.33"), Decimal("22.22")]
    for count in range(1, 13):
        specs = category_specs(count)
        assert len({name for name, *_ in specs}) == count
        assert sum(w for _, w, _, _ in specs) == 100
    assert [name for name, *_ in category_specs(6)][4:] == ["Exams 2", "Quizzes 2"]


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
