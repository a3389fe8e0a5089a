"""``model_update``: a change is written as the columns that changed, and nothing changed is nothing written."""

import re

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses import services as course_services
from courses.models import Course
from grading import services
from grading.models import GradeCategory, Test
from gradingsite.errors import Conflict
from gradingsite.services import model_update
from tests.conftest import first_category

pytestmark = pytest.mark.django_db


def _updated_columns(queries) -> list[set[str]]:
    """The columns each ``UPDATE`` among ``queries`` sets."""
    columns = []
    for query in queries:
        sql = query["sql"]
        if sql.startswith("UPDATE"):
            assignments = sql.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
            columns.append(set(re.findall(r'"(\w+)" = ', assignments)))
    return columns


def test_only_the_fields_that_differ_are_written_with_updated_at_and_the_version(course):
    version, details = course.version, course.details

    with CaptureQueriesContext(connection) as queries:
        returned, has_updated = model_update(
            instance=course, fields=["name", "details"], data={"name": "Renamed", "details": details}
        )

    assert (returned, has_updated) == (course, True)
    assert _updated_columns(queries) == [{"name", "updated_at", "version"}]
    course.refresh_from_db()
    assert (course.name, course.details, course.version) == ("Renamed", details, version + 1)


def test_nothing_that_differs_is_reported_as_unchanged_and_runs_no_query(course):
    course.refresh_from_db()
    version, updated_at = course.version, course.updated_at

    with CaptureQueriesContext(connection) as queries:
        _, has_updated = model_update(
            instance=course, fields=["name", "details"], data={"name": course.name, "details": course.details}
        )

    assert has_updated is False
    assert len(queries) == 0
    course.refresh_from_db()
    assert (course.version, course.updated_at) == (version, updated_at)


def test_fields_missing_from_data_and_keys_outside_fields_are_left_alone(course):
    name = course.name

    _, has_updated = model_update(instance=course, fields=["name", "time_zone"], data={"details": "Not this."})

    assert has_updated is False
    course.refresh_from_db()
    assert course.name == name and course.details != "Not this."


def test_a_foreign_key_is_compared_by_id_without_loading_the_related_row(course, test_):
    other = GradeCategory.objects.create(course=course, name="Exams", position=1)
    test = Test.objects.get(pk=test_.pk)  # its category not loaded

    with CaptureQueriesContext(connection) as same:
        _, unchanged = model_update(instance=test, fields=["category"], data={"category": first_category(course).pk})
    with CaptureQueriesContext(connection) as moved:
        _, changed = model_update(instance=test, fields=["category"], data={"category": other})

    assert (unchanged, len(same)) == (False, 1)  # the one query is ``first_category``'s
    assert changed is True
    assert _updated_columns(moved) == [{"category_id", "updated_at", "version"}]
    assert Test.objects.get(pk=test_.pk).category_id == other.pk


def test_a_change_of_only_unversioned_fields_keeps_the_version(student):
    student.refresh_from_db()
    version = student.version

    _, has_updated = model_update(instance=student, fields=["last_login"], data={"last_login": timezone.now()})

    assert has_updated is True
    student.refresh_from_db()
    assert student.version == version and student.last_login is not None


def test_a_row_deleted_meanwhile_is_a_conflict_not_a_new_row(course):
    Course.objects.filter(pk=course.pk).delete()

    with pytest.raises(Conflict, match="course was deleted meanwhile"), transaction.atomic():
        model_update(instance=course, fields=["name"], data={"name": "Renamed"})
    assert not Course.objects.filter(pk=course.pk).exists()


def test_the_services_write_nothing_for_settings_sent_unchanged(course, test_):
    course.refresh_from_db()
    test = Test.objects.get(pk=test_.pk)
    category = first_category(course)
    before = (course.version, test.version, category.version)

    with CaptureQueriesContext(connection) as queries:
        course_services.course_update(course=course, name=course.name, time_zone=course.time_zone)
        services.category_update(category=category, weight=category.weight)
    services.test_update(test=test, name=test.name, max_score=test.max_score)

    assert _updated_columns(queries) == []
    course.refresh_from_db()
    test.refresh_from_db()
    category.refresh_from_db()
    assert (course.version, test.version, category.version) == before


def test_a_patch_that_changes_nothing_keeps_the_etag(client_for, teacher, course):
    client = client_for(teacher)
    url = f"/api/courses/{course.pk}/"
    read = client.get(url)

    same = client.patch(url, {"name": read.json()["name"]}, format="json", HTTP_IF_MATCH=read["ETag"])
    renamed = client.patch(url, {"name": "Renamed"}, format="json", HTTP_IF_MATCH=read["ETag"])

    assert (same.status_code, same["ETag"], same.json()["version"]) == (200, read["ETag"], read.json()["version"])
    assert (renamed.status_code, renamed.json()["version"]) == (200, read.json()["version"] + 1)
