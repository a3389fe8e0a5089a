"""``Idempotency-Key``: a retried write is answered with the first answer and applied once."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import RequestFactory, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import IdempotencyKey, User
from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment, Feedback, Role
from grading import csv_io
from grading.models import Comment, Extension, GradeCategory, GradeChange, Submission, Test, TestResult, Upload
from grading.report_views import CSVUploadParser
from gradingsite.api import idempotency
from gradingsite.wsgi import application
from tests.api_routes import api_routes
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


# Every write of the API, keyed: (path, method) → the request, from a fresh set of fixtures.
# Each returns (user, method, url, body, content type); a body of bytes is sent as it is.


def _new_course(ctx):
    course = Course.objects.create(name="Spare")
    Enrollment.objects.create(user=ctx.teacher, course=course, role=Role.TEACHER)
    return course


def _result(ctx):
    return TestResult.objects.create(test=ctx.test_, student=ctx.student, score=Decimal(50))


def _online(ctx):
    Test.objects.filter(pk=ctx.test_.pk).update(submission_type="online")
    return ctx.test_


def _extension(ctx):
    return Extension.objects.create(test=ctx.test_, student=ctx.student, extra_attempts=2)


def _category(ctx):
    return GradeCategory.objects.create(course=ctx.course, name="Quizzes", weight=Decimal(10), position=5)


def _csv(ctx):
    return to_csv([["email", f"Midterm (#{ctx.test_.pk})"], [ctx.student.email, "9"]])


WRITES = {
    ("/api/auth/logout/", "POST"): lambda c: (c.teacher, "POST", "/api/auth/logout/", {"refresh": c.refresh}, None),
    ("/api/users/", "POST"): lambda c: (
        c.admin_user,
        "POST",
        "/api/users/",
        {"email": "new@example.com", "first_name": "N", "last_name": "E"},
        None,
    ),
    ("/api/users/{id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/users/{c.teacher.pk}/",
        {"first_name": "Grace", "last_name": "Hopper"},
        None,
    ),
    ("/api/users/{id}/", "PATCH"): lambda c: (
        c.teacher,
        "PATCH",
        f"/api/users/{c.teacher.pk}/",
        {"last_name": "Hopper"},
        None,
    ),
    ("/api/users/{id}/", "DELETE"): lambda c: (c.admin_user, "DELETE", f"/api/users/{c.stranger.pk}/", None, None),
    ("/api/courses/", "POST"): lambda c: (c.teacher, "POST", "/api/courses/", {"name": "Once"}, None),
    ("/api/courses/{id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/courses/{c.course.pk}/",
        {"name": "Renamed", "details": "New."},
        None,
    ),
    ("/api/courses/{id}/", "PATCH"): lambda c: (
        c.teacher,
        "PATCH",
        f"/api/courses/{c.course.pk}/",
        {"name": "Renamed"},
        None,
    ),
    ("/api/courses/{id}/", "DELETE"): lambda c: (c.teacher, "DELETE", f"/api/courses/{_new_course(c).pk}/", None, None),
    ("/api/courses/{id}/members/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/courses/{c.course.pk}/members/",
        {"email": c.stranger.email, "role": "STUDENT"},
        None,
    ),
    ("/api/courses/{id}/feedback/", "POST"): lambda c: (
        c.student,
        "POST",
        f"/api/courses/{c.course.pk}/feedback/",
        {"feedback": "Clear."},
        None,
    ),
    ("/api/users/{id}/courses/", "POST"): lambda c: (
        c.stranger,
        "POST",
        f"/api/users/{c.stranger.pk}/courses/",
        {"course": c.course.pk, "role": "STUDENT"},
        None,
    ),
    ("/api/users/{id}/courses/{course_id}/", "DELETE"): lambda c: (
        c.classmate,
        "DELETE",
        f"/api/users/{c.classmate.pk}/courses/{c.course.pk}/",
        None,
        None,
    ),
    ("/api/courses/{id}/tests/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/courses/{c.course.pk}/tests/",
        {"name": "Quiz", "date": "2026-12-20"},
        None,
    ),
    ("/api/courses/{id}/gradebook/import/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/courses/{c.course.pk}/gradebook/import/",
        _csv(c),
        "text/csv",
    ),
    ("/api/courses/{id}/categories/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/courses/{c.course.pk}/categories/",
        {"name": "Labs", "weight": 20},
        None,
    ),
    ("/api/categories/{id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/categories/{_category(c).pk}/",
        {"name": "Quizzes", "weight": 30},
        None,
    ),
    ("/api/categories/{id}/", "PATCH"): lambda c: (
        c.teacher,
        "PATCH",
        f"/api/categories/{_category(c).pk}/",
        {"weight": 30},
        None,
    ),
    ("/api/categories/{id}/", "DELETE"): lambda c: (
        c.teacher,
        "DELETE",
        f"/api/categories/{_category(c).pk}/",
        None,
        None,
    ),
    ("/api/tests/{id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/tests/{c.test_.pk}/",
        {"name": "Midterm 2", "date": "2026-12-02", "max_score": 100},
        None,
    ),
    ("/api/tests/{id}/", "PATCH"): lambda c: (c.teacher, "PATCH", f"/api/tests/{c.test_.pk}/", {"name": "Mid"}, None),
    ("/api/tests/{id}/", "DELETE"): lambda c: (c.teacher, "DELETE", f"/api/tests/{c.test_.pk}/", None, None),
    ("/api/tests/{id}/results/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/tests/{c.test_.pk}/results/",
        {"student": c.student.pk, "score": 80},
        None,
    ),
    ("/api/tests/{id}/results/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/tests/{c.test_.pk}/results/",
        [{"student": c.classmate.pk, "score": 5}],
        None,
    ),
    ("/api/test-results/{id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/test-results/{_result(c).pk}/",
        {"score": 60},
        None,
    ),
    ("/api/test-results/{id}/", "PATCH"): lambda c: (
        c.teacher,
        "PATCH",
        f"/api/test-results/{_result(c).pk}/",
        {"score": 60},
        None,
    ),
    ("/api/test-results/{id}/", "DELETE"): lambda c: (
        c.teacher,
        "DELETE",
        f"/api/test-results/{_result(c).pk}/",
        None,
        None,
    ),
    ("/api/tests/{id}/submissions/", "POST"): lambda c: (
        c.student,
        "POST",
        f"/api/tests/{_online(c).pk}/submissions/",
        {"body": "My essay."},
        None,
    ),
    ("/api/tests/{id}/uploads/", "POST"): lambda c: (
        c.student,
        "POST",
        f"/api/tests/{_online(c).pk}/uploads/",
        {"name": "essay.pdf", "size": 1000, "content_type": "application/pdf"},
        None,
    ),
    ("/api/tests/{id}/extensions/{student_id}/", "PUT"): lambda c: (
        c.teacher,
        "PUT",
        f"/api/tests/{c.test_.pk}/extensions/{c.student.pk}/",
        {"extra_attempts": 1},
        None,
    ),
    ("/api/tests/{id}/extensions/{student_id}/", "DELETE"): lambda c: (
        c.teacher,
        "DELETE",
        f"/api/tests/{_extension(c).test_id}/extensions/{c.student.pk}/",
        None,
        None,
    ),
    ("/api/tests/{id}/students/{student_id}/comments/", "POST"): lambda c: (
        c.teacher,
        "POST",
        f"/api/tests/{c.test_.pk}/students/{c.student.pk}/comments/",
        {"body": "Well argued."},
        None,
    ),
}
# Open to anyone: a key belongs to a caller, and these have none → 400.
OPEN_WRITES = {("/api/auth/login/", "POST"), ("/api/auth/authenticate/", "POST"), ("/api/auth/refresh/", "POST")}
# Honoured, but its retry can't be answered: the token it was sent with is revoked by it (401).
REVOKES_ITS_TOKEN = {("/api/auth/logout-all/", "POST")}


class Fixtures:
    def __init__(self, **fixtures):
        self.__dict__.update(fixtures)
        self.refresh = issue_tokens(self.teacher)["refresh"]


@pytest.fixture
def ctx(teacher, student, classmate, stranger, admin_user, course, test_, local_files):
    return Fixtures(
        teacher=teacher,
        student=student,
        classmate=classmate,
        stranger=stranger,
        admin_user=admin_user,
        course=course,
        test_=test_,
    )


def _send(user, method, url, body, content_type, key):
    client = _client(user)
    if isinstance(body, bytes):
        return client.generic(method, url, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=key)
    return client.generic(
        method, url, "" if body is None else _json(body), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
    )


def _json(body) -> str:
    return json.dumps(body)


def _described(response) -> dict:
    """The answer's headers, but Date and the replay flag."""
    return {name: value for name, value in response.items() if name not in ("Date", "Idempotent-Replayed")}


