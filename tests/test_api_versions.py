"""Safe writes: every versioned resource has an ETag; If-Match guards writes, If-None-Match reads.

Each rule is checked on each resource (course, test, result, category, user) through the API.
"""

import re
from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment, Role
from grading import csv_io, services
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


TAG = re.compile(r'"(\d+)-[0-9a-f]{24}"')


def _version_in(tag: str) -> int:
    match = TAG.fullmatch(tag)
    assert match, tag
    return int(match.group(1))


def test_a_single_object_answers_its_version_and_a_digest_of_its_body_as_a_strong_etag(resource):
    client, url, change, _ = resource

    read = client.get(url)
    again = client.get(url)
    written = client.patch(url, change, format="json")

    assert _version_in(read["ETag"]) == read.json()["version"]
    assert again["ETag"] == read["ETag"]
    assert written.status_code == 200
    assert _version_in(written["ETag"]) == read.json()["version"] + 1 == written.json()["version"]


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
    now = client.get(url)
    assert body["detail"]
    assert body["current"] == now.json()
    assert response["ETag"] == now["ETag"]
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
    tag = client.get(url)["ETag"]

    weak = client.patch(url, change, format="json", HTTP_IF_MATCH=f"W/{tag}")
    star = client.patch(url, change, format="json", HTTP_IF_MATCH="*")
    stale = client.patch(url, change, format="json", HTTP_IF_MATCH=f'"999", {tag}')

    assert (weak.status_code, star.status_code, stale.status_code) == (412, 200, 412)


def test_an_if_match_list_matches_when_any_of_its_strong_tags_does(resource):
    client, url, change, _ = resource
    tag = client.get(url)["ETag"]

    response = client.patch(url, change, format="json", HTTP_IF_MATCH=f'"999", W/"1", {tag}')

    assert response.status_code == 200


def test_if_match_takes_the_bare_version_too(resource):
    client, url, change, _ = resource
    version = client.get(url).json()["version"]

    response = client.patch(url, change, format="json", HTTP_IF_MATCH=f'"{version}"')

    assert response.status_code == 200


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


def test_the_bulk_upsert_with_the_current_results_version_in_a_list_goes_through(world, classmate):
    client = _client(world["teacher"])
    test, url = world["test_"], f"/api/tests/{world['test_'].pk}/results/"
    version = _results_version(client, test)

    weak = client.put(url, [{"student": classmate.pk, "score": 4}], format="json", HTTP_IF_MATCH=f'W/"{version}"')
    listed = client.put(
        url, [{"student": classmate.pk, "score": 5}], format="json", HTTP_IF_MATCH=f'"999", "{version}"'
    )
    star = client.put(url, [{"student": classmate.pk, "score": 6}], format="json", HTTP_IF_MATCH="*")

    assert (weak.status_code, listed.status_code, star.status_code) == (412, 200, 200)
    assert TestResult.objects.get(student=classmate).score == 6


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

    assert profile["ETag"] == client.get(f"/api/users/{student.pk}/")["ETag"]
    assert _version_in(profile["ETag"]) == profile.json()["version"]
    assert client.get("/api/profile/", HTTP_IF_NONE_MATCH=profile["ETag"]).status_code == 304
    renamed = client.patch(f"/api/users/{student.pk}/", {"first_name": "Renamed"}, format="json")
    assert client.get("/api/profile/", HTTP_IF_NONE_MATCH=profile["ETag"]).status_code == 200
    assert client.get("/api/profile/")["ETag"] == renamed["ETag"] != profile["ETag"]


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


# What a representation embeds: a course its tests, teachers and the caller's results versions; a
# test its results version; a result its percent of the test's max_score. A change to any of them
# is a new body, so a new ETag; If-Match still speaks of the row being written.


def _add_test(w):
    return _client(w["teacher"]).post(
        f"/api/courses/{w['course'].pk}/tests/", {"name": "Final", "date": "2026-12-20"}, format="json"
    )


def _enroll_teacher(w):
    return _client(w["teacher"]).post(
        f"/api/courses/{w['course'].pk}/members/", {"user": w["other_teacher"].pk, "role": "TEACHER"}, format="json"
    )


def _unenroll_teacher(w):
    Enrollment.objects.create(user=w["other_teacher"], course=w["course"], role=Role.TEACHER)
    return lambda: _client(w["teacher"]).delete(f"/api/users/{w['other_teacher'].pk}/courses/{w['course'].pk}/")


