"""/api/courses/…: listing, reading, creating, changing and deleting courses."""

from datetime import date
from decimal import Decimal

import pytest

from courses.models import Course, Enrollment, Role
from grading import services as grading
from grading.models import GradeChange, Test, TestResult

pytestmark = pytest.mark.django_db


DEFAULT_SCHEME = [
    {"letter": "A", "min_percent": 90},
    {"letter": "B", "min_percent": 80},
    {"letter": "C", "min_percent": 70},
    {"letter": "D", "min_percent": 60},
    {"letter": "F", "min_percent": 0},
]


def summary(user):
    return {"id": user.pk, "email": user.email, "first_name": user.first_name, "last_name": user.last_name}


def test_course_detail_has_teachers_tests_and_my_role(client_for, student, teacher, course, test_):
    response = client_for(student).get(f"/api/courses/{course.pk}/")
    assert response.status_code == 200
    test_.refresh_from_db()
    assert response.json() == {
        "id": course.pk,
        "name": "CRUD with Django",
        "details": "Models, views, migrations.",
        "teachers": [summary(teacher)],
        "tests": [
            {
                "id": test_.pk,
                "course": course.pk,
                "name": "Midterm",
                "date": "2026-12-01",
                "max_score": 100,
                "results_published": True,
                "category": test_.category_id,
                "never_drop": False,
                "submission_type": "none",
                "unlock_at": None,
                "due_at": None,
                "lock_at": None,
                "allowed_attempts": 1,
                "max_files": 10,
                "allowed_extensions": None,
                "updated_at": test_.updated_at.isoformat().replace("+00:00", "Z"),
                "version": 1,
                "results_version": 0,
            }
        ],
        "my_role": "STUDENT",
        "weighting": "points",
        "grading_scheme": DEFAULT_SCHEME,
        "time_zone": "UTC",
        "late_policy": None,
        "version": 1,
    }


def test_any_signed_in_user_reads_any_course(client_for, stranger, teacher, course):
    body = client_for(stranger).get(f"/api/courses/{course.pk}").json()
    assert body["my_role"] is None
    assert client_for(teacher).get(f"/api/courses/{course.pk}/").json()["my_role"] == "TEACHER"


def test_anonymous_cannot_read_courses(client_for, course):
    assert client_for().get(f"/api/courses/{course.pk}/").status_code == 401
    assert client_for().get("/api/courses/").status_code == 401


def test_unknown_course_is_404(client_for, stranger):
    assert client_for(stranger).get("/api/courses/424242/").status_code == 404
    assert client_for(stranger).get("/api/courses/99999999999999999999/").status_code == 404
    assert client_for(stranger).get("/api/courses/x/").status_code == 404


def test_course_list_has_every_course_with_my_role(client_for, student, course, other_course):
    body = client_for(student).get("/api/courses/").json()
    assert body["count"] == 2
    assert [(c["name"], c["my_role"]) for c in body["results"]] == [
        ("CRUD with Django", "STUDENT"),
        ("Computability", None),
    ]


def test_course_list_filters_by_my_role(client_for, teacher, course, other_course):
    Enrollment.objects.create(user=teacher, course=other_course, role=Role.STUDENT)
    client = client_for(teacher)
    assert [c["id"] for c in client.get("/api/courses/", {"role": "TEACHER"}).json()["results"]] == [course.pk]
    assert [c["id"] for c in client.get("/api/courses/", {"role": "STUDENT"}).json()["results"]] == [other_course.pk]


def test_course_list_rejects_an_unknown_role(client_for, teacher, course):
    response = client_for(teacher).get("/api/courses/", {"role": "JANITOR"})
    assert response.status_code == 400
    assert "role" in response.json()


def test_course_list_searches_name_and_details(client_for, teacher, course, other_course):
    body = client_for(teacher).get("/api/courses/", {"search": "migrations"}).json()
    assert [c["id"] for c in body["results"]] == [course.pk]


def test_course_list_orders_by_name(client_for, teacher, course, other_course):
    Course.objects.filter(pk=course.pk).update(name="Basics")
    body = client_for(teacher).get("/api/courses/", {"ordering": "name"}).json()
    assert [c["name"] for c in body["results"]] == ["Basics", "Computability"]
    body = client_for(teacher).get("/api/courses/", {"ordering": "-id"}).json()
    assert [c["id"] for c in body["results"]] == [other_course.pk, course.pk]