def test_every_write_of_the_api_takes_a_key_or_refuses_one():
    writes = {(path, method) for path, _, methods in api_routes() for method in methods if method != "GET"}

    assert writes == set(WRITES) | OPEN_WRITES | REVOKES_ITS_TOKEN


@pytest.mark.parametrize("write", sorted(WRITES), ids=lambda write: f"{write[1]} {write[0]}")
def test_a_keyed_write_is_applied_once_and_its_replay_is_the_first_answer(ctx, write):
    request = WRITES[write](ctx)
    first = _send(*request, key="k-1")
    tables = _counts()

    second = _send(*request, key="k-1")

    assert 200 <= first.status_code < 300, first.content
    assert "Idempotent-Replayed" not in first
    assert (second.status_code, second.content, second["Idempotent-Replayed"]) == (
        first.status_code,
        first.content,
        "true",
    )
    assert _described(second) == _described(first)
    assert _counts() == tables  # the replay wrote nothing
    assert IdempotencyKey.objects.count() == 1


def _counts() -> dict:
    models = [
        User,
        Course,
        Enrollment,
        Feedback,
        Test,
        GradeCategory,
        TestResult,
        GradeChange,
        Submission,
        Extension,
        Comment,
        Upload,
    ]
    return {model.__name__: model.objects.count() for model in models} | {
        "versions": sorted(Course.objects.values_list("version", flat=True))
        + sorted(Test.objects.values_list("version", flat=True))
        + sorted(TestResult.objects.values_list("version", flat=True))
    }