def _rename_teacher(w):
    return _client(w["teacher"]).patch(f"/api/users/{w['teacher'].pk}/", {"first_name": "Renamed"}, format="json")


def _grade(w):
    return _client(w["teacher"]).post(
        f"/api/tests/{w['test_'].pk}/results/", {"student": w["classmate"].pk, "score": 7}, format="json"
    )


def _hide_results(w):
    return _client(w["teacher"]).patch(f"/api/tests/{w['test_'].pk}/", {"results_published": False}, format="json")


def _raise_max_score(w):
    return _client(w["teacher"]).patch(f"/api/tests/{w['test_'].pk}/", {"max_score": 200}, format="json")


# (the reader, the resource read, what changes what it shows, a write of the resource's own row)
EMBEDDED = {
    "course, a test added": ("teacher", "course", _add_test, {"name": "Renamed"}),
    "course, a teacher enrolled": ("teacher", "course", _enroll_teacher, {"name": "Renamed"}),
    "course, a teacher unenrolled": ("teacher", "course", _unenroll_teacher, {"name": "Renamed"}),
    "course, a teacher renamed": ("teacher", "course", _rename_teacher, {"name": "Renamed"}),
    "course, a result graded": ("teacher", "course", _grade, {"name": "Renamed"}),
    "course, results hidden (as its student)": ("student", "course", _hide_results, None),
    "test, a result graded": ("teacher", "test", _grade, {"name": "Renamed"}),
    "test, a result graded (as its student)": ("student", "test", _grade, None),
    "result, the test's max_score raised": ("teacher", "result", _raise_max_score, {"score": 75}),
}


def _embedded(name, world, classmate, other_teacher):
    reader, resource, change, write = EMBEDDED[name]
    world = {**world, "classmate": classmate, "other_teacher": other_teacher}
    return _client(world[reader]), RESOURCES[resource][1](world), world, change, write


@pytest.fixture(params=sorted(EMBEDDED))
def embedded(request, world, classmate, other_teacher):
    return _embedded(request.param, world, classmate, other_teacher)


@pytest.fixture(params=sorted(name for name, (*_, write) in EMBEDDED.items() if write is not None))
def embedded_and_written(request, world, classmate, other_teacher):
    return _embedded(request.param, world, classmate, other_teacher)


def test_a_change_to_what_a_body_shows_is_a_new_etag(embedded):
    client, url, world, change, _ = embedded
    before = client.get(url)
    pending = change(world)
    if callable(pending):  # a change that needs its own setup first, read before it
        before = client.get(url)
        pending = pending()
    assert pending.status_code < 300, pending.content

    after = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    unchanged = client.get(url, HTTP_IF_NONE_MATCH=after["ETag"])

    assert after.status_code == 200
    assert after.json() != before.json()
    assert after.json() == client.get(url).json()
    assert after["ETag"] != before["ETag"]
    assert (unchanged.status_code, unchanged.content) == (304, b"")


def test_the_etag_a_get_gave_is_if_match_for_a_write_of_its_row_while_the_row_is_unchanged(embedded_and_written):
    client, url, world, change, write = embedded_and_written
    pending = change(world)
    tag = client.get(url)["ETag"]
    if callable(pending):
        pending = pending()
    assert pending.status_code < 300, pending.content

    response = client.patch(url, write, format="json", HTTP_IF_MATCH=tag)

    assert response.status_code == 200


# A test's results version: its own count, shown to those who may read its results.


def _tests_shown(client, course):
    """The test's results_version as the three places that show a test give it."""
    test = Test.objects.get(course=course)
    return (
        client.get(f"/api/tests/{test.pk}/").json()["results_version"],
        client.get(f"/api/courses/{course.pk}/tests/").json()["results"][0]["results_version"],
        client.get(f"/api/courses/{course.pk}/").json()["tests"][0]["results_version"],
    )


def test_a_student_sees_the_results_version_only_while_the_results_are_published(world):
    student, teacher, test = _client(world["student"]), _client(world["teacher"]), world["test_"]

    published = _tests_shown(student, world["course"])
    test.results_published = False
    test.save()
    hidden = _tests_shown(student, world["course"])
    by_teacher = _tests_shown(teacher, world["course"])

    assert published == (1, 1, 1)
    assert hidden == (None, None, None)
    assert by_teacher == (1, 1, 1)


