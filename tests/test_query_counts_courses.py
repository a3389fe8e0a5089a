"""Speed as behaviour: each list of users, courses, members, enrollments, feedback and a student's
results runs the same number of queries for 2 rows and for 200."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses.models import Course, Enrollment, Feedback, Role
from grading.models import GradeCategory, Test, TestResult
from tests.conftest import first_category

pytestmark = pytest.mark.django_db


def queries_for(client, path):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, {"page_size": 1000})
    assert response.status_code == 200, response.content
    return len(captured), response.json()


def grow(n, *, course, teacher):
    """n more users, each a student of ``course`` with one piece of feedback on it."""
    start = User.objects.count()
    users = User.objects.bulk_create(User(email=f"bulk{start + i}@example.com") for i in range(n))
    Enrollment.objects.bulk_create(Enrollment(user=u, course=course, role=Role.STUDENT) for u in users)
    Feedback.objects.bulk_create(Feedback(course=course, student=u, feedback="ok") for u in users)
    return users


def test_users_list_queries_do_not_grow(client_for, admin_user, make_user):
    client = client_for(admin_user)
    make_user()
    small, body = queries_for(client, "/api/users/")
    assert body["count"] == 2
    User.objects.bulk_create(User(email=f"u{i}@example.com") for i in range(198))
    large, body = queries_for(client, "/api/users/")
    assert body["count"] == 200
    # auth user, count, page
    assert small == large == 3


def test_course_list_queries_do_not_grow(client_for, teacher, student):
    client = client_for(student)

    def add_courses(n):
        courses = Course.objects.bulk_create(Course(name=f"C{i}") for i in range(n))
        Enrollment.objects.bulk_create(Enrollment(user=teacher, course=c, role=Role.TEACHER) for c in courses)
        categories = GradeCategory.objects.bulk_create(GradeCategory(course=c, name="Tests") for c in courses)
        Test.objects.bulk_create(
            Test(course=c, category=g, name=f"T{c.pk}", date=date(2026, 12, 1))
            for c, g in zip(courses, categories, strict=True)
        )

    add_courses(2)
    small, body = queries_for(client, "/api/courses/")
    assert body["count"] == 2
    assert all(len(c["teachers"]) == 1 and len(c["tests"]) == 1 for c in body["results"])
    add_courses(198)
    large, body = queries_for(client, "/api/courses/")
    assert body["count"] == 200
    # auth user, count, the page (each course with my_role, and its teachers and tests as JSON)
    assert small == large == 3


def test_course_detail_is_two_queries(client_for, student, course, test_):
    client = client_for(student)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(f"/api/courses/{course.pk}/")
    assert response.status_code == 200
    # auth user; the course with my_role, its teachers and its tests (the database writes the lists)
    assert len(captured) == 2


def test_profile_is_one_query(client_for, student):
    client = client_for(student)
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/api/profile/").status_code == 200
    assert len(captured) == 1  # the auth user


def test_members_and_feedback_queries_do_not_grow(client_for, teacher, course):
    client = client_for(teacher)
    grow(1, course=course, teacher=teacher)
    small_members, body = queries_for(client, f"/api/courses/{course.pk}/members/")
    assert body["count"] == 3
    small_feedback, body = queries_for(client, f"/api/courses/{course.pk}/feedback/")
    assert body["count"] == 1
    grow(199, course=course, teacher=teacher)
    large_members, body = queries_for(client, f"/api/courses/{course.pk}/members/")
    assert body["count"] == 202
    large_feedback, body = queries_for(client, f"/api/courses/{course.pk}/feedback/")
    assert body["count"] == 200
    # auth user, course, caller's role, count, page
    assert small_members == large_members == 5
    # auth user, course with the caller's role, count, page
    assert small_feedback == large_feedback == 4


def test_a_users_enrollments_queries_do_not_grow(client_for, student, course):
    client = client_for(student)
    small, body = queries_for(client, f"/api/users/{student.pk}/courses/")
    assert body["count"] == 1
    courses = Course.objects.bulk_create(Course(name=f"C{i}") for i in range(199))
    Enrollment.objects.bulk_create(Enrollment(user=student, course=c, role=Role.STUDENT) for c in courses)
    large, body = queries_for(client, f"/api/users/{student.pk}/courses/")
    assert body["count"] == 200
    # auth user, count, page
    assert small == large == 3


def test_a_students_results_queries_do_not_grow(client_for, student, teacher, course):
    client = client_for(student)

    def add_results(n):
        tests = Test.objects.bulk_create(
            Test(course=course, category=first_category(course), name=f"T{i}", date=date(2026, 12, 1), max_score=10)
            for i in range(n)
        )
        TestResult.objects.bulk_create(
            TestResult(test=t, student=student, grader=teacher, score=Decimal("7.5")) for t in tests
        )

    add_results(2)
    small, body = queries_for(client, f"/api/users/{student.pk}/test-results/")
    assert body["count"] == 2
    assert body["results"][0]["percent"] == 75.0
    add_results(198)
    large, body = queries_for(client, f"/api/users/{student.pk}/test-results/")
    assert body["count"] == 200
    # auth user, the page with its count: the caller reading their own results needs no lookup of the user
    assert small == large == 2


@pytest.mark.parametrize("n", [1, 50])
def test_a_course_page_is_two_queries_for_any_number_of_teachers_and_tests(client_for, student, course, n):
    teachers = User.objects.bulk_create(User(email=f"teacher{i}@example.com") for i in range(n))
    Enrollment.objects.bulk_create(Enrollment(user=t, course=course, role=Role.TEACHER) for t in teachers)
    category = first_category(course)
    Test.objects.bulk_create(
        Test(course=course, category=category, name=f"T{i}", date=date(2026, 12, 1)) for i in range(n)
    )
    client = client_for(student)
    with CaptureQueriesContext(connection) as captured:
        body = client.get(f"/api/courses/{course.pk}/").json()
    assert len(body["teachers"]) == n + 1 and len(body["tests"]) == n
    # auth user; the course with my_role, its teachers and its tests
    assert len(captured) == 2


@pytest.mark.parametrize("n", [2, 200])
def test_reading_a_user_is_one_query_whatever_the_number_of_users(client_for, admin_user, student, n):
    User.objects.bulk_create(User(email=f"many{i}@example.com") for i in range(n))
    client = client_for(admin_user)
    for path in (f"/api/users/{student.pk}/", "/api/profile/"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path).status_code == 200
        # auth user, and for another user than the caller, that user
        assert len(captured) == (2 if "users" in path else 1)