def test_two_category_creates_with_one_key_make_one_category(teacher, course):
    client = _client(teacher)
    url = f"/api/courses/{course.pk}/categories/"
    before = GradeCategory.objects.count()

    first = client.post(url, {"name": "Labs", "weight": 20}, format="json", HTTP_IDEMPOTENCY_KEY="cat")
    second = client.post(url, {"name": "Labs", "weight": 20}, format="json", HTTP_IDEMPOTENCY_KEY="cat")

    assert (first.status_code, second.status_code, second["Idempotent-Replayed"]) == (201, 201, "true")
    assert GradeCategory.objects.count() == before + 1


def test_a_replayed_create_has_the_first_answers_content_type_etag_and_location(teacher):
    client = _client(teacher)

    first = client.post("/api/courses/", {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="c")
    second = client.post("/api/courses/", {"name": "Once"}, format="json", HTTP_IDEMPOTENCY_KEY="c")

    assert first["Content-Type"] == second["Content-Type"] == "application/json"
    assert second["ETag"] == first["ETag"] and first["ETag"].startswith('"1-')
    assert second.json() == first.json()


def test_a_replayed_delete_is_a_204_without_a_body_or_content_type(teacher, test_):
    client = _client(teacher)

    first = client.delete(f"/api/tests/{test_.pk}/", HTTP_IDEMPOTENCY_KEY="d")
    second = client.delete(f"/api/tests/{test_.pk}/", HTTP_IDEMPOTENCY_KEY="d")

    assert (first.status_code, second.status_code, second.content) == (204, 204, b"")
    assert "Content-Type" not in second and second["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("path", sorted(path for path, _ in OPEN_WRITES))
def test_the_open_sign_in_routes_refuse_a_key_and_do_nothing(client_for, teacher, path):
    bodies = {
        "/api/auth/login/": {"email": teacher.email},
        "/api/auth/authenticate/": {"email": teacher.email, "code": "123456"},
        "/api/auth/refresh/": {"refresh": issue_tokens(teacher)["refresh"]},
    }

    response = client_for().post(path, bodies[path], format="json", HTTP_IDEMPOTENCY_KEY="open")

    assert response.status_code == 400
    assert response.json() == {"detail": idempotency.NOT_ACCEPTED}
    assert not mail.outbox and not IdempotencyKey.objects.exists()


def test_a_key_on_a_read_is_ignored(client_for, teacher, course):
    response = client_for(teacher).get(f"/api/courses/{course.pk}/", HTTP_IDEMPOTENCY_KEY="read")

    assert response.status_code == 200 and "Idempotent-Replayed" not in response
    assert not IdempotencyKey.objects.exists()


def _multipart(boundary: str, data: bytes, filename: str = "grades.csv") -> bytes:
    return (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )


def _upload(client, course, body: bytes, boundary: str, key="up"):
    return client.generic(
        "POST",
        f"/api/courses/{course.pk}/gradebook/import/",
        body,
        content_type=f"multipart/form-data; boundary={boundary}",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_a_retried_multipart_import_with_another_boundary_is_replayed(teacher, course, test_, student):
    client = _client(teacher)
    data = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "9"]])

    first = _upload(client, course, _multipart("boundary-one", data), "boundary-one")
    second = _upload(client, course, _multipart("other-boundary-2", data), "other-boundary-2")

    assert (first.status_code, second.status_code, second["Idempotent-Replayed"]) == (200, 200, "true")
    assert second.content == first.content
    assert GradeChange.objects.count() == 1


