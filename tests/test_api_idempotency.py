"""``Idempotency-Key``: a retried write is answered with the first answer and applied once."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import IdempotencyKey
from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment
from grading.models import GradeChange, Test, TestResult
from gradingsite.api import idempotency
from tests.concurrency import run_at_once
from tests.test_gradebook_csv import post_csv, to_csv

pytestmark = pytest.mark.django_db


def _client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
    return client


def _grade(client, test, student, score, key="grade-1"):
    return client.post(
        f"/api/tests/{test.pk}/results/",
        {"student": student.pk, "score": score},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_the_same_post_twice_is_one_result_one_history_line_and_the_same_answer_replayed(teacher, test_, student):
    client = _client(teacher)

    first = _grade(client, test_, student, 80)
    second = _grade(client, test_, student, 80)

    assert (first.status_code, second.status_code) == (201, 201)
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert TestResult.objects.count() == 1
    assert GradeChange.objects.count() == 1


def test_the_same_key_with_another_body_is_a_422_and_writes_nothing(teacher, test_, student):
    client = _client(teacher)
    _grade(client, test_, student, 80)

    response = _grade(client, test_, student, 81)

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert TestResult.objects.get().score == 80


def test_another_users_key_is_not_theirs(teacher, admin_user, test_, student, classmate):
    _grade(_client(teacher), test_, student, 80, key="shared")

    response = _grade(_client(admin_user), test_, classmate, 70, key="shared")

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert TestResult.objects.count() == 2


def test_a_key_expires_after_24_hours(teacher, test_, student, classmate):
    client = _client(teacher)
    _grade(client, test_, student, 80, key="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=24, seconds=1))

    # Expired: the key is free again, for any request.
    response = _grade(client, test_, classmate, 70, key="old")

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert idempotency.delete_expired() == 0  # replaced when it was used again
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(days=2))
    assert idempotency.delete_expired() == 1


def test_an_error_answer_is_not_kept_so_a_corrected_retry_runs(teacher, test_, student):
    client = _client(teacher)
    refused = _grade(client, test_, student, 1000)  # over max_score

    retried = _grade(client, test_, student, 1000)

    assert (refused.status_code, retried.status_code) == (400, 400)
    assert "Idempotent-Replayed" not in retried
    assert not IdempotencyKey.objects.exists()


def test_a_malformed_key_is_a_400(teacher, test_, student):
    for key in ["", "x" * 256, "caf\u00e9"]:
        response = _client(teacher).post(
            f"/api/tests/{test_.pk}/results/",
            {"student": student.pk, "score": 1},
            format="json",
            HTTP_IDEMPOTENCY_KEY=key,
        )
        assert response.status_code == 400, key
    assert not TestResult.objects.exists()


def test_every_create_and_grade_write_takes_a_key(teacher, course, test_, student, classmate, stranger):
    client = _client(teacher)
    results = f"/api/tests/{test_.pk}/results/"
    writes = [
        lambda: client.post("/api/courses/", {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="c"),
        lambda: client.post(
            f"/api/courses/{course.pk}/tests/",
            {"name": "Quiz", "date": "2026-12-20"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="t",
        ),
        lambda: client.post(
            f"/api/courses/{course.pk}/members/",
            {"email": stranger.email, "role": "STUDENT"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="m",
        ),
        lambda: client.put(results, [{"student": classmate.pk, "score": 5}], format="json", HTTP_IDEMPOTENCY_KEY="b"),
        lambda: client.generic(
            "POST",
            f"/api/courses/{course.pk}/gradebook/import",
            to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "9"]]),
            content_type="text/csv",
            HTTP_IDEMPOTENCY_KEY="i",
        ),
    ]
    for write in writes:
        first, second = write(), write()
        assert first.status_code in (200, 201), first.content
        assert (second.status_code, second.content, second["Idempotent-Replayed"]) == (
            first.status_code,
            first.content,
            "true",
        )
    assert Course.objects.filter(name="Once").count() == 1
    assert Test.objects.filter(name="Quiz").count() == 1
    assert Enrollment.objects.filter(user=stranger).count() == 1
    assert GradeChange.objects.count() == 2  # the bulk write's and the import's, once each


def test_the_csv_import_key_covers_the_file(teacher, course, test_, student):
    client = _client(teacher)
    table = [["email", f"Midterm (#{test_.pk})"], [student.email, "9"]]
    post_csv(client, course.pk, to_csv(table))  # no key: works as before

    other = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "8"]])
    first = client.generic(
        "POST", f"/api/courses/{course.pk}/gradebook/import", other, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="f"
    )
    changed = client.generic(
        "POST",
        f"/api/courses/{course.pk}/gradebook/import",
        to_csv(table),
        content_type="text/csv",
        HTTP_IDEMPOTENCY_KEY="f",
    )

    assert (first.status_code, changed.status_code) == (200, 422)


@pytest.mark.django_db(transaction=True)
def test_parallel_duplicates_are_processed_once(teacher, test_, student):
    def send():
        return _grade(_client(teacher), test_, student, 77, key="parallel")

    responses = run_at_once(*[send] * 4)

    statuses = sorted(r.status_code for r in responses)
    # One ran; the others found it running (409) or finished (replayed 201).
    assert statuses.count(201) >= 1 and set(statuses) <= {201, 409}
    assert sum(1 for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r) == 1
    assert TestResult.objects.count() == 1
    assert GradeChange.objects.count() == 1
