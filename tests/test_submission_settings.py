"""A test's submission settings and a course's late policy: written on create and PATCH, checked, shown."""

from datetime import UTC, datetime

import pytest

from courses.models import Course
from grading.models import Submission, Test

pytestmark = pytest.mark.django_db

T1, T2, T3 = "2026-12-01T09:00:00Z", "2026-12-08T17:00:00Z", "2026-12-10T17:00:00Z"


def test_a_new_test_takes_no_submissions_and_one_attempt_by_default(client_for, teacher, course):
    body = client_for(teacher).post(
        f"/api/courses/{course.pk}/tests/", {"name": "Essay", "date": "2026-12-08"}, format="json"
    )
    assert body.status_code == 201
    body = body.json()
    assert (body["submission_type"], body["unlock_at"], body["due_at"], body["lock_at"], body["allowed_attempts"]) == (
        "none",
        None,
        None,
        None,
        1,
    )


def test_teacher_creates_an_online_test_with_its_times(client_for, teacher, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/tests/",
        {
            "name": "Essay",
            "date": "2026-12-08",
            "submission_type": "online",
            "unlock_at": T1,
            "due_at": "2026-12-08T18:00:00+01:00",
            "lock_at": T3,
            "allowed_attempts": None,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["submission_type"], body["unlock_at"], body["due_at"], body["lock_at"], body["allowed_attempts"]) == (
        "online",
        T1,
        T2,
        T3,
        None,
    )
    test = Test.objects.get(pk=body["id"])
    assert test.due_at == datetime(2026, 12, 8, 17, tzinfo=UTC) and test.allowed_attempts is None
    # Shown wherever a test is shown: the course's representation too.
    course_body = client_for(teacher).get(f"/api/courses/{course.pk}/").json()
    assert course_body["tests"][0]["due_at"] == T2 and course_body["tests"][0]["submission_type"] == "online"


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"unlock_at": T2, "due_at": T1}, "due_at"),
        ({"due_at": T3, "lock_at": T2}, "lock_at"),
        ({"unlock_at": T3, "lock_at": T1}, "lock_at"),
    ],
)
def test_times_out_of_order_are_a_400_naming_the_field(client_for, teacher, course, times, field):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/tests/", {"name": "Essay", "date": "2026-12-08", **times}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Test.objects.exists()


def test_a_patch_is_checked_against_the_times_the_test_has(client_for, teacher, test_):
    test_.due_at = datetime(2026, 12, 8, 17, tzinfo=UTC)
    test_.save()
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"lock_at": T1}, format="json")
    assert response.status_code == 400
    assert response.json() == {"lock_at": ["due_at must not be after lock_at."]}
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"lock_at": T3}, format="json")
    assert response.status_code == 200 and response.json()["lock_at"] == T3


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"submission_type": "paper"}, "submission_type"),
        ({"allowed_attempts": 0}, "allowed_attempts"),
        ({"allowed_attempts": "2"}, "allowed_attempts"),
        ({"due_at": "2026-12-08T17:00:00"}, "due_at"),
        ({"due_at": 1765213200}, "due_at"),
        ({"unlock_at": "tomorrow"}, "unlock_at"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(client_for, teacher, test_, body, field):
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    test_.refresh_from_db()
    assert (test_.submission_type, test_.allowed_attempts, test_.due_at) == ("none", 1, None)


def test_a_student_cant_change_the_settings(client_for, student, test_):
    response = client_for(student).patch(f"/api/tests/{test_.pk}/", {"submission_type": "online"}, format="json")
    assert response.status_code == 403


def test_back_to_none_while_submissions_exist_is_a_409(client_for, teacher, student, test_):
    test_.submission_type = "online"
    test_.save()
    Submission.objects.create(test=test_, student=student, attempt=1, submitted_at=datetime.now(tz=UTC), body="x")
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"submission_type": "none"}, format="json")
    assert response.status_code == 409
    assert "submission" in response.json()["detail"]
    test_.refresh_from_db()
    assert test_.submission_type == "online"


def test_back_to_none_without_submissions_is_fine(client_for, teacher, test_):
    test_.submission_type = "online"
    test_.save()
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"submission_type": "none"}, format="json")
    assert response.status_code == 200 and response.json()["submission_type"] == "none"


# The course's late policy.

POLICY = {"deduction_percent": 10, "interval": "day", "minimum_percent": 50}


def test_a_course_has_no_late_policy_until_a_teacher_sets_one(client_for, teacher, course):
    client = client_for(teacher)
    assert client.get(f"/api/courses/{course.pk}/").json()["late_policy"] is None
    response = client.patch(f"/api/courses/{course.pk}/", {"late_policy": POLICY}, format="json")
    assert response.status_code == 200
    assert response.json()["late_policy"] == POLICY
    assert Course.objects.get(pk=course.pk).late_policy == POLICY
    assert client.get("/api/courses/").json()["results"][0]["late_policy"] == POLICY
    response = client.patch(f"/api/courses/{course.pk}/", {"late_policy": None}, format="json")
    assert response.status_code == 200 and response.json()["late_policy"] is None


def test_a_course_is_created_with_a_late_policy(client_for, teacher):
    response = client_for(teacher).post(
        "/api/courses/", {"name": "Logic", "late_policy": {**POLICY, "deduction_percent": 12.5}}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["late_policy"] == {**POLICY, "deduction_percent": 12.5}


@pytest.mark.parametrize(
    "policy",
    [
        {**POLICY, "deduction_percent": 0},
        {**POLICY, "deduction_percent": 100.01},
        {**POLICY, "deduction_percent": 10.005},
        {**POLICY, "deduction_percent": "10"},
        {**POLICY, "minimum_percent": -1},
        {**POLICY, "minimum_percent": 101},
        {**POLICY, "interval": "week"},
        {"deduction_percent": 10, "interval": "day"},
        {**POLICY, "grace_minutes": 5},
        [POLICY],
        "10%",
    ],
)
def test_a_bad_late_policy_is_a_400_on_late_policy(client_for, teacher, course, policy):
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", {"late_policy": policy}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["late_policy"]
    assert Course.objects.get(pk=course.pk).late_policy is None


def test_the_edges_of_a_late_policy_are_accepted(client_for, teacher, course):
    policy = {"deduction_percent": 100, "interval": "hour", "minimum_percent": 0}
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", {"late_policy": policy}, format="json")
    assert response.status_code == 200 and response.json()["late_policy"] == policy


def test_a_student_cant_set_the_late_policy(client_for, student, course):
    response = client_for(student).patch(f"/api/courses/{course.pk}/", {"late_policy": POLICY}, format="json")
    assert response.status_code == 403