def test_a_multipart_import_with_another_file_or_file_name_under_the_key_is_a_422(teacher, course, test_, student):
    client = _client(teacher)
    data = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "9"]])
    other = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "8"]])
    assert _upload(client, course, _multipart("b1", data), "b1").status_code == 200

    changed = _upload(client, course, _multipart("b2", other), "b2")
    renamed = _upload(client, course, _multipart("b3", data, filename="other.csv"), "b3")

    assert (changed.status_code, renamed.status_code) == (422, 422)


# Nothing is stored for a write that changed nothing; a caller's live keys are bounded.


def test_a_dry_run_import_stores_no_key(teacher, course, test_, student):
    client = _client(teacher)
    url = f"/api/courses/{course.pk}/gradebook/import/?dry_run=true"
    body = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "9"]])

    response = client.generic("POST", url, body, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="dry")

    assert response.status_code == 200 and response.json()["created"] == 1
    assert not TestResult.objects.exists()
    assert not IdempotencyKey.objects.exists()


def test_an_unchanged_result_put_and_an_unchanged_bulk_upsert_store_no_key(teacher, test_, student):
    result = TestResult.objects.create(test=test_, student=student, score=Decimal(50), grader=teacher)
    client = _client(teacher)

    put = client.put(f"/api/test-results/{result.pk}/", {"score": 50}, format="json", HTTP_IDEMPOTENCY_KEY="p")
    bulk = client.put(
        f"/api/tests/{test_.pk}/results/",
        [{"student": student.pk, "score": 50}],
        format="json",
        HTTP_IDEMPOTENCY_KEY="b",
    )

    assert (put.status_code, bulk.status_code) == (200, 200)
    assert not IdempotencyKey.objects.exists()


def test_a_changing_write_after_a_dry_run_under_the_same_key_is_applied(teacher, course, test_, student):
    client = _client(teacher)
    body = to_csv([["email", f"Midterm (#{test_.pk})"], [student.email, "9"]])
    url = f"/api/courses/{course.pk}/gradebook/import/"

    client.generic("POST", url + "?dry_run=true", body, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="x")
    applied = client.generic("POST", url, body, content_type="text/csv", HTTP_IDEMPOTENCY_KEY="x")

    assert applied.status_code == 200 and "Idempotent-Replayed" not in applied
    assert TestResult.objects.get().score == 9


