"""A course's tests: list, create, read, change, delete."""

from datetime import date
from decimal import Decimal

import pytest

from grading.models import GradeChange, Test, TestResult

pytestmark = pytest.mark.django_db

TEST_FIELDS = {
    "id",
    "course",
    "name",
    "date",
    "max_score",
    "results_published",
    "category",
    "never_drop",
    "submission_type",
    "unlock_at",
    "due_at",
    "lock_at",
    "allowed_attempts",
    "max_files",
    "allowed_extensions",
    "updated_at",
    "version",
    "results_version",
}


def course_tests_url(course):
    return f"/api/courses/{course.pk}/tests/"


def detail_url(test):
    return f"/api/tests/{test.pk}/"


@pytest.fixture
def graded(test_, student, teacher):
    return TestResult.objects.create(test=test_, student=student, grader=teacher, score=Decimal("80"))


# The list.


@pytest.mark.parametrize("who", ["teacher", "student", "admin_user"])
def test_members_and_admins_list_a_courses_tests(client_for, request, who, course, test_):
    response = client_for(request.getfixturevalue(who)).get(course_tests_url(course))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"] == [
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
            "updated_at": body["results"][0]["updated_at"],
            "version": 1,
            "results_version": 0,
        }
    ]


def test_students_see_tests_whose_results_are_unpublished(client_for, student, course, test_):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    body = client_for(student).get(course_tests_url(course)).json()
    assert [t["results_published"] for t in body["results"]] == [False]


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_non_members_cannot_list_a_courses_tests(client_for, request, who, course, test_):
    response = client_for(request.getfixturevalue(who)).get(course_tests_url(course))
    assert response.status_code == 403
    assert "detail" in response.json()


def test_anonymous_cannot_list_tests(client_for, course):
    assert client_for().get(course_tests_url(course)).status_code == 401


@pytest.mark.parametrize("course_id", ["424242", "abc", "99999999999999999999999"])
def test_tests_of_an_unknown_course_are_404(client_for, admin_user, course_id):
    assert client_for(admin_user).get(f"/api/courses/{course_id}/tests/").status_code == 404


def test_tests_are_listed_by_date_and_can_be_ordered(client_for, teacher, course):
    late = Test.objects.create(course=course, name="B late", date=date(2026, 6, 1))
    early = Test.objects.create(course=course, name="A early", date=date(2026, 2, 1))
    client = client_for(teacher)
    assert [t["id"] for t in client.get(course_tests_url(course)).json()["results"]] == [early.pk, late.pk]
    ordered = client.get(course_tests_url(course), {"ordering": "-name"}).json()["results"]
    assert [t["id"] for t in ordered] == [late.pk, early.pk]


def test_only_this_courses_tests_are_listed(client_for, admin_user, course, other_course, test_):
    Test.objects.create(course=other_course, name="Elsewhere", date=date(2026, 1, 1))
    body = client_for(admin_user).get(course_tests_url(course)).json()
    assert [t["id"] for t in body["results"]] == [test_.pk]


def test_tests_list_without_trailing_slash(client_for, teacher, course):
    assert client_for(teacher).get(f"/api/courses/{course.pk}/tests").status_code == 200


# Creating.


