"""Excused results: no score, counted nowhere, and written like any other grade (with history).

Through every door: one result (POST, PATCH, PUT), the bulk upsert, the CSV import and export,
the results list, statistics, the gradebook, a student's own view, and the database itself.
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from grading import services
from grading.models import GradeChange, TestResult
from tests.test_gradebook_csv import content, csv_url, post_csv, rows

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Fixed on 2026-12-05: the midterm (2026-12-01) is due."""
    with time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=UTC), tick=False):
        yield


def results_url(test):
    return f"/api/tests/{test.pk}/results/"


def result_url(result):
    return f"/api/test-results/{result.pk}/"


def excuse(test, student, teacher):
    return services.result_record(test=test, student=student, score=None, excused=True, by=teacher)


def grade(test, student, teacher, score):
    return services.result_record(test=test, student=student, score=Decimal(score), by=teacher)


# One result.


def test_excusing_a_student_records_no_score_and_a_history_line(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "excused": True}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["excused"], body["score"], body["percent"]) == (True, None, None)
    result = TestResult.objects.get()
    assert (result.excused, result.score) == (True, None)
    change = GradeChange.objects.get()
    assert (change.action, change.old_score, change.new_score, change.excused) == ("created", None, None, True)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 50, "excused": True}, "excused"),
        ({}, "score"),
        ({"excused": False}, "score"),
        ({"score": None}, "score"),
        ({"excused": "yes"}, "excused"),
    ],
)
def test_a_result_is_scored_or_excused_never_both_nor_neither(client_for, teacher, test_, student, body, field):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, **body}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not TestResult.objects.exists() and not GradeChange.objects.exists()


def test_patch_excuses_a_scored_result_and_a_score_unexcuses_it(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, "70")
    client = client_for(teacher)

    excused = client.patch(result_url(result), {"excused": True}, format="json")
    assert excused.status_code == 200
    assert (excused.json()["score"], excused.json()["excused"]) == (None, True)
    scored = client.patch(result_url(result), {"score": 80}, format="json")
    assert scored.status_code == 200
    assert (scored.json()["score"], scored.json()["excused"]) == (80, False)

    history = client.get(f"{result_url(result)}history/").json()["results"]
    assert [(h["action"], h["old_score"], h["new_score"], h["excused"]) for h in history] == [
        ("created", None, 70, False),
        ("updated", 70, None, True),
        ("updated", None, 80, False),
    ]


def test_excusing_an_excused_result_writes_nothing(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    response = client_for(teacher).patch(result_url(result), {"excused": True}, format="json")
    assert response.status_code == 200
    assert GradeChange.objects.count() == 1


def test_unexcusing_needs_a_score(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    client = client_for(teacher)
    assert client.patch(result_url(result), {"excused": False}, format="json").status_code == 400
    assert client.patch(result_url(result), {"score": None}, format="json").status_code == 400
    assert client.put(result_url(result), {}, format="json").status_code == 400
    result.refresh_from_db()
    assert (result.excused, result.score) == (True, None)
    assert GradeChange.objects.count() == 1


def test_excused_false_on_a_scored_result_changes_nothing(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, "55")
    response = client_for(teacher).patch(result_url(result), {"excused": False}, format="json")
    assert response.status_code == 200 and response.json()["score"] == 55
    assert GradeChange.objects.count() == 1


def test_put_takes_excused_instead_of_a_score(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, "55")
    response = client_for(teacher).put(result_url(result), {"excused": True}, format="json")
    assert response.status_code == 200 and response.json()["excused"] is True


# Many at once.


def test_bulk_upsert_excuses_and_counts_like_any_write(client_for, teacher, test_, student, classmate):
    client = client_for(teacher)
    items = [{"student": student.pk, "excused": True}, {"student": classmate.pk, "score": 40}]
    assert client.put(results_url(test_), items, format="json").json() == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }
    again = [{"student": student.pk, "excused": True}, {"student": classmate.pk, "excused": True}]
    assert client.put(results_url(test_), again, format="json").json() == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
    }
    assert set(TestResult.objects.values_list("excused", "score")) == {(True, None)}
    assert list(GradeChange.objects.order_by("id").values_list("action", "excused")) == [
        ("created", True),
        ("created", False),
        ("updated", True),
    ]


def test_a_bulk_item_with_both_is_refused_and_nothing_is_written(client_for, teacher, test_, student, classmate):
    items = [{"student": classmate.pk, "score": 40}, {"student": student.pk, "score": 50, "excused": True}]
    response = client_for(teacher).put(results_url(test_), items, format="json")
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, "excused")]
    assert not TestResult.objects.exists()


