"""Submitting, extensions and reading submissions: every refusal, attempts under concurrency, filters, queries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.models import Enrollment, Role
from grading import submissions
from grading.models import Extension, Submission, Test, TestResult
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


def submissions_url(test):
    return f"/api/tests/{test.pk}/submissions/"


def extension_url(test, student):
    return f"/api/tests/{test.pk}/extensions/{student.pk}/"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture
def online(test_):
    test_.submission_type = "online"
    test_.save()
    return test_


def test_a_student_submits_their_first_attempt(client_for, student, online):
    before = timezone.now()
    response = client_for(student).post(submissions_url(online), {"body": "  My essay.\n"}, format="json")
    assert response.status_code == 201
    body = response.json()
    submission = Submission.objects.get()
    assert body == {
        "id": submission.pk,
        "test": online.pk,
        "student": student.pk,
        "attempt": 1,
        "submitted_at": iso(submission.submitted_at),
        "body": "My essay.",
        "late": False,
        "seconds_late": 0,
        "files": [],
    }
    assert before <= submission.submitted_at <= timezone.now()


def test_attempts_count_from_one_per_student_and_test(client_for, student, classmate, online):
    online.allowed_attempts = None
    online.save()
    attempts = [client_for(student).post(submissions_url(online), {"body": "a"}, format="json") for _ in range(3)]
    other = client_for(classmate).post(submissions_url(online), {"body": "b"}, format="json")
    assert [r.json()["attempt"] for r in attempts] == [1, 2, 3]
    assert other.json()["attempt"] == 1


def _refused(client, test, status, words):
    response = client.post(submissions_url(test), {"body": "work"}, format="json")
    assert response.status_code == status, response.json()
    assert words in response.json()["detail"]


def test_a_test_without_online_submissions_refuses_with_409(client_for, student, test_):
    _refused(client_for(student), test_, 409, "submission_type")
    assert not Submission.objects.exists()


def test_before_unlock_at_is_a_409(client_for, student, online):
    online.unlock_at = timezone.now() + timedelta(hours=1)
    online.save()
    _refused(client_for(student), online, 409, "unlock_at")
    assert not Submission.objects.exists()


def test_after_lock_at_is_a_409(client_for, student, online):
    online.due_at = online.lock_at = timezone.now() - timedelta(seconds=1)
    online.save()
    _refused(client_for(student), online, 409, "lock_at")
    assert not Submission.objects.exists()


def test_attempts_used_up_is_a_409(client_for, student, online):
    client = client_for(student)
    assert client.post(submissions_url(online), {"body": "one"}, format="json").status_code == 201
    _refused(client, online, 409, "attempts")
    assert Submission.objects.count() == 1


@pytest.mark.parametrize("who", ["teacher", "admin_user", "stranger", "other_teacher"])
def test_only_students_of_the_course_submit(client_for, request, online, who):
    response = client_for(request.getfixturevalue(who)).post(submissions_url(online), {"body": "x"}, format="json")
    assert response.status_code == 403
    assert not Submission.objects.exists()


@pytest.mark.parametrize(
    "body",
    [{}, {"body": ""}, {"body": "   \n\t"}, {"body": "x" * 100_001}, {"body": 5}, {"body": None}],
)
def test_a_missing_blank_or_too_long_body_is_a_400(client_for, student, online, body):
    response = client_for(student).post(submissions_url(online), body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["body"]
    assert not Submission.objects.exists()


def test_a_body_of_100000_characters_after_trimming_is_taken(client_for, student, online):
    response = client_for(student).post(submissions_url(online), {"body": " " + "x" * 100_000 + " "}, format="json")
    assert response.status_code == 201


def test_unknown_keys_are_a_400(client_for, student, online):
    response = client_for(student).post(submissions_url(online), {"body": "x", "attempt": 5, "grade": 1}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["grade"]


def test_seconds_late_counts_whole_seconds_past_the_due_time(client_for, student, online):
    online.due_at = timezone.now() - timedelta(seconds=90, milliseconds=500)
    online.save()
    body = client_for(student).post(submissions_url(online), {"body": "x"}, format="json").json()
    assert body["late"] is True
    assert 90 <= body["seconds_late"] <= 95


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_never_share_an_attempt_or_pass_the_limit(make_user, course, online):
    student = make_user()
    Enrollment.objects.create(user=student, course=course, role=Role.STUDENT)
    online.allowed_attempts = 2
    online.save()
    for _round in range(3):
        outcomes = run_at_once(*[lambda: submissions.submit(test=online, student=student, body="x")] * 3)
        assert len([o for o in outcomes if isinstance(o, Submission)]) <= 2
    attempts = sorted(Submission.objects.filter(student=student).values_list("attempt", flat=True))
    assert attempts == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_unlimited_attempts_at_once_take_consecutive_numbers(make_user, course, online):
    student = make_user()
    Enrollment.objects.create(user=student, course=course, role=Role.STUDENT)
    online.allowed_attempts = None
    online.save()
    outcomes = run_at_once(*[lambda: submissions.submit(test=online, student=student, body="x")] * 4)
    assert all(isinstance(o, Submission) for o in outcomes), outcomes
    assert sorted(Submission.objects.values_list("attempt", flat=True)) == [1, 2, 3, 4]


# Extensions.


def test_an_extension_gives_a_student_more_time_and_attempts(client_for, teacher, student, online):
    online.due_at = online.lock_at = timezone.now() - timedelta(hours=1)
    online.save()
    later = timezone.now() + timedelta(days=1)
    response = client_for(teacher).put(
        extension_url(online, student),
        {"due_at": iso(later), "lock_at": iso(later), "extra_attempts": 1},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"student": student.pk, "due_at": iso(later), "lock_at": iso(later), "extra_attempts": 1}
    client = client_for(student)
    assert [client.post(submissions_url(online), {"body": "x"}, format="json").status_code for _ in range(3)] == [
        201,
        201,
        409,
    ]
    assert client.get(submissions_url(online)).json()["results"][0]["late"] is False


def test_an_extension_replaces_the_earlier_one(client_for, teacher, student, online):
    client = client_for(teacher)
    client.put(extension_url(online, student), {"extra_attempts": 3}, format="json")
    response = client.put(extension_url(online, student), {}, format="json")
    assert response.json() == {"student": student.pk, "due_at": None, "lock_at": None, "extra_attempts": 0}
    assert Extension.objects.count() == 1


def test_an_extension_for_someone_not_a_student_of_the_course_is_a_400(client_for, teacher, stranger, online):
    response = client_for(teacher).put(extension_url(online, stranger), {}, format="json")
    assert response.status_code == 400
    assert not Extension.objects.exists()


def test_extension_times_are_ordered_against_the_tests_unlock_at(client_for, teacher, student, online):
    online.unlock_at = datetime(2026, 12, 1, tzinfo=UTC)
    online.save()
    client = client_for(teacher)
    response = client.put(extension_url(online, student), {"due_at": "2026-11-30T00:00:00Z"}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["due_at"]
    response = client.put(
        extension_url(online, student),
        {"due_at": "2026-12-05T00:00:00Z", "lock_at": "2026-12-04T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and list(response.json()) == ["lock_at"]
    response = client.put(extension_url(online, student), {"extra_attempts": -1}, format="json")
    assert response.status_code == 400 and list(response.json()) == ["extra_attempts"]
    assert not Extension.objects.exists()


def test_deleting_an_extension_and_listing_them(client_for, teacher, student, classmate, online):
    client = client_for(teacher)
    client.put(extension_url(online, student), {"extra_attempts": 1}, format="json")
    client.put(extension_url(online, classmate), {"extra_attempts": 2}, format="json")
    listed = client.get(f"/api/tests/{online.pk}/extensions/").json()
    assert listed["count"] == 2
    assert [row["extra_attempts"] for row in listed["results"]] == [1, 2]
    assert client.delete(extension_url(online, student)).status_code == 204
    assert client.delete(extension_url(online, student)).status_code == 404
    assert list(Extension.objects.values_list("student", flat=True)) == [classmate.pk]


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_and_admins_manage_extensions(client_for, request, student, online, who):
    client = client_for(request.getfixturevalue(who))
    assert client.put(extension_url(online, student), {}, format="json").status_code == 403
    assert client.get(f"/api/tests/{online.pk}/extensions/").status_code == 403
    assert not Extension.objects.exists()


# Reading.


def _submission(test, student, attempt, at, body="x"):
    return Submission.objects.create(test=test, student=student, attempt=attempt, submitted_at=at, body=body)


@pytest.fixture
def history(online, student, classmate):
    """Three attempts: the student's 1 (on time) and 2 (late), the classmate's 1 (late); due at t0."""
    t0 = timezone.now().replace(microsecond=0) - timedelta(days=1)
    online.due_at = t0
    online.allowed_attempts = None
    online.save()
    return {
        "s1": _submission(online, student, 1, t0 - timedelta(hours=1)),
        "s2": _submission(online, student, 2, t0 + timedelta(hours=2)),
        "c1": _submission(online, classmate, 1, t0 + timedelta(minutes=1)),
    }


def _ids(response):
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_teachers_see_every_attempt_newest_first(client_for, teacher, admin_user, online, history):
    for user in (teacher, admin_user):
        assert _ids(client_for(user).get(submissions_url(online))) == [
            history["s2"].pk,
            history["c1"].pk,
            history["s1"].pk,
        ]


def test_a_student_sees_only_their_own_attempts(client_for, student, online, history):
    assert _ids(client_for(student).get(submissions_url(online))) == [history["s2"].pk, history["s1"].pk]
    assert _ids(client_for(student).get(submissions_url(online) + "?latest=true")) == [history["s2"].pk]


def test_the_filters(client_for, teacher, student, online, history):
    client = client_for(teacher)
    url = submissions_url(online)
    assert _ids(client.get(f"{url}?student={student.pk}")) == [history["s2"].pk, history["s1"].pk]
    assert _ids(client.get(f"{url}?latest=true")) == [history["s2"].pk, history["c1"].pk]
    assert _ids(client.get(f"{url}?late=true")) == [history["s2"].pk, history["c1"].pk]
    assert _ids(client.get(f"{url}?late=false")) == [history["s1"].pk]
    assert _ids(client.get(f"{url}?graded=true")) == []
    for bad in ("latest=maybe", "late=1", "graded=yes", "student=abc"):
        assert client.get(f"{url}?{bad}").status_code == 400


def test_graded_means_the_result_was_written_at_or_after_the_attempt(client_for, teacher, student, online, history):
    TestResult.objects.create(
        test=online, student=student, score=80, graded_at=history["s2"].submitted_at - timedelta(seconds=1)
    )
    client = client_for(teacher)
    queue = f"{submissions_url(online)}?latest=true&graded=false"
    assert _ids(client.get(queue)) == [history["s2"].pk, history["c1"].pk]
    client.patch(f"/api/test-results/{TestResult.objects.get().pk}/", {"score": 85}, format="json")
    assert _ids(client.get(queue)) == [history["c1"].pk]
    assert _ids(client.get(f"{submissions_url(online)}?graded=true")) == [history["s2"].pk, history["s1"].pk]
    # An excuse grades it too.
    client.post(
        f"/api/tests/{online.pk}/results/", {"student": history["c1"].student_id, "excused": True}, format="json"
    )
    assert _ids(client.get(queue)) == []


def test_an_extension_makes_an_attempt_on_time_when_read(client_for, teacher, student, online, history):
    client = client_for(teacher)
    later = iso(history["s2"].submitted_at + timedelta(hours=1))
    client.put(extension_url(online, student), {"due_at": later}, format="json")
    rows = client.get(f"{submissions_url(online)}?student={student.pk}").json()["results"]
    assert [(row["late"], row["seconds_late"]) for row in rows] == [(False, 0), (False, 0)]
    classmate_row = client.get(f"/api/submissions/{history['c1'].pk}/").json()
    assert (classmate_row["late"], classmate_row["seconds_late"]) == (True, 60)


@pytest.mark.parametrize(("who", "status"), [("student", 200), ("teacher", 200), ("admin_user", 200)])
def test_one_submission_is_read_by_its_student_teachers_and_admins(client_for, request, online, history, who, status):
    response = client_for(request.getfixturevalue(who)).get(f"/api/submissions/{history['s2'].pk}/")
    assert response.status_code == status
    assert response.json()["seconds_late"] == 7200 and response.json()["attempt"] == 2


@pytest.mark.parametrize("who", ["classmate", "stranger", "other_teacher"])
def test_anyone_else_reading_a_submission_is_a_403(client_for, request, online, history, who):
    assert client_for(request.getfixturevalue(who)).get(f"/api/submissions/{history['s2'].pk}/").status_code == 403
    assert client_for(request.getfixturevalue(who)).get(submissions_url(online)).status_code in (200, 403)


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_outsiders_cant_list_a_tests_submissions(client_for, request, online, history, who):
    assert client_for(request.getfixturevalue(who)).get(submissions_url(online)).status_code == 403


def test_an_unknown_submission_is_a_404(client_for, teacher):
    assert client_for(teacher).get("/api/submissions/999999/").status_code == 404
    assert client_for(teacher).get("/api/submissions/abc/").status_code == 404


# Queries don't grow with the data.


def _grow(test, course, make_user, students: int):
    test.allowed_attempts = None
    test.due_at = datetime(2026, 12, 8, tzinfo=UTC)
    test.save()
    for _ in range(students):
        user = make_user()
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
        Extension.objects.create(test=test, student=user, extra_attempts=1)
        for attempt in (1, 2):
            _submission(test, user, attempt, datetime(2026, 12, 7 + attempt, tzinfo=UTC))
        TestResult.objects.create(test=test, student=user, score=50)


def _count(client, method, url, body=None):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    assert response.status_code in (200, 201), response.json()
    return len(queries)


@pytest.mark.parametrize(
    "url",
    [
        "{base}",
        "{base}?latest=true&graded=false",
        "{base}?late=true&student={student}",
        "/api/tests/{test}/extensions/",
    ],
)
def test_lists_run_the_same_queries_at_two_sizes(client_for, teacher, student, course, online, make_user, url):
    client = client_for(teacher)
    target = url.format(base=submissions_url(online), student=student.pk, test=online.pk)
    _grow(online, course, make_user, 2)
    small = _count(client, "get", target)
    _grow(online, course, make_user, 20)
    assert _count(client, "get", target) == small


def test_submitting_runs_the_same_queries_at_two_sizes(client_for, course, online, make_user):
    online.late_policy = None
    _grow(online, course, make_user, 2)
    first, second = make_user(), make_user()
    for user in (first, second):
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    small = _count(client_for(first), "post", submissions_url(online), {"body": "x"})
    _grow(online, course, make_user, 20)
    assert _count(client_for(second), "post", submissions_url(online), {"body": "x"}) == small


def test_deleting_a_test_takes_its_submissions(client_for, teacher, online, history):
    assert client_for(teacher).delete(f"/api/tests/{online.pk}/").status_code == 204
    assert not Submission.objects.exists() and not Test.objects.exists()