def test_creating_a_course_makes_the_creator_its_teacher(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", {"name": "Logic", "details": "Proofs."}, format="json")
    assert response.status_code == 201
    course = Course.objects.get(name="Logic")
    assert response.json() == {
        "id": course.pk,
        "name": "Logic",
        "details": "Proofs.",
        "teachers": [summary(stranger)],
        "tests": [],
        "my_role": "TEACHER",
        "weighting": "points",
        "grading_scheme": DEFAULT_SCHEME,
        "time_zone": "UTC",
        "late_policy": None,
        "version": 1,
    }
    assert Enrollment.objects.get(course=course).role == Role.TEACHER
    # Every new course starts with one grade category holding everything.
    assert list(course.grade_categories.values_list("name", "weight", "position")) == [("Tests", 100, 0)]


def test_creating_a_course_without_details(client_for, stranger):
    response = client_for(stranger).post("/api/courses", {"name": "Logic"}, format="json")
    assert response.status_code == 201
    assert response.json()["details"] == ""


@pytest.mark.parametrize("payload", [{}, {"name": ""}, {"name": "x" * 201}, {"name": 5}, {"name": None}])
def test_creating_a_course_needs_a_name(client_for, stranger, payload):
    response = client_for(stranger).post("/api/courses/", payload, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert not Course.objects.exists()


def test_creating_a_course_with_unknown_fields_is_400(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", {"name": "Logic", "teacher": 1}, format="json")
    assert response.status_code == 400
    assert response.json() == {"teacher": ["Unknown field."]}


def test_unicode_course_names(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", {"name": "Mathématiques — 数学 ∑"}, format="json")
    assert response.status_code == 201
    assert Course.objects.get().name == "Mathématiques — 数学 ∑"


def test_teacher_updates_the_course(client_for, teacher, course):
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", {"details": "New."}, format="json")
    assert response.status_code == 200
    assert response.json()["details"] == "New."
    course.refresh_from_db()
    assert (course.name, course.details) == ("CRUD with Django", "New.")


def test_teacher_puts_back_what_they_read(client_for, teacher, course, test_):
    client = client_for(teacher)
    body = client.get(f"/api/courses/{course.pk}/").json()
    body["name"] = "CRUD with Django, 2nd ed."
    response = client.put(f"/api/courses/{course.pk}/", body, format="json")
    assert response.status_code == 200
    course.refresh_from_db()
    assert course.name == "CRUD with Django, 2nd ed."


def test_put_needs_the_name(client_for, teacher, course):
    response = client_for(teacher).put(f"/api/courses/{course.pk}/", {"details": "x"}, format="json")
    assert response.status_code == 400


def test_admin_updates_any_course(client_for, admin_user, course):
    assert client_for(admin_user).patch(f"/api/courses/{course.pk}/", {"name": "A"}, format="json").status_code == 200


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_others_cannot_update_the_course(request, client_for, course, who):
    user = request.getfixturevalue(who)
    response = client_for(user).patch(f"/api/courses/{course.pk}/", {"name": "Hacked"}, format="json")
    assert response.status_code == 403
    course.refresh_from_db()
    assert course.name == "CRUD with Django"


def test_teacher_deletes_a_course_with_tests_but_no_results(client_for, teacher, course, test_):
    response = client_for(teacher).delete(f"/api/courses/{course.pk}/")
    assert response.status_code == 204
    assert not Course.objects.filter(pk=course.pk).exists()
    assert not Test.objects.filter(pk=test_.pk).exists()


def test_deleting_a_course_with_results_is_409(client_for, teacher, student, course, test_):
    grading.result_record(test=test_, student=student, score=Decimal("0"), by=teacher)
    response = client_for(teacher).delete(f"/api/courses/{course.pk}/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert Course.objects.filter(pk=course.pk).exists()
    assert TestResult.objects.count() == 1


def test_forced_delete_removes_the_course_and_its_results(client_for, teacher, student, course, test_):
    grading.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)
    response = client_for(teacher).delete(f"/api/courses/{course.pk}/?force=true")
    assert response.status_code == 204
    assert not Course.objects.exists()
    assert not TestResult.objects.exists()
    # History is never deleted: the result's creation and its deletion stay on record.
    assert list(GradeChange.objects.filter(test_id=test_.pk).values_list("action", flat=True).order_by("id")) == [
        "created",
        "deleted",
    ]


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_others_cannot_delete_the_course(request, client_for, course, who):
    user = request.getfixturevalue(who)
    assert client_for(user).delete(f"/api/courses/{course.pk}/?force=true").status_code == 403
    assert Course.objects.filter(pk=course.pk).exists()


def test_admin_deletes_any_course(client_for, admin_user, course):
    assert client_for(admin_user).delete(f"/api/courses/{course.pk}/").status_code == 204


def test_deleting_an_unknown_course_is_404(client_for, admin_user):
    assert client_for(admin_user).delete("/api/courses/123456/").status_code == 404


def test_course_tests_are_ordered_by_date(client_for, teacher, course):
    later = Test.objects.create(course=course, name="Final", date=date(2027, 1, 10))
    earlier = Test.objects.create(course=course, name="Quiz", date=date(2026, 10, 1))
    body = client_for(teacher).get(f"/api/courses/{course.pk}/").json()
    assert [t["id"] for t in body["tests"]] == [earlier.pk, later.pk]


def test_the_course_page_shows_tests_and_teachers_exactly_as_their_own_endpoints_do(client_for, teacher, course, test_):
    from datetime import UTC, datetime

    # A whole-second timestamp too, where formats most often differ.
    Test.objects.filter(pk=test_.pk).update(updated_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    second = Test.objects.create(course=course, name="Final", date=test_.date, max_score=Decimal("12.5"))
    client = client_for(teacher)
    page = client.get(f"/api/courses/{course.pk}/").json()
    listed = next(c for c in client.get("/api/courses/").json()["results"] if c["id"] == course.pk)
    assert page == listed
    assert page["tests"] == [client.get(f"/api/tests/{t.pk}/").json() for t in (test_, second)]
    assert page["tests"] == client.get(f"/api/courses/{course.pk}/tests/").json()["results"]
    assert page["teachers"] == [
        {"id": teacher.pk, "email": teacher.email, "first_name": teacher.first_name, "last_name": teacher.last_name}
    ]
    assert page["my_role"] == "TEACHER"