def test_the_results_list_filters_on_excused(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, "30")
    client = client_for(teacher)
    only_excused = client.get(results_url(test_), {"excused": "true"}).json()["results"]
    only_scored = client.get(results_url(test_), {"excused": "false"}).json()["results"]
    assert [(r["student"], r["score"], r["percent"], r["excused"]) for r in only_excused] == [
        (student.pk, None, None, True)
    ]
    assert [r["student"] for r in only_scored] == [classmate.pk]
    assert client.get(results_url(test_), {"excused": "maybe"}).status_code == 400


# Reports.


def test_statistics_leave_excused_results_out_and_count_them(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, "30")
    stats = client_for(teacher).get(f"/api/tests/{test_.pk}/stats/").json()
    assert (stats["count"], stats["excused"], stats["mean"], stats["median"]) == (1, 1, 30.0, 30.0)
    assert sum(bucket["count"] for bucket in stats["histogram"]) == 1


def test_the_gradebook_marks_excused_cells_and_grades_without_them(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, "30")
    body = client_for(teacher).get(f"/api/courses/{test_.course_id}/gradebook/").json()
    mine = next(row for row in body["students"] if row["id"] == student.pk)
    assert mine["scores"] == {str(test_.pk): None}
    assert (mine["excused"], mine["missing"], mine["average_percent"]) == ([test_.pk], [], None)
    # Nothing counts for them: no grade at all, not a zero.
    assert (mine["current_percent"], mine["final_percent"], mine["letter"]) == (None, None, None)
    assert body["tests"][0]["stats"]["excused"] == 1


def test_a_student_sees_their_excused_result(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    client = client_for(student)
    own = client.get(result_url(result)).json()
    listed = client.get(f"/api/users/{student.pk}/test-results/").json()["results"][0]
    assert (own["excused"], own["score"], own["percent"]) == (True, None, None)
    assert (listed["excused"], listed["score"], listed["percent"]) == (True, None, None)


# The CSV, both ways.


def test_the_csv_export_writes_ex_for_an_excused_cell(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, "30")
    table = rows(content(client_for(teacher).get(csv_url(test_.course_id))))
    header = table[0]
    assert header[-4:] == ["average_percent", "current_percent", "final_percent", "letter"]
    by_email = {row[0]: dict(zip(header, row, strict=True)) for row in table[1:]}
    assert by_email[student.email][f"Midterm (#{test_.pk})"] == "EX"
    assert by_email[classmate.email][f"Midterm (#{test_.pk})"] == "30"
    assert (by_email[classmate.email]["current_percent"], by_email[classmate.email]["letter"]) == ("30.00", "F")


def test_an_exported_gradebook_imports_back_unchanged(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, "30")
    client = client_for(teacher)
    exported = content(client.get(csv_url(test_.course_id))).encode()
    history = GradeChange.objects.count()
    response = post_csv(client, test_.course_id, exported)
    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 2}
    assert GradeChange.objects.count() == history


@pytest.mark.parametrize("cell", ["EX", "ex", "Ex", " eX "])
def test_ex_in_any_case_excuses_on_import(client_for, teacher, test_, student, cell):
    grade(test_, student, teacher, "30")
    body = f"email,Midterm (#{test_.pk}),letter\r\n{student.email},{cell},Z\r\n".encode()
    response = post_csv(client_for(teacher), test_.course_id, body)
    assert response.status_code == 200 and response.json()["updated"] == 1
    result = TestResult.objects.get()
    assert (result.excused, result.score) == (True, None)
    change = GradeChange.objects.latest("id")
    assert (change.via, change.old_score, change.new_score, change.excused) == ("import", Decimal("30"), None, True)


def test_a_score_on_import_unexcuses(client_for, teacher, test_, student):
    excuse(test_, student, teacher)
    body = f"email,Midterm (#{test_.pk})\r\n{student.email},42\r\n".encode()
    assert post_csv(client_for(teacher), test_.course_id, body).json()["updated"] == 1
    result = TestResult.objects.get()
    assert (result.excused, result.score) == (False, Decimal("42"))


# The database's own rule.


@pytest.mark.parametrize(("score", "excused"), [(Decimal("10"), True), (None, False)])
def test_the_database_refuses_a_score_with_excused_or_neither(test_, student, score, excused):
    with pytest.raises(IntegrityError), transaction.atomic():
        TestResult.objects.create(test=test_, student=student, score=score, excused=excused)
