"""GET /api/courses/{id}/gradebook/: every student's scores per test, in a fixed number of queries."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.models import Enrollment, Role
from grading import reports, services
from grading.models import Test


def url(course_id):
    return f"/api/courses/{course_id}/gradebook/"


def enroll(course, *users, role=Role.STUDENT):
    for user in users:
        Enrollment.objects.create(user=user, course=course, role=role)


@pytest.fixture
def final(course):
    return Test.objects.create(course=course, name="Final", date=date(2026, 12, 20), max_score=Decimal("50"))


@time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=UTC), tick=False)  # the midterm is past, the final to come
def test_gradebook_lists_every_student_with_a_score_or_null_per_test(
    course, teacher, student, make_user, test_, final, client_for
):
    newcomer = make_user("newcomer@example.com", first_name="Ada", last_name="Zed")
    enroll(course, newcomer)
    services.result_record(test=test_, student=student, score=Decimal("87.5"), by=teacher)
    services.result_record(test=final, student=student, score=Decimal("40"), by=teacher)
    services.result_record(test=final, student=newcomer, score=Decimal("25"), by=teacher)

    response = client_for(teacher).get(url(course.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["course"] == {"id": course.pk, "name": course.name}
    assert [t["id"] for t in body["tests"]] == [test_.pk, final.pk]
    assert body["tests"][1] == {
        "id": final.pk,
        "name": "Final",
        "date": "2026-12-20",
        "max_score": 50,
        "stats": {"count": 2, "excused": 0, "mean": 65.0, "median": 65.0, "min": 50.0, "max": 80.0, "stddev": 15.0},
    }
    assert body["students"] == [
        {
            "id": student.pk,
            "email": "student@example.com",
            "first_name": "Shakuntala",
            "last_name": "Devi",
            "scores": {str(test_.pk): 87.5, str(final.pk): 40},
            "average_percent": 83.8,  # mean of 87.5 % and 80 %, half-up to one decimal
            "excused": [],
            "missing": [],
            "current_percent": 85.0,  # 127.5 of 150 points
            "final_percent": 85.0,
            "letter": "B",
            "cells": {str(t): {"submitted_at": None, "late": False, "missing": False} for t in (test_.pk, final.pk)},
        },
        {
            "id": newcomer.pk,
            "email": "newcomer@example.com",
            "first_name": "Ada",
            "last_name": "Zed",
            "scores": {str(test_.pk): None, str(final.pk): 25},
            "average_percent": 50.0,
            "excused": [],
            "missing": [test_.pk],  # the midterm is past and published; the final is still to come
            "current_percent": 50.0,
            "final_percent": 16.67,  # 25 of 150 points, the missing midterm counting 0
            "letter": "F",
            "cells": {
                str(test_.pk): {"submitted_at": None, "late": False, "missing": True},
                str(final.pk): {"submitted_at": None, "late": False, "missing": False},
            },
        },
    ]


def test_a_test_without_results_has_null_stats(course, teacher, test_, client_for):
    body = client_for(teacher).get(url(course.pk)).json()

    assert body["tests"][0]["stats"] == {
        "count": 0,
        "excused": 0,
        "mean": None,
        "median": None,
        "min": None,
        "max": None,
        "stddev": None,
    }


def test_a_student_without_results_has_null_average(course, teacher, student, test_, client_for):
    body = client_for(teacher).get(url(course.pk)).json()

    assert body["students"][0]["scores"] == {str(test_.pk): None}
    assert body["students"][0]["average_percent"] is None


def test_students_are_ordered_by_last_name_first_name_then_email(course, teacher, make_user, client_for):
    users = [
        make_user("b@example.com", first_name="Ann", last_name="Lee"),
        make_user("a@example.com", first_name="Ann", last_name="Lee"),
        make_user("c@example.com", first_name="Zoe", last_name="Adams"),
        make_user("d@example.com", first_name="Bob", last_name="Lee"),
    ]
    enroll(course, *users)

    body = client_for(teacher).get(url(course.pk)).json()

    assert [s["email"] for s in body["students"]] == [
        "c@example.com",  # Adams, Zoe
        "student@example.com",  # Devi, Shakuntala
        "a@example.com",  # Lee, Ann (a…)
        "b@example.com",  # Lee, Ann (b…)
        "d@example.com",  # Lee, Bob
    ]


def test_teachers_and_strangers_are_not_rows_of_the_gradebook(course, teacher, other_teacher, client_for):
    enroll(course, other_teacher, role=Role.TEACHER)

    body = client_for(teacher).get(url(course.pk)).json()

    assert [s["email"] for s in body["students"]] == ["student@example.com"]


def test_an_empty_course_has_an_empty_gradebook(other_course, other_teacher, client_for):
    body = client_for(other_teacher).get(url(other_course.pk)).json()

    assert body == {"course": {"id": other_course.pk, "name": other_course.name}, "tests": [], "students": []}


def _course_of(n, make_user, course, teacher, tests):
    users = [make_user() for _ in range(n)]
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    for test in tests:
        services.results_upsert(test=test, items=[(u.pk, Decimal(u.pk % 100)) for u in users], by=teacher)


def test_gradebook_query_count_is_the_same_for_5_and_200_students(course, teacher, make_user, test_, final, client_for):
    client = client_for(teacher)
    _course_of(5, make_user, course, teacher, [test_, final])
    with CaptureQueriesContext(connection) as small:
        assert client.get(url(course.pk)).status_code == 200
    _course_of(195, make_user, course, teacher, [test_, final])
    with CaptureQueriesContext(connection) as large:
        response = client.get(url(course.pk))

    assert len(response.json()["students"]) == 201
    assert len(small) == len(large)
    with CaptureQueriesContext(connection) as selector:
        reports.gradebook(course)
    # tests, students, results, per-test statistics; the grades: categories, the grades statement;
    # the latest attempts
    assert len(selector) == 7


def test_admin_reads_any_gradebook(admin_user, course, client_for):
    assert client_for(admin_user).get(url(course.pk)).status_code == 200


def test_gradebook_path_works_without_trailing_slash(teacher, course, client_for):
    assert client_for(teacher).get(f"/api/courses/{course.pk}/gradebook").status_code == 200


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_and_admins_read_the_gradebook(who, request, course, other_course, client_for):
    response = client_for(request.getfixturevalue(who)).get(url(course.pk))

    assert response.status_code == 403
    assert "detail" in response.json()


def test_anonymous_gradebook_request_is_401(course, client_for):
    assert client_for().get(url(course.pk)).status_code == 401


def test_gradebook_of_an_unknown_course_is_404(teacher, client_for):
    assert client_for(teacher).get(url(10**12)).status_code == 404
    assert client_for(teacher).get(url(10**30)).status_code == 404
