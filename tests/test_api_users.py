"""/api/profile/ and /api/users/…: who may read and change a user, and the User representation."""

from datetime import date
from decimal import Decimal

import pytest

from accounts.models import User
from courses.models import Enrollment, Role
from grading import services as grading
from grading.models import GradeChange, Test, TestResult

pytestmark = pytest.mark.django_db


def user_json(user):
    return {
        "id": user.pk,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "social": {"facebook": None, "twitter": None, "github": None, "website": None},
        "is_admin": user.is_superuser,
        "notify_by_email": user.notify_by_email,
        "version": user.version,
    }


# Profile


def test_profile_is_the_callers_user(client_for, student):
    response = client_for(student).get("/api/profile/")
    assert response.status_code == 200
    assert response.json() == user_json(student)


def test_profile_without_a_slash_works(client_for, student):
    assert client_for(student).get("/api/profile").status_code == 200


def test_profile_needs_a_token_and_says_bearer(client_for):
    response = client_for().get("/api/profile/")
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_profile_with_a_garbage_token_is_401(client):
    response = client.get("/api/profile/", HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_profile_shows_stored_social_links_and_admin_flag(client_for, admin_user):
    admin_user.social = {"github": "ada", "website": "https://ada.example"}
    admin_user.save()
    body = client_for(admin_user).get("/api/profile/").json()
    assert body["social"] == {"facebook": None, "twitter": None, "github": "ada", "website": "https://ada.example"}
    assert body["is_admin"] is True


def test_profile_is_read_only(client_for, student):
    assert client_for(student).post("/api/profile/", {}, format="json").status_code == 405


# Listing and creating users: admins only


def test_admin_lists_users_paginated(client_for, admin_user, student, teacher):
    response = client_for(admin_user).get("/api/users/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None and body["previous"] is None
    assert [u["email"] for u in body["results"]] == [student.email, teacher.email, admin_user.email] or {
        u["email"] for u in body["results"]
    } == {student.email, teacher.email, admin_user.email}


def test_users_list_filters_by_email_case_insensitively(client_for, admin_user, student, teacher):
    body = client_for(admin_user).get("/api/users/", {"email": "STUDENT@Example.com"}).json()
    assert [u["id"] for u in body["results"]] == [student.pk]


def test_users_list_searches_names_and_emails(client_for, admin_user, student, teacher):
    body = client_for(admin_user).get("/api/users/", {"search": "shakun"}).json()
    assert [u["id"] for u in body["results"]] == [student.pk]


def test_users_list_orders_by_last_name_descending(client_for, admin_user, student, teacher):
    body = client_for(admin_user).get("/api/users/", {"ordering": "-last_name"}).json()
    assert [u["last_name"] for u in body["results"]] == ["Devi", "Bell", "Admin"]


def test_users_list_pages(client_for, admin_user, make_user):
    for _ in range(4):
        make_user()
    body = client_for(admin_user).get("/api/users/", {"page_size": 2, "page": 2}).json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]


def test_page_size_above_the_maximum_is_clamped(client_for, admin_user, make_user):
    response = client_for(admin_user).get("/api/users/", {"page_size": 5000})
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_page_past_the_end_is_404(client_for, admin_user):
    response = client_for(admin_user).get("/api/users/", {"page": 99})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_non_admin_cannot_list_users(client_for, teacher):
    assert client_for(teacher).get("/api/users/").status_code == 403


def test_anonymous_cannot_list_users(client_for):
    assert client_for().get("/api/users/").status_code == 401


def test_admin_creates_a_user(client_for, admin_user):
    payload = {
        "email": "Grace@Hey.com",
        "first_name": "Grace",
        "last_name": "Bell",
        "social": {"twitter": "@grace", "github": "grace"},
    }
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 201
    user = User.objects.get(email="grace@hey.com")
    assert response.json() == {
        "id": user.pk,
        "email": "grace@hey.com",
        "first_name": "Grace",
        "last_name": "Bell",
        "social": {"facebook": None, "twitter": "@grace", "github": "grace", "website": None},
        "is_admin": False,
        "notify_by_email": True,
        "version": 1,
    }
    assert user.social == {"twitter": "@grace", "github": "grace"}


def test_admin_creates_another_admin(client_for, admin_user):
    payload = {"email": "root@example.com", "first_name": "R", "last_name": "Oot", "is_admin": True}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["is_admin"] is True
    assert User.objects.get(email="root@example.com").is_superuser


def test_creating_a_user_whose_email_exists_is_409_whatever_its_case(client_for, admin_user, student):
    payload = {"email": "STUDENT@example.com", "first_name": "A", "last_name": "B"}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert User.objects.count() == 2


def test_creating_a_user_needs_a_valid_email(client_for, admin_user):
    response = client_for(admin_user).post(
        "/api/users/", {"email": "not-an-email", "first_name": "A", "last_name": "B"}, format="json"
    )
    assert response.status_code == 400
    assert "email" in response.json()


def test_creating_a_user_needs_names(client_for, admin_user):
    response = client_for(admin_user).post("/api/users/", {"email": "x@example.com"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"first_name", "last_name"}


def test_unknown_social_key_is_400(client_for, admin_user):
    payload = {"email": "x@example.com", "first_name": "A", "last_name": "B", "social": {"myspace": "tom"}}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 400
    assert "myspace" in response.json()["social"]
    assert not User.objects.filter(email="x@example.com").exists()


def test_social_values_must_be_strings(client_for, admin_user):
    payload = {"email": "x@example.com", "first_name": "A", "last_name": "B", "social": {"github": ["a"]}}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 400
    assert "github" in response.json()["social"]


def test_social_must_be_an_object(client_for, admin_user):
    payload = {"email": "x@example.com", "first_name": "A", "last_name": "B", "social": "github"}
    assert client_for(admin_user).post("/api/users/", payload, format="json").status_code == 400


def test_unknown_fields_are_400(client_for, admin_user):
    payload = {"email": "x@example.com", "first_name": "A", "last_name": "B", "password": "hunter2"}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 400
    assert response.json() == {"password": ["Unknown field."]}


def test_unicode_names_round_trip(client_for, admin_user):
    payload = {"email": "zoe@example.com", "first_name": "Zoë 🦄", "last_name": "Łukasiewicz-李"}
    response = client_for(admin_user).post("/api/users/", payload, format="json")
    assert response.status_code == 201
    assert response.json()["first_name"] == "Zoë 🦄"
    assert User.objects.get(email="zoe@example.com").last_name == "Łukasiewicz-李"


def test_non_admin_cannot_create_users(client_for, teacher):
    payload = {"email": "x@example.com", "first_name": "A", "last_name": "B"}
    assert client_for(teacher).post("/api/users/", payload, format="json").status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


# One user


def test_user_reads_themself(client_for, student):
    response = client_for(student).get(f"/api/users/{student.pk}/")
    assert response.status_code == 200
    assert response.json() == user_json(student)


def test_admin_reads_anyone(client_for, admin_user, student):
    assert client_for(admin_user).get(f"/api/users/{student.pk}").json() == user_json(student)


def test_another_user_is_403(client_for, student, teacher):
    response = client_for(teacher).get(f"/api/users/{student.pk}/")
    assert response.status_code == 403
    assert "detail" in response.json()


def test_unknown_user_is_404(client_for, admin_user):
    assert client_for(admin_user).get("/api/users/999999/").status_code == 404


@pytest.mark.parametrize("bad_id", ["abc", "-1", "1.5", "99999999999999999999999999", "9223372036854775808"])
def test_bad_or_huge_user_ids_are_404(client_for, admin_user, bad_id):
    response = client_for(admin_user).get(f"/api/users/{bad_id}/")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_user_changes_their_own_names_and_social(client_for, student):
    payload = {"first_name": "Shaku", "social": {"website": "https://devi.example"}}
    response = client_for(student).patch(f"/api/users/{student.pk}/", payload, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Shaku"
    assert response.json()["social"]["website"] == "https://devi.example"
    student.refresh_from_db()
    assert (student.first_name, student.last_name) == ("Shaku", "Devi")
    assert student.social == {"website": "https://devi.example"}


def test_user_puts_back_what_they_read_with_one_change(client_for, student):
    client = client_for(student)
    body = client.get(f"/api/users/{student.pk}/").json()
    body["last_name"] = "Devi-Rao"
    response = client.put(f"/api/users/{student.pk}/", body, format="json")
    assert response.status_code == 200
    student.refresh_from_db()
    assert student.last_name == "Devi-Rao"


def test_put_needs_the_names(client_for, student):
    response = client_for(student).put(f"/api/users/{student.pk}/", {"first_name": "X"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"last_name"}


def test_user_cannot_change_their_own_email(client_for, student):
    response = client_for(student).patch(f"/api/users/{student.pk}/", {"email": "new@example.com"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()
    student.refresh_from_db()
    assert student.email == "student@example.com"


def test_user_may_send_their_own_email_unchanged_in_other_case(client_for, student):
    response = client_for(student).patch(f"/api/users/{student.pk}/", {"email": "Student@Example.com"}, format="json")
    assert response.status_code == 200


def test_user_cannot_make_themself_admin(client_for, student):
    response = client_for(student).patch(f"/api/users/{student.pk}/", {"is_admin": True}, format="json")
    assert response.status_code == 400
    assert "is_admin" in response.json()
    student.refresh_from_db()
    assert not student.is_superuser


def test_admin_changes_email_and_admin_flag(client_for, admin_user, student):
    payload = {"email": "Devi@Prisma.io", "is_admin": True}
    response = client_for(admin_user).patch(f"/api/users/{student.pk}/", payload, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "devi@prisma.io"
    student.refresh_from_db()
    assert student.email == "devi@prisma.io"
    assert student.is_superuser


def test_admin_changing_an_email_to_a_taken_one_is_409(client_for, admin_user, student, teacher):
    response = client_for(admin_user).patch(
        f"/api/users/{student.pk}/", {"email": "TEACHER@example.com"}, format="json"
    )
    assert response.status_code == 409
    student.refresh_from_db()
    assert student.email == "student@example.com"


def test_another_user_cannot_change_a_user(client_for, student, teacher):
    response = client_for(teacher).patch(f"/api/users/{student.pk}/", {"first_name": "X"}, format="json")
    assert response.status_code == 403
    student.refresh_from_db()
    assert student.first_name == "Shakuntala"


def test_user_deletes_themself(client_for, student, course):
    response = client_for(student).delete(f"/api/users/{student.pk}/")
    assert response.status_code == 204
    assert not User.objects.filter(pk=student.pk).exists()
    assert not Enrollment.objects.filter(user_id=student.pk).exists()


def test_admin_deletes_a_user(client_for, admin_user, student):
    assert client_for(admin_user).delete(f"/api/users/{student.pk}").status_code == 204
    assert not User.objects.filter(pk=student.pk).exists()


def test_another_user_cannot_delete_a_user(client_for, teacher, student, course):
    assert client_for(teacher).delete(f"/api/users/{student.pk}/").status_code == 403
    assert User.objects.filter(pk=student.pk).exists()


def test_deleted_users_token_stops_working(client_for, student):
    client = client_for(student)
    assert client.delete(f"/api/users/{student.pk}/").status_code == 204
    assert client.get("/api/profile/").status_code == 401


def test_role_of_a_user_is_per_course(client_for, teacher, other_course):
    Enrollment.objects.create(user=teacher, course=other_course, role=Role.STUDENT)
    body = client_for(teacher).get(f"/api/users/{teacher.pk}/courses/").json()
    assert {e["role"] for e in body["results"]} == {"TEACHER", "STUDENT"} or body["count"] == 1


# /api/users/{id}/test-results/


@pytest.fixture
def graded(teacher, student, course):
    from datetime import date
    from decimal import Decimal

    from grading import services as grading
    from grading.models import Test

    published = Test.objects.create(course=course, name="Quiz", date=date(2026, 10, 1), max_score=Decimal("40"))
    hidden = Test.objects.create(
        course=course, name="Final", date=date(2026, 12, 20), max_score=Decimal("100"), results_published=False
    )
    shown = grading.result_record(test=published, student=student, score=Decimal("33.5"), by=teacher)
    unshown = grading.result_record(test=hidden, student=student, score=Decimal("0"), by=teacher)
    return shown, unshown


def test_student_reads_their_published_results_with_test_name_and_course(client_for, student, course, graded):
    shown, _ = graded
    response = client_for(student).get(f"/api/users/{student.pk}/test-results/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    shown.refresh_from_db()
    assert body["results"] == [
        {
            "id": shown.pk,
            "test": shown.test_id,
            "student": student.pk,
            "grader": shown.grader_id,
            "score": 33.5,
            "percent": 83.8,
            "excused": False,
            "entered_score": 33.5,
            "late_deduction": 0,
            "late_waived": False,
            "created_at": shown.created_at.isoformat().replace("+00:00", "Z"),
            "updated_at": shown.updated_at.isoformat().replace("+00:00", "Z"),
            "test_name": "Quiz",
            "course": {"id": course.pk, "name": course.name},
        }
    ]


def test_admin_reads_a_students_unpublished_results_too(client_for, admin_user, student, graded):
    body = client_for(admin_user).get(f"/api/users/{student.pk}/test-results").json()
    assert [r["test_name"] for r in body["results"]] == ["Quiz", "Final"]
    assert body["results"][1]["score"] == 0


def test_results_order_by_score(client_for, admin_user, student, graded):
    body = client_for(admin_user).get(f"/api/users/{student.pk}/test-results/", {"ordering": "score"}).json()
    assert [r["score"] for r in body["results"]] == [0, 33.5]


@pytest.mark.parametrize("who", ["teacher", "other_teacher", "stranger"])
def test_others_cannot_read_a_users_results_here(request, client_for, student, graded, who):
    response = client_for(request.getfixturevalue(who)).get(f"/api/users/{student.pk}/test-results/")
    assert response.status_code == 403


def test_results_of_an_unknown_user_are_404(client_for, admin_user):
    assert client_for(admin_user).get("/api/users/77777/test-results/").status_code == 404


def _listed(client, student, **params):
    body = client.get(f"/api/users/{student.pk}/test-results/", params).json()
    return body["count"], [r["test_name"] for r in body["results"]]


def test_a_students_results_follow_their_tests_date_and_publication_through_the_api(
    client_for, teacher, student, graded
):
    shown, unshown = graded
    client, tests = client_for(student), client_for(teacher)
    assert _listed(client, student) == (1, ["Quiz"])

    assert tests.patch(f"/api/tests/{unshown.test_id}/", {"results_published": True}, format="json").status_code == 200
    assert _listed(client, student) == (2, ["Quiz", "Final"])
    assert tests.patch(f"/api/tests/{unshown.test_id}/", {"date": "2026-09-01"}, format="json").status_code == 200
    assert _listed(client, student) == (2, ["Final", "Quiz"])
    assert tests.patch(f"/api/tests/{shown.test_id}/", {"results_published": False}, format="json").status_code == 200
    assert _listed(client, student) == (1, ["Final"])


def test_a_students_results_follow_their_tests_changed_outside_the_grade_service(client_for, student, graded):
    # As the admin's inline of a course's tests saves them: the model's own save, and an update.
    shown, unshown = graded
    final = unshown.test
    final.results_published, final.date = True, date(2026, 9, 1)
    final.save()
    assert _listed(client_for(student), student) == (2, ["Final", "Quiz"])
    Test.objects.filter(pk=shown.test_id).update(date=date(2026, 8, 1))
    assert _listed(client_for(student), student) == (2, ["Quiz", "Final"])


def test_a_result_saved_whole_after_its_test_moved_keeps_the_tests_date(client_for, teacher, student, graded):
    shown, _ = graded
    stale = TestResult.objects.get(pk=shown.pk)  # read while the quiz is on 1 October
    Test.objects.filter(pk=shown.test_id).update(date=date(2027, 1, 1), results_published=False)
    stale.save()  # every field, the copies as they were read included

    assert TestResult.objects.filter(pk=shown.pk).values_list("test_date", "test_published").get() == (
        date(2027, 1, 1),
        False,
    )


def test_results_written_in_bulk_or_imported_are_listed_by_their_tests_date(
    client_for, teacher, student, course, graded
):
    early = Test.objects.create(course=course, name="Early", date=date(2026, 1, 5))
    hidden = Test.objects.create(course=course, name="Hidden", date=date(2026, 1, 6), results_published=False)
    body = [{"student": student.pk, "score": 5}]
    for test in (early, hidden):
        response = client_for(teacher).put(f"/api/tests/{test.pk}/results/", body, format="json")
        assert response.status_code == 200, response.content
    imported = Test.objects.create(course=course, name="Imported", date=date(2026, 1, 20))
    csv = f"email,Imported (#{imported.pk})\n{student.email},3\n".encode()
    response = client_for(teacher).generic(
        "POST", f"/api/courses/{course.pk}/gradebook/import/", csv, content_type="text/csv"
    )
    assert response.status_code == 200, response.content
    other = Test.objects.create(course=course, name="Direct", date=date(2026, 2, 1))
    TestResult.objects.bulk_create([TestResult(test=other, student=student, score=Decimal(1))])

    client = client_for(student)
    assert _listed(client, student) == (4, ["Early", "Imported", "Direct", "Quiz"])
    assert _listed(client, student, ordering="-test_date") == (4, ["Quiz", "Direct", "Imported", "Early"])


def test_a_students_results_are_paged_in_their_tests_date_order(client_for, teacher, student, course):
    tests = [Test.objects.create(course=course, name=f"T{i}", date=date(2026, 3, 10 - i)) for i in range(5)]
    for test in tests:
        grading.result_record(test=test, student=student, score=Decimal(1), by=teacher)
    client = client_for(student)
    url = f"/api/users/{student.pk}/test-results/"

    pages = [client.get(url, {"page_size": 2, "page": n}).json() for n in (1, 2, 3)]

    assert [[r["test_name"] for r in page["results"]] for page in pages] == [["T4", "T3"], ["T2", "T1"], ["T0"]]
    assert [page["count"] for page in pages] == [5, 5, 5]
    assert pages[0]["previous"] is None
    assert pages[0]["next"].endswith("?page=2&page_size=2")
    assert pages[2]["next"] is None
    assert client.get(url, {"page_size": 2, "page": 4}).status_code == 404
    assert client.get(url, {"page_size": 1000, "page": "9" * 30}).status_code == 404
    assert client.get(url, {"page": "x"}).status_code == 404
    assert client.get(url, {"page_size": 0}).status_code == 400


def test_a_student_without_results_has_an_empty_first_page_and_no_second(client_for, student):
    client = client_for(student)
    url = f"/api/users/{student.pk}/test-results/"

    assert client.get(url).json() == {"count": 0, "next": None, "previous": None, "results": []}
    assert client.get(url, {"page": 2}).status_code == 404


def test_deleting_a_student_keeps_the_history_of_their_grades(client_for, admin_user, teacher, student, test_):
    grading.result_record(test=test_, student=student, score=Decimal("42"), by=teacher)
    response = client_for(admin_user).delete(f"/api/users/{student.pk}/")
    assert response.status_code == 204
    assert not TestResult.objects.exists()
    history = GradeChange.objects.filter(student_id=student.pk).order_by("id")
    assert list(history.values_list("action", "old_score", "new_score", "changed_by_id")) == [
        ("created", None, Decimal("42"), teacher.pk),
        ("deleted", Decimal("42"), None, admin_user.pk),
    ]


# Email preferences.


def test_a_user_turns_their_result_emails_off_and_on(client_for, student):
    client = client_for(student)
    off = client.patch(f"/api/users/{student.pk}/", {"notify_by_email": False}, format="json")
    assert off.status_code == 200 and off.json()["notify_by_email"] is False
    student.refresh_from_db()
    assert student.notify_by_email is False
    assert client.get("/api/profile/").json()["notify_by_email"] is False
    on = client.patch(f"/api/users/{student.pk}/", {"notify_by_email": True}, format="json")
    assert on.json()["notify_by_email"] is True


def test_not_even_an_admin_changes_someone_elses_result_emails(client_for, admin_user, student):
    response = client_for(admin_user).patch(f"/api/users/{student.pk}/", {"notify_by_email": False}, format="json")
    assert response.status_code == 400
    assert "notify_by_email" in response.json()
    student.refresh_from_db()
    assert student.notify_by_email is True
    # Sending back what was read is fine.
    unchanged = client_for(admin_user).patch(f"/api/users/{student.pk}/", {"notify_by_email": True}, format="json")
    assert unchanged.status_code == 200


@pytest.mark.parametrize("value", ["no", 0, None])
def test_notify_by_email_takes_a_json_boolean_only(client_for, student, value):
    response = client_for(student).patch(f"/api/users/{student.pk}/", {"notify_by_email": value}, format="json")
    assert response.status_code == 400 and "notify_by_email" in response.json()