def test_an_admin_sees_every_results_version_and_someone_outside_the_course_none(world, admin_user, stranger):
    test = world["test_"]
    test.results_published = False
    test.save()

    admin = _tests_shown(_client(admin_user), world["course"])
    outside = _client(stranger).get(f"/api/courses/{world['course'].pk}/").json()["tests"][0]["results_version"]

    assert admin == (1, 1, 1)
    assert outside is None


def test_the_results_version_counts_the_tests_own_changes_from_0(world, classmate, other_course, other_teacher):
    teacher = world["teacher"]
    fresh = services.test_create(course=world["course"], name="Quiz", date=date(2026, 12, 2))
    elsewhere = services.test_create(course=other_course, name="Elsewhere", date=date(2026, 12, 2))
    elsewhere_student = type(teacher).objects.create_user("elsewhere@example.com")
    Enrollment.objects.create(user=elsewhere_student, course=other_course, role=Role.STUDENT)

    def version():
        return _client(teacher).get(f"/api/tests/{fresh.pk}/").json()["results_version"]

    steps = [version()]
    services.result_record(test=elsewhere, student=elsewhere_student, score=Decimal(1), by=other_teacher)
    steps.append(version())  # grading in another course
    result = services.result_record(test=fresh, student=classmate, score=Decimal(1), by=teacher)
    steps.append(version())
    result = services.result_update(result=result, score=Decimal(2), by=teacher)
    steps.append(version())
    services.result_update(result=result, score=Decimal(2), by=teacher)  # the same score
    steps.append(version())
    services.results_upsert(test=fresh, items=[(classmate.pk, Decimal(3)), (world["student"].pk, None)], by=teacher)
    steps.append(version())
    services.result_delete(result=TestResult.objects.get(test=fresh, student=classmate), by=teacher)
    steps.append(version())

    assert steps == [0, 0, 1, 2, 2, 3, 4]


def test_deleting_a_student_moves_the_results_version_of_each_of_their_tests(world, classmate):
    teacher = world["teacher"]
    second = services.test_create(course=world["course"], name="Quiz", date=date(2026, 12, 2))
    services.result_record(test=second, student=classmate, score=Decimal(1), by=teacher)
    services.result_record(test=world["test_"], student=classmate, score=Decimal(1), by=teacher)
    client = _client(teacher)
    before = [client.get(f"/api/tests/{t.pk}/").json()["results_version"] for t in (world["test_"], second)]

    assert _client(classmate).delete(f"/api/users/{classmate.pk}/").status_code == 204

    after = [client.get(f"/api/tests/{t.pk}/").json()["results_version"] for t in (world["test_"], second)]
    assert after == [before[0] + 1, before[1] + 1]


def test_a_gradebook_import_moves_each_tests_results_version_once(world, classmate):
    teacher, course = world["teacher"], world["course"]
    second = services.test_create(course=course, name="Quiz", date=date(2026, 12, 2))
    client = _client(teacher)
    before = [client.get(f"/api/tests/{t.pk}/").json()["results_version"] for t in (world["test_"], second)]
    csv = (
        f"email,Midterm (#{world['test_'].pk}),Quiz (#{second.pk})\n"
        f"{world['student'].email},60,5\n"
        f"{classmate.email},61,6\n"
    ).encode()

    csv_io.gradebook_import(course=course, data=csv, by=teacher)

    after = [client.get(f"/api/tests/{t.pk}/").json()["results_version"] for t in (world["test_"], second)]
    assert after == [before[0] + 1, before[1] + 1]


@pytest.mark.django_db(transaction=True)
def test_graders_of_one_test_at_once_all_succeed_and_each_moves_its_results_version(teacher, course, test_):
    students = [type(teacher).objects.create_user(f"s{i}@example.com") for i in range(4)]
    Enrollment.objects.bulk_create([Enrollment(user=s, course=course, role=Role.STUDENT) for s in students])
    url = f"/api/tests/{test_.pk}/results/"

    def grade(student):
        return lambda: _client(teacher).post(url, {"student": student.pk, "score": 5}, format="json").status_code

    statuses = run_at_once(*(grade(s) for s in students))

    assert statuses == [201] * 4
    assert _client(teacher).get(f"/api/tests/{test_.pk}/").json()["results_version"] == 4
