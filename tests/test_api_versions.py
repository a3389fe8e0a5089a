"""Safe writes: every versioned resource has an ETag; If-Match guards writes, If-None-Match reads.

Each rule is checked on each resource (course, test, result, category, user) through the API.
"""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tokens import issue_tokens
from courses.models import Course
from grading import services
from grading.models import GradeCategory, GradeChange, Test, TestResult
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(teacher, test_, student):
    return services.result_record(test=test_, student=student, score=Decimal(50), by=teacher)


# (name, the caller, its URL, a change, how to read the changed field from the database)
RESOURCES = {
    "course": (
        "teacher",
        lambda w: f"/api/courses/{w['course'].pk}/",
        {"name": "Renamed"},
        lambda w: Course.objects.get(pk=w["course"].pk).name,
    ),
    "test": (
        "teacher",
        lambda w: f"/api/tests/{w['test_'].pk}/",
        {"name": "Renamed"},
        lambda w: Test.objects.get(pk=w["test_"].pk).name,
    ),
    "result": (
        "teacher",
        lambda w: f"/api/test-results/{w['result'].pk}/",
        {"score": 75},
        lambda w: TestResult.objects.get(pk=w["result"].pk).score,
    ),
    "category": (
        "teacher",
        lambda w: f"/api/categories/{w['category'].pk}/",
        {"name": "Renamed"},
        lambda w: GradeCategory.objects.get(pk=w["category"].pk).name,
    ),
    "user": (
        "student",
        lambda w: f"/api/users/{w['student'].pk}/",
        {"first_name": "Renamed"},
        lambda w: type(w["student"]).objects.get(pk=w["student"].pk).first_name,
    ),
}


@pytest.fixture
def world(teacher, student, course, test_, result):
    return {
        "teacher": teacher,
        "student": student,
        "course": course,
        "test_": test_,
        "result": result,
        "category": test_.category,
    }


def _client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
    return client


@pytest.fixture(params=sorted(RESOURCES))
def resource(request, world):
    who, url, change, stored = RESOURCES[request.param]
    return _client(world[who]), url(world), change, lambda: stored(world)


def test_a_single_object_answers_its_version_as_a_strong_etag(resource):
    client, url, change, _ = resource

    read = client.get(url)
    written = client.patch(url, change, format="json")

    assert read["ETag"] == f'"{read.json()["version"]}"'
    assert written.status_code == 200
    assert written["ETag"] == f'"{read.json()["version"] + 1}"' == f'"{written.json()["version"]}"'


def test_if_none_match_with_the_current_etag_is_a_304_without_a_body(resource):
    client, url, change, _ = resource
    tag = client.get(url)["ETag"]

    unchanged = client.get(url, HTTP_IF_NONE_MATCH=tag)
    client.patch(url, change, format="json")
    changed = client.get(url, HTTP_IF_NONE_MATCH=tag)

    assert (unchanged.status_code, unchanged.content, unchanged["ETag"]) == (304, b"", tag)
    assert changed.status_code == 200 and changed["ETag"] != tag


def test_a_write_with_the_current_etag_goes_through(resource):
    client, url, change, stored = resource
    tag = client.get(url)["ETag"]
    before = stored()

    response = client.patch(url, change, format="json", HTTP_IF_MATCH=tag)

    assert response.status_code == 200
    assert stored() != before