@override_settings(IDEMPOTENCY_KEYS_PER_USER=2)
def test_a_new_key_past_the_callers_bound_is_a_429_with_retry_after(teacher, admin_user):
    client = _client(teacher)
    for key in ("a", "b"):
        assert client.post("/api/courses/", {"name": key}, format="json", HTTP_IDEMPOTENCY_KEY=key).status_code == 201
    IdempotencyKey.objects.filter(key="a").update(created_at=timezone.now() - timedelta(hours=23))

    refused = client.post("/api/courses/", {"name": "c"}, format="json", HTTP_IDEMPOTENCY_KEY="c")
    replayed = client.post("/api/courses/", {"name": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    unkeyed = client.post("/api/courses/", {"name": "c"}, format="json")
    others = _client(admin_user).post("/api/courses/", {"name": "d"}, format="json", HTTP_IDEMPOTENCY_KEY="c")

    assert refused.status_code == 429
    assert "Idempotency-Key" in refused.json()["detail"]
    assert 3500 <= int(refused["Retry-After"]) <= 3600  # the oldest key expires in an hour
    assert not Course.objects.filter(name="c").exclude(pk=unkeyed.json()["id"]).exists()
    assert (replayed.status_code, replayed["Idempotent-Replayed"]) == (201, "true")
    assert (unkeyed.status_code, others.status_code) == (201, 201)


@override_settings(IDEMPOTENCY_KEYS_PER_USER=1)
def test_expired_keys_dont_count_against_the_bound(teacher):
    client = _client(teacher)
    client.post("/api/courses/", {"name": "a"}, format="json", HTTP_IDEMPOTENCY_KEY="a")
    IdempotencyKey.objects.update(created_at=timezone.now() - TTL_AND_A_SECOND)

    response = client.post("/api/courses/", {"name": "b"}, format="json", HTTP_IDEMPOTENCY_KEY="b")

    assert response.status_code == 201


TTL_AND_A_SECOND = timedelta(hours=24, seconds=1)


# The body is read only once the caller is known to be allowed, and never past the endpoint's limit.


class CountingInput:
    """A request body of ``size`` bytes that counts what the server reads of it."""

    def __init__(self, size: int, byte: bytes = b"a"):
        self.remaining, self.byte, self.read_bytes = size, byte, 0

    def read(self, size=-1):
        n = self.remaining if size is None or size < 0 else min(size, self.remaining)
        self.remaining -= n
        self.read_bytes += n
        return self.byte * n

    def readline(self, size=-1):
        return self.read(size)


def _streamed(user, method, url, body: CountingInput, content_type, length, key="big"):
    extra = {"wsgi.input": body, "CONTENT_TYPE": content_type, "HTTP_IDEMPOTENCY_KEY": key}
    if length is not None:
        extra["CONTENT_LENGTH"] = str(length)
    return _client(user).generic(method, url, "", content_type=content_type, **extra)


@pytest.mark.parametrize("content_type", ["text/csv", "multipart/form-data; boundary=xyz"], ids=["csv", "multipart"])
def test_a_strangers_keyed_import_is_a_403_and_its_body_is_never_read(stranger, course, content_type):
    body = CountingInput(3 * 1024 * 1024 + 1)

    response = _streamed(
        stranger, "POST", f"/api/courses/{course.pk}/gradebook/import/", body, content_type, 3 * 1024 * 1024 + 1
    )

    assert response.status_code == 403
    assert body.read_bytes == 0
    assert not IdempotencyKey.objects.exists()


def test_a_keyed_json_write_declaring_more_than_the_limit_is_a_413_before_reading(teacher, settings):
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    body = CountingInput(size)

    response = _streamed(teacher, "POST", "/api/courses/", body, "application/json", size)

    assert response.status_code == 413
    assert body.read_bytes == 0


@pytest.mark.parametrize("content_type", ["text/csv", "multipart/form-data; boundary=xyz"], ids=["csv", "multipart"])
@pytest.mark.parametrize("key", ["imp", None], ids=["keyed", "unkeyed"])
def test_an_import_declaring_more_than_its_limit_is_a_413_before_reading(teacher, course, content_type, key):
    size = csv_io.IMPORT_MAX_BYTES + 128 * 1024
    body = CountingInput(size)
    url = f"/api/courses/{course.pk}/gradebook/import/"
    extra = {"wsgi.input": body, "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(size)}
    if key is not None:
        extra["HTTP_IDEMPOTENCY_KEY"] = key

    response = _client(teacher).generic("POST", url, "", content_type=content_type, **extra)

    assert response.status_code == 413
    assert body.read_bytes == 0


def _chunked(user, url, body, content_type, key="chunked"):
    """``body`` sent as gunicorn hands a chunked request to the app (no Content-Length), through
    the WSGI application gunicorn serves."""
    environ = RequestFactory().generic("POST", url, content_type=content_type).environ
    environ.pop("CONTENT_LENGTH", None)
    environ.update(
        {
            "wsgi.input": body,
            "CONTENT_TYPE": content_type,
            "HTTP_TRANSFER_ENCODING": "chunked",
            "wsgi.input_terminated": True,
            "HTTP_AUTHORIZATION": f"Bearer {issue_tokens(user)['access']}",
            "HTTP_IDEMPOTENCY_KEY": key,
        }
    )
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        response = application(environ, start_response)
        answer["body"] = b"".join(response)
        response.close()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer


class Chunks(CountingInput):
    """A chunked body: ``data`` then ``filler`` bytes, then its end."""

    def __init__(self, data: bytes, filler: int = 0):
        super().__init__(len(data) + filler)
        self.data = data

    def read(self, size=-1):
        start = self.read_bytes
        chunk = super().read(size)
        head = self.data[start : start + len(chunk)]
        return head + chunk[len(head) :]


def test_a_chunked_keyed_json_write_is_applied_once_and_replayed(teacher):
    first = _chunked(teacher, "/api/courses/", Chunks(b'{"name": "Chunked"}'), "application/json")
    second = _chunked(teacher, "/api/courses/", Chunks(b'{"name": "Chunked"}'), "application/json")

    assert (first["status"], second["status"]) == (201, 201), first
    assert second["body"] == first["body"] and second["headers"]["Idempotent-Replayed"] == "true"
    assert Course.objects.filter(name="Chunked").count() == 1


def test_a_chunked_json_body_past_the_limit_is_a_413_having_read_one_byte_past_it(teacher, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = Chunks(b'{"name": "', filler=3 * limit)

    answer = _chunked(teacher, "/api/courses/", body, "application/json")

    assert answer["status"] == 413
    assert body.read_bytes == limit + 1


@pytest.mark.parametrize("content_type", ["text/csv", "multipart/form-data; boundary=xyz"], ids=["csv", "multipart"])
def test_a_chunked_import_past_its_limit_is_a_413_having_read_one_byte_past_it(teacher, course, content_type):
    body = Chunks(b"email\r\n", filler=csv_io.IMPORT_MAX_BYTES + 1024 * 1024)

    answer = _chunked(teacher, f"/api/courses/{course.pk}/gradebook/import/", body, content_type)

    assert answer["status"] == 413
    limit = csv_io.IMPORT_MAX_BYTES if content_type == "text/csv" else CSVUploadParser.max_bytes
    assert body.read_bytes == limit + 1


def test_a_strangers_chunked_import_is_a_403_and_its_body_is_never_read(stranger, course):
    body = Chunks(b"email\r\n", filler=3 * 1024 * 1024)

    answer = _chunked(stranger, f"/api/courses/{course.pk}/gradebook/import/", body, "text/csv")

    assert answer["status"] == 403
    assert body.read_bytes == 0


# Writes anyone signed in may make, or whose permission depends on the body (the course to enroll in).
ALLOWED_TO_A_STRANGER_OR_DECIDED_BY_THE_BODY = {
    ("/api/courses/", "POST"),
    ("/api/auth/logout/", "POST"),
    ("/api/users/{id}/courses/", "POST"),
}


@pytest.mark.parametrize(
    "write",
    sorted(w for w in WRITES if w[1] != "DELETE" and w not in ALLOWED_TO_A_STRANGER_OR_DECIDED_BY_THE_BODY),
    ids=lambda write: f"{write[1]} {write[0]}",
)
def test_a_keyed_write_by_a_caller_who_may_not_make_it_is_refused_without_reading_its_body(ctx, write):
    _, method, url, _, content_type = WRITES[write](ctx)
    body = CountingInput(1024 * 1024)

    response = _streamed(ctx.stranger, method, url, body, content_type or "application/json", 1024 * 1024)

    assert response.status_code == 403, response.content
    assert body.read_bytes == 0
    assert not IdempotencyKey.objects.exists()
