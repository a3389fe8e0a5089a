"""``GET /api/courses/{id}/grades/``: who reads which rows, their shape, ordering, paging, and queries.

The rules of the computation are tested in test_grades_rules.py and against a reference in
test_grades_property.py; here is what a client of the endpoint sees.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from courses.models import Enrollment, Role
from grading import services
from grading.models import Test
from tests.conftest import first_category

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Fixed on 2026-12-05: tests dated before it are due."""
    with time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=UTC), tick=False):
        yield


def grades_url(course, **query):
    suffix = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/api/courses/{course.pk}/grades/" + (f"?{suffix}" if suffix else "")


@pytest.fixture
def weighted(course, teacher, student, classmate):
    """Two categories (exams 60, quizzes 40, drop the lowest quiz); the student has every grade, the
    classmate one exam; a quiz still hidden from students."""
    course.weighting = "categories"
    course.save()
    exams = first_category(course)
    services.category_update(category=exams, name="Exams", weight=Decimal(60))
    quizzes = services.category_create(course=course, name="Quizzes", weight=Decimal(40), drop_lowest=1)
    midterm = Test.objects.create(course=course, category=exams, name="Midterm", date=date(2026, 11, 1))
    q1 = Test.objects.create(course=course, category=quizzes, name="Q1", date=date(2026, 11, 2), max_score=10)
    q2 = Test.objects.create(course=course, category=quizzes, name="Q2", date=date(2026, 11, 3), max_score=10)
    q3 = Test.objects.create(
        course=course, category=quizzes, name="Q3", date=date(2026, 11, 4), max_score=10, results_published=False
    )
    for test, score in ((midterm, 80), (q1, 5), (q2, 9), (q3, 10)):
        services.result_record(test=test, student=student, score=Decimal(score), by=teacher)
    services.result_record(test=midterm, student=classmate, score=Decimal(70), by=teacher)
    return {"exams": exams, "quizzes": quizzes, "midterm": midterm, "q1": q1, "q2": q2, "q3": q3}


def test_teacher_reads_every_students_grade(client_for, teacher, student, classmate, course, weighted):
    response = client_for(teacher).get(grades_url(course))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    mine = next(row for row in body["results"] if row["student"]["id"] == student.pk)
    # Quizzes: 5, 9, 10 of 10, the lowest (Q1) dropped: 19/20 = 95 %. Exams 80 %.
    # 0.6 x 80 + 0.4 x 95 = 86.
    assert mine == {
        "student": {"id": student.pk, "email": student.email, "first_name": "Shakuntala", "last_name": "Devi"},
        "current_percent": 86.0,
        "final_percent": 86.0,
        "letter": "B",
        "final_letter": "B",
        "missing": [],
        "categories": [
            {
                "id": weighted["exams"].pk,
                "name": "Exams",
                "weight": 60,
                "current_percent": 80.0,
                "final_percent": 80.0,
                "dropped": [],
                "final_dropped": [],
            },
            {
                "id": weighted["quizzes"].pk,
                "name": "Quizzes",
                "weight": 40,
                "current_percent": 95.0,
                "final_percent": 95.0,
                "dropped": [weighted["q1"].pk],
                "final_dropped": [weighted["q1"].pk],
            },
        ],
    }
    theirs = next(row for row in body["results"] if row["student"]["id"] == classmate.pk)
    # Only the exam counts now (weights re-normalised); the final grade counts the two published,
    # past quizzes they missed as 0 (one of them dropped): 0.6 x 70 + 0.4 x 0 = 42.
    assert (theirs["current_percent"], theirs["final_percent"], theirs["letter"]) == (70.0, 42.0, "C")
    assert theirs["missing"] == [weighted["q1"].pk, weighted["q2"].pk]