def test_teacher_adds_a_test_with_default_max_score(client_for, teacher, course):
    response = client_for(teacher).post(
        course_tests_url(course), {"name": "Final", "date": "2026-12-15"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    test = Test.objects.get(pk=body["id"])
    assert body == {
        "id": test.pk,
        "course": course.pk,
        "name": "Final",
        "date": "2026-12-15",
        "max_score": 100,
        "results_published": True,
        "category": course.grade_categories.get().pk,
        "never_drop": False,
        "submission_type": "none",
        "unlock_at": None,
        "due_at": None,
        "lock_at": None,
        "allowed_attempts": 1,
        "max_files": 10,
        "allowed_extensions": None,
        "updated_at": body["updated_at"],
        "version": 1,
        "results_version": 0,
    }
    assert (test.course, test.max_score, test.date) == (course, Decimal("100"), date(2026, 12, 15))


def test_creating_without_trailing_slash_keeps_the_body(client_for, teacher, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/tests",
        {"name": "Quiz", "date": "2026-03-01", "max_score": 12.5, "results_published": False},
        format="json",
    )
    assert response.status_code == 201
    test = Test.objects.get()
    assert (test.max_score, test.results_published) == (Decimal("12.5"), False)
    assert response.json()["max_score"] == 12.5


def test_admin_adds_a_test(client_for, admin_user, course):
    response = client_for(admin_user).post(course_tests_url(course), {"name": "Q", "date": "2026-03-01"}, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_add_tests(client_for, request, who, course):
    response = client_for(request.getfixturevalue(who)).post(
        course_tests_url(course), {"name": "Sneaky", "date": "2026-03-01"}, format="json"
    )
    assert response.status_code == 403
    assert not Test.objects.exists()


def test_unicode_names_round_trip(client_for, teacher, course):
    name = "Prüfung 試験 — ∑ 🧪"
    response = client_for(teacher).post(course_tests_url(course), {"name": name, "date": "2026-03-01"}, format="json")
    assert response.status_code == 201
    assert response.json()["name"] == name
    assert Test.objects.get().name == name


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"date": "2026-03-01"}, "name"),
        ({"name": "", "date": "2026-03-01"}, "name"),
        ({"name": "x" * 201, "date": "2026-03-01"}, "name"),
        ({"name": "nul\x00", "date": "2026-03-01"}, "name"),
        ({"name": "No date"}, "date"),
        ({"name": "Bad date", "date": "2026-13-01"}, "date"),
        ({"name": "Bad date", "date": "yesterday"}, "date"),
        ({"name": "Zero", "date": "2026-03-01", "max_score": 0}, "max_score"),
        ({"name": "Negative", "date": "2026-03-01", "max_score": -5}, "max_score"),
        ({"name": "Decimals", "date": "2026-03-01", "max_score": 10.005}, "max_score"),
        ({"name": "Huge", "date": "2026-03-01", "max_score": 123456789}, "max_score"),
        ({"name": "Text", "date": "2026-03-01", "max_score": "lots"}, "max_score"),
        ({"name": "Flag", "date": "2026-03-01", "results_published": "maybe"}, "results_published"),
    ],
)
def test_invalid_tests_are_400(client_for, teacher, course, payload, field):
    response = client_for(teacher).post(course_tests_url(course), payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Test.objects.exists()


def test_course_in_the_body_is_ignored(client_for, teacher, course, other_course):
    response = client_for(teacher).post(
        course_tests_url(course), {"name": "Q", "date": "2026-03-01", "course": other_course.pk}, format="json"
    )
    assert response.status_code == 201
    assert Test.objects.get().course == course


def test_unknown_fields_are_400(client_for, teacher, course):
    response = client_for(teacher).post(
        course_tests_url(course), {"name": "Q", "date": "2026-03-01", "weight": 2}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"weight": ["Unknown field."]}


def test_a_name_that_is_not_a_string_is_400(client_for, teacher, course):
    response = client_for(teacher).post(course_tests_url(course), {"name": 5, "date": "2026-03-01"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_a_json_array_body_is_400(client_for, teacher, course):
    response = client_for(teacher).post(course_tests_url(course), [{"name": "Q"}], format="json")
    assert response.status_code == 400
    assert not Test.objects.exists()


# One test.


@pytest.mark.parametrize("who", ["teacher", "student", "admin_user"])
def test_members_read_a_test(client_for, request, who, test_):
    response = client_for(request.getfixturevalue(who)).get(detail_url(test_))
    assert response.status_code == 200
    assert set(response.json()) == TEST_FIELDS


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_non_members_cannot_read_a_test(client_for, request, who, test_):
    assert client_for(request.getfixturevalue(who)).get(detail_url(test_)).status_code == 403


@pytest.mark.parametrize("test_id", ["424242", "abc", "99999999999999999999999", "-1"])
def test_unknown_test_is_404(client_for, admin_user, test_id):
    response = client_for(admin_user).get(f"/api/tests/{test_id}/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_teacher_renames_a_test(client_for, teacher, test_):
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}", {"name": "Midterm (retake)"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Midterm (retake)"
    test_.refresh_from_db()
    assert test_.name == "Midterm (retake)"


def test_put_replaces_a_test(client_for, teacher, test_):
    response = client_for(teacher).put(
        detail_url(test_), {"name": "Final", "date": "2027-01-10", "max_score": 50}, format="json"
    )
    assert response.status_code == 200
    test_.refresh_from_db()
    assert (test_.name, test_.date, test_.max_score) == ("Final", date(2027, 1, 10), Decimal("50"))


def test_put_without_required_fields_is_400(client_for, teacher, test_):
    response = client_for(teacher).put(detail_url(test_), {"name": "Only a name"}, format="json")
    assert response.status_code == 400
    assert "date" in response.json()


def test_lowering_max_score_below_a_recorded_score_is_400(client_for, teacher, test_, graded):
    response = client_for(teacher).patch(detail_url(test_), {"max_score": 79.99}, format="json")
    assert response.status_code == 400
    assert "max_score" in response.json()
    test_.refresh_from_db()
    assert test_.max_score == 100


def test_lowering_max_score_to_the_highest_recorded_score_is_allowed(client_for, teacher, test_, graded):
    response = client_for(teacher).patch(detail_url(test_), {"max_score": 80}, format="json")
    assert response.status_code == 200
    assert response.json()["max_score"] == 80


def test_raising_max_score_is_allowed(client_for, teacher, test_, graded):
    assert client_for(teacher).patch(detail_url(test_), {"max_score": 200}, format="json").status_code == 200


def test_moving_a_test_to_another_course_is_ignored(client_for, teacher, test_, course, other_course):
    client_for(teacher).patch(detail_url(test_), {"course": other_course.pk}, format="json")
    test_.refresh_from_db()
    assert test_.course == course


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_change_or_delete_a_test(client_for, request, who, test_):
    client = client_for(request.getfixturevalue(who))
    assert client.patch(detail_url(test_), {"name": "Hacked"}, format="json").status_code == 403
    assert client.delete(detail_url(test_)).status_code == 403
    test_.refresh_from_db()
    assert test_.name == "Midterm"


def test_teacher_deletes_a_test_without_results(client_for, teacher, test_):
    assert client_for(teacher).delete(detail_url(test_)).status_code == 204
    assert not Test.objects.exists()


def test_deleting_a_test_with_results_is_409(client_for, teacher, test_, graded):
    response = client_for(teacher).delete(detail_url(test_))
    assert response.status_code == 409
    assert "force" in response.json()["detail"]
    assert Test.objects.filter(pk=test_.pk).exists()
    assert TestResult.objects.filter(pk=graded.pk).exists()


def test_forced_delete_removes_the_test_and_its_results_and_keeps_their_history(client_for, admin_user, test_, graded):
    scores = set(TestResult.objects.values_list("student_id", "score"))
    response = client_for(admin_user).delete(f"{detail_url(test_)}?force=true")
    assert response.status_code == 204
    assert not Test.objects.exists()
    assert not TestResult.objects.exists()
    deleted = GradeChange.objects.filter(test_id=test_.pk, action="deleted")
    assert set(deleted.values_list("student_id", "old_score")) == scores
    assert set(deleted.values_list("changed_by_id", "via", "new_score")) == {(admin_user.pk, "api", None)}


def test_force_false_is_not_forcing(client_for, teacher, test_, graded):
    assert client_for(teacher).delete(f"{detail_url(test_)}?force=false").status_code == 409
