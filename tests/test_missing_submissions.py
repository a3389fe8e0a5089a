"""Missing follows submissions: on an online test, past the student's effective due time with no attempt,
no result and no excuse; course grades and the gradebook follow, and gradebook cells show the attempt."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.models import Enrollment, Role
from grading.models import Extension, Submission, Test, TestResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def online(test_):
    """Online, due an hour ago; its date (the day results are due for a "none" test) is far ahead."""
    Test.objects.filter(pk=test_.pk).update(
        submission_type="online",
        due_at=timezone.now() - timedelta(hours=1),
        date=datetime(2099, 1, 1).date(),
        allowed_attempts=None,
    )
    test_.refresh_from_db()
    return test_


def _missing(client, course):
    return {
        row["student"]["id"]: row["missing"]
        for row in client.get(f"/api/courses/{course.pk}/grades/").json()["results"]
    }


def test_past_the_due_time_with_nothing_handed_in_is_missing(client_for, teacher, student, course, online):
    assert _missing(client_for(teacher), course) == {student.pk: [online.pk]}
    row = client_for(teacher).get(f"/api/courses/{course.pk}/grades/").json()["results"][0]
    assert row["final_percent"] == 0 and row["current_percent"] is None


def test_an_attempt_a_result_or_an_excuse_is_not_missing(
    client_for, teacher, student, classmate, make_user, course, online
):
    excused = make_user()
    Enrollment.objects.create(user=excused, course=course, role=Role.STUDENT)
    Submission.objects.create(test=online, student=student, attempt=1, submitted_at=timezone.now(), body="x")
    TestResult.objects.create(test=online, student=classmate, score=50)
    TestResult.objects.create(test=online, student=excused, score=None, excused=True)
    assert _missing(client_for(teacher), course) == {student.pk: [], classmate.pk: [], excused.pk: []}


def test_before_the_due_time_or_without_one_nothing_is_missing(client_for, teacher, student, course, online):
    Test.objects.filter(pk=online.pk).update(due_at=timezone.now() + timedelta(hours=1))
    assert _missing(client_for(teacher), course) == {student.pk: []}
    Test.objects.filter(pk=online.pk).update(due_at=None)
    assert _missing(client_for(teacher), course) == {student.pk: []}


def test_an_extension_moves_the_students_due_time(client_for, teacher, student, classmate, course, online):
    Extension.objects.create(test=online, student=student, due_at=timezone.now() + timedelta(days=1))
    assert _missing(client_for(teacher), course) == {student.pk: [], classmate.pk: [online.pk]}
    Extension.objects.filter(student=student).update(due_at=timezone.now() - timedelta(minutes=1))
    assert _missing(client_for(teacher), course)[student.pk] == [online.pk]


def test_missing_on_an_online_test_doesnt_wait_for_published_results(client_for, teacher, student, course, online):
    Test.objects.filter(pk=online.pk).update(results_published=False)
    assert _missing(client_for(teacher), course) == {student.pk: [online.pk]}


def test_a_none_test_is_missing_as_before(client_for, teacher, student, course, test_):
    Test.objects.filter(pk=test_.pk).update(date=datetime(2020, 1, 1).date(), due_at=timezone.now() + timedelta(days=9))
    assert _missing(client_for(teacher), course) == {student.pk: [test_.pk]}


def test_gradebook_cells_show_the_latest_attempt_and_missing(client_for, teacher, student, classmate, course, online):
    due = online.due_at
    Submission.objects.create(
        test=online, student=student, attempt=1, submitted_at=due - timedelta(minutes=5), body="a"
    )
    late = Submission.objects.create(
        test=online, student=student, attempt=2, submitted_at=due + timedelta(minutes=5), body="b"
    )
    body = client_for(teacher).get(f"/api/courses/{course.pk}/gradebook/").json()
    cells = {row["id"]: row["cells"][str(online.pk)] for row in body["students"]}
    assert cells[student.pk] == {
        "submitted_at": late.submitted_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "late": True,
        "missing": False,
    }
    assert cells[classmate.pk] == {"submitted_at": None, "late": False, "missing": True}
    assert {row["id"]: row["missing"] for row in body["students"]} == {student.pk: [], classmate.pk: [online.pk]}


def test_the_gradebook_runs_the_same_queries_at_two_sizes(client_for, teacher, course, online, make_user):
    client = client_for(teacher)

    def grow(n):
        for _ in range(n):
            user = make_user()
            Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
            Submission.objects.create(test=online, student=user, attempt=1, submitted_at=timezone.now(), body="x")
            Extension.objects.create(test=online, student=user, extra_attempts=1)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/courses/{course.pk}/gradebook/").status_code == 200
        return len(queries)

    grow(2)
    small = count()
    grow(20)
    assert count() == small