def test_a_student_reads_only_their_own_grade_over_published_results(client_for, student, course, weighted):
    response = client_for(student).get(grades_url(course))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert row["student"]["id"] == student.pk
    # Q3 (10/10) is hidden: quizzes 5 and 9, the 5 dropped: 90 %. 0.6 x 80 + 0.4 x 90 = 84.
    assert row["current_percent"] == 84.0
    assert row["categories"][1]["current_percent"] == 90.0


def test_an_admin_reads_every_row(client_for, admin_user, course, weighted):
    assert client_for(admin_user).get(grades_url(course)).json()["count"] == 2


@pytest.mark.parametrize(("who", "status"), [("stranger", 403), ("other_teacher", 403), (None, 401)])
def test_others_may_not_read_grades(client_for, request, course, who, status):
    user = request.getfixturevalue(who) if who else None
    response = client_for(user).get(grades_url(course))
    assert response.status_code == status
    assert "detail" in response.json()


def test_an_unknown_course_is_404(client_for, teacher):
    assert client_for(teacher).get("/api/courses/999999/grades/").status_code == 404
    assert client_for(teacher).get("/api/courses/abc/grades/").status_code == 404


def test_grades_order_by_percent_with_nulls_last(client_for, teacher, course, student, classmate, make_user):
    test = Test.objects.create(course=course, name="T", date=date(2026, 12, 1))
    ungraded = make_user("ungraded@example.com", last_name="Aaron")
    Enrollment.objects.create(user=ungraded, course=course, role=Role.STUDENT)
    services.result_record(test=test, student=student, score=Decimal(60), by=teacher)
    services.result_record(test=test, student=classmate, score=Decimal(90), by=teacher)
    client = client_for(teacher)

    def order(**query):
        return [row["student"]["email"] for row in client.get(grades_url(course, **query)).json()["results"]]

    assert order() == ["ungraded@example.com", "student@example.com", "classmate@example.com"]  # by last name
    assert order(ordering="current_percent") == ["student@example.com", "classmate@example.com", "ungraded@example.com"]
    assert order(ordering="-current_percent") == [
        "classmate@example.com",
        "student@example.com",
        "ungraded@example.com",
    ]
    assert order(ordering="-email") == ["ungraded@example.com", "student@example.com", "classmate@example.com"]
    assert order(ordering="nonsense") == order()  # an unknown field is ignored, as on every list


def test_grades_are_paginated(client_for, teacher, course, make_user):
    for i in range(5):
        Enrollment.objects.create(user=make_user(f"s{i}@example.com"), course=course, role=Role.STUDENT)
    body = client_for(teacher).get(grades_url(course, page_size=2, page=2)).json()
    assert body["count"] == 6
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]


def _course_of(n, course, teacher, tests, start):
    users = User.objects.bulk_create(User(email=f"bulk{start + i}@example.com") for i in range(n))
    Enrollment.objects.bulk_create(Enrollment(user=u, course=course, role=Role.STUDENT) for u in users)
    for test in tests:
        services.results_upsert(
            test=test, items=[(u.pk, Decimal(u.pk % 100) if u.pk % 7 else None) for u in users], by=teacher
        )


def test_grades_take_the_same_queries_for_5_and_200_students(client_for, teacher, course):
    quizzes = services.category_create(course=course, name="Quizzes", drop_lowest=1)
    tests = [
        Test.objects.create(course=course, name=f"T{i}", date=date(2026, 11, 1 + i), category=c)
        for i, c in enumerate([first_category(course), quizzes, quizzes, quizzes])
    ]
    client = client_for(teacher)
    _course_of(5, course, teacher, tests, 0)
    with CaptureQueriesContext(connection) as small:
        assert client.get(grades_url(course)).json()["count"] == 6
    _course_of(195, course, teacher, tests, 1000)
    with CaptureQueriesContext(connection) as large:
        assert client.get(grades_url(course, page_size=1000)).json()["count"] == 201
    # The caller, the course, its categories, its students, the grades statement.
    assert len(small) == len(large) == 5