def test_a_write_with_a_stale_etag_is_a_412_with_the_current_representation_and_writes_nothing(resource):
    client, url, change, stored = resource
    stale = client.get(url)["ETag"]
    client.patch(url, change, format="json")  # someone else's change
    before = stored()
    other = {key: (value + 1 if isinstance(value, int) else value + " again") for key, value in change.items()}

    response = client.patch(url, other, format="json", HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    body = response.json()
    assert body["detail"]
    assert body["current"] == client.get(url).json()
    assert stored() == before


def test_a_delete_with_a_stale_etag_is_a_412_and_deletes_nothing(world):
    client = _client(world["teacher"])
    url = f"/api/categories/{GradeCategory.objects.create(course=world['course'], name='Spare', position=9).pk}/"
    stale = client.get(url)["ETag"]
    client.patch(url, {"name": "Spare 2"}, format="json")

    refused = client.delete(url, HTTP_IF_MATCH=stale)
    deleted = client.delete(url, HTTP_IF_MATCH=client.get(url)["ETag"])

    assert (refused.status_code, deleted.status_code) == (412, 204)


def test_if_match_star_matches_any_version_and_a_weak_tag_never_does(resource):
    client, url, change, _ = resource
    version = client.get(url).json()["version"]

    weak = client.patch(url, change, format="json", HTTP_IF_MATCH=f'W/"{version}"')
    star = client.patch(url, change, format="json", HTTP_IF_MATCH="*")
    listed = client.patch(url, change, format="json", HTTP_IF_MATCH=f'"999", "{version}"')

    assert (weak.status_code, star.status_code, listed.status_code) == (412, 200, 412)


def test_with_require_if_match_a_write_without_it_is_a_428(resource, settings):
    settings.REQUIRE_IF_MATCH = True
    client, url, change, _ = resource

    refused = client.patch(url, change, format="json")
    allowed = client.patch(url, change, format="json", HTTP_IF_MATCH=client.get(url)["ETag"])

    assert refused.status_code == 428
    assert "If-Match" in refused.json()["detail"]
    assert allowed.status_code == 200


def test_a_caller_without_the_right_to_write_gets_403_not_the_current_representation(world, stranger):
    response = _client(stranger).patch(
        f"/api/test-results/{world['result'].pk}/", {"score": 1}, format="json", HTTP_IF_MATCH='"999"'
    )
    assert response.status_code == 403
    assert "current" not in response.json()


def test_bulk_writes_and_history_keep_counting_versions(world):
    client = _client(world["teacher"])
    url = f"/api/test-results/{world['result'].pk}/"
    services.results_upsert(test=world["test_"], items=[(world["student"].pk, Decimal(60))], by=world["teacher"])

    assert client.get(url).json()["version"] == 2


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_writes_with_the_same_etag_one_wins_one_is_412_and_history_has_one_change(
    teacher, test_, student
):
    result = services.result_record(test=test_, student=student, score=Decimal(50), by=teacher)
    url = f"/api/test-results/{result.pk}/"
    tag = _client(teacher).get(url)["ETag"]
    history = GradeChange.objects.filter(result=result).count()

    def write(score):
        return lambda: _client(teacher).patch(url, {"score": score}, format="json", HTTP_IF_MATCH=tag).status_code

    statuses = run_at_once(write(61), write(62))

    assert sorted(statuses) == [200, 412]
    assert GradeChange.objects.filter(result=result).count() == history + 1
    assert TestResult.objects.get(pk=result.pk).version == 2


# The bulk upsert's If-Match: the test's results version.


def _results_version(client, test):
    return client.get(f"/api/tests/{test.pk}/").json()["results_version"]


def test_the_bulk_upsert_with_the_current_results_version_goes_through_and_answers_the_next(world, classmate):
    client = _client(world["teacher"])
    test, url = world["test_"], f"/api/tests/{world['test_'].pk}/results/"
    version = _results_version(client, test)

    response = client.put(url, [{"student": classmate.pk, "score": 5}], format="json", HTTP_IF_MATCH=f'"{version}"')

    assert response.status_code == 200
    assert response["ETag"] == f'"{_results_version(client, test)}"' != f'"{version}"'


def test_the_bulk_upsert_after_someone_else_graded_is_a_412_and_writes_nothing(world, classmate):
    client = _client(world["teacher"])
    test, url = world["test_"], f"/api/tests/{world['test_'].pk}/results/"
    stale = _results_version(client, test)
    client.patch(f"/api/test-results/{world['result'].pk}/", {"score": 51}, format="json")  # another grader
    changes = GradeChange.objects.count()

    response = client.put(url, [{"student": classmate.pk, "score": 5}], format="json", HTTP_IF_MATCH=f'"{stale}"')

    assert response.status_code == 412
    assert response.json()["current"] == {"results_version": _results_version(client, test)}
    assert not TestResult.objects.filter(student=classmate).exists()
    assert GradeChange.objects.count() == changes


def test_the_results_version_moves_only_when_a_result_changes(world):
    client = _client(world["teacher"])
    test, url = world["test_"], f"/api/tests/{world['test_'].pk}/results/"
    before = _results_version(client, test)

    client.put(url, [{"student": world["student"].pk, "score": 50}], format="json")  # the same score
    unchanged = _results_version(client, test)
    client.patch(f"/api/tests/{test.pk}/", {"name": "Renamed"}, format="json")  # the test, not its results
    renamed = _results_version(client, test)
    client.delete(f"/api/test-results/{world['result'].pk}/")
    deleted = _results_version(client, test)

    assert before == unchanged == renamed < deleted
    course = client.get(f"/api/courses/{test.course_id}/").json()
    assert course["tests"][0]["results_version"] == deleted


def test_the_profile_has_the_users_etag_too(student):
    client = _client(student)
    profile = client.get("/api/profile/")

    assert profile["ETag"] == client.get(f"/api/users/{student.pk}/")["ETag"] == f'"{profile.json()["version"]}"'
    assert client.get("/api/profile/", HTTP_IF_NONE_MATCH=profile["ETag"]).status_code == 304


def test_signing_in_or_out_is_not_a_new_version_of_the_user(student):
    from django.contrib.auth.models import update_last_login
    from django.utils import timezone

    update_last_login(None, student)
    student.tokens_valid_after = timezone.now()
    student.save(update_fields=["tokens_valid_after"])
    student.refresh_from_db()
    assert student.version == 1

    student.first_name = "Changed"
    student.save()
    assert student.version == 2


def test_a_deadlock_between_concurrent_writes_is_a_409_to_retry_not_a_5xx():
    from django.db import OperationalError
    from psycopg import errors

    from gradingsite.api.exceptions import exception_handler

    exc = OperationalError("deadlock detected")
    exc.__cause__ = errors.DeadlockDetected("deadlock detected")

    response = exception_handler(exc, {})

    assert response.status_code == 409
    assert "Try again" in response.data["detail"]
