"""Excused results: a student with no score that counts nowhere.

An excused result has ``score`` and ``percent`` null; it is in no statistic, no course grade and
never missing. It is written through every door a score is (one result, the bulk upsert, the CSV
import) and leaves the same history; the database itself refuses a result that is both scored and
excused, or neither.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, transaction

from courses.models import Enrollment, Role
from grading import services
from grading.models import GradeCategory, GradeChange, Test, TestResult
from tests import test_gradebook_csv as gradebook_csv
from tests.test_gradebook_csv import to_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """2026-12-05: the midterm (dated 2026-12-01) is due, so a student without a result misses it."""
    with time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=UTC), tick=False):
        yield


# Helpers ------------------------------------------------------------------------------------------


def results_url(test):
    return f"/api/tests/{test.pk}/results/"


def result_url(result):
    return f"/api/test-results/{result.pk}/"


def history_url(result):
    return f"/api/test-results/{result.pk}/history/"


def excuse(test, student, teacher):
    return services.result_record(test=test, student=student, score=None, excused=True, by=teacher)


def grade(test, student, teacher, score):
    return services.result_record(test=test, student=student, score=Decimal(score), by=teacher)


def state():
    """Every result and history line: what a refused request must leave as it was."""
    return (
        sorted(TestResult.objects.values_list("test_id", "student_id", "score", "excused")),
        sorted(GradeChange.objects.values_list("id", flat=True)),
    )


def history(client, result):
    response = client.get(history_url(result))
    assert response.status_code == 200
    return [(row["action"], row["old_score"], row["new_score"], row["excused"]) for row in response.json()["results"]]


# Grading one student: POST /api/tests/{id}/results/ ---------------------------------------------


def test_posting_excused_true_records_an_excused_result_without_a_score(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "excused": True}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["excused"] is True
    assert body["score"] is None
    assert body["percent"] is None
    assert body["student"] == student.pk
    assert body["grader"] == teacher.pk
    result = TestResult.objects.get()
    assert (result.pk, result.excused, result.score) == (body["id"], True, None)


def test_posting_a_score_records_a_result_that_is_not_excused(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 50}, format="json")

    assert response.status_code == 201
    assert response.json()["excused"] is False
    assert response.json()["score"] == 50
    assert response.json()["percent"] == 50.0


def test_posting_excused_false_with_a_score_records_the_score(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        results_url(test_), {"student": student.pk, "score": 42, "excused": False}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["score"], response.json()["excused"]) == (42, False)


def test_excusing_on_creation_writes_a_history_line_with_no_new_score(client_for, teacher, test_, student):
    client = client_for(teacher)
    body = client.post(results_url(test_), {"student": student.pk, "excused": True}, format="json").json()

    change = GradeChange.objects.get()
    assert (change.action, change.old_score, change.new_score, change.excused, change.via) == (
        "created",
        None,
        None,
        True,
        "api",
    )
    assert change.changed_by == teacher
    assert history(client, TestResult.objects.get(pk=body["id"])) == [("created", None, None, True)]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 50, "excused": True}, "excused"),
        ({"score": 0, "excused": True}, "excused"),
        ({}, "score"),
        ({"excused": False}, "score"),
        ({"score": None}, "score"),
        ({"score": None, "excused": False}, "score"),
    ],
    ids=["score-and-excused", "zero-and-excused", "neither", "excused-false-only", "null-score", "null-and-false"],
)
def test_a_new_result_needs_a_score_or_excused_but_not_both(client_for, teacher, test_, student, body, field):
    before = state()

    response = client_for(teacher).post(results_url(test_), {"student": student.pk, **body}, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert state() == before


@pytest.mark.parametrize("value", ["true", 1, "yes", None, [True]])
def test_excused_must_be_a_json_boolean(client_for, teacher, test_, student, value):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "excused": value}, format="json")

    assert response.status_code == 400
    assert not TestResult.objects.exists()
    assert not GradeChange.objects.exists()


def test_excusing_a_student_who_already_has_a_result_is_a_conflict(client_for, teacher, test_, student):
    grade(test_, student, teacher, 80)
    before = state()

    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "excused": True}, format="json")

    assert response.status_code == 409
    assert state() == before


def test_only_a_student_of_the_course_can_be_excused(client_for, teacher, test_, stranger):
    response = client_for(teacher).post(results_url(test_), {"student": stranger.pk, "excused": True}, format="json")

    assert response.status_code == 400
    assert "student" in response.json()
    assert not TestResult.objects.exists()


def test_a_student_cannot_excuse_themself(client_for, student, test_):
    response = client_for(student).post(results_url(test_), {"student": student.pk, "excused": True}, format="json")

    assert response.status_code == 403
    assert not TestResult.objects.exists()


# Changing one result: PATCH and PUT /api/test-results/{id}/ -----------------------------------


def test_patch_excused_true_excuses_a_scored_result_and_clears_its_score(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 80)
    client = client_for(teacher)

    response = client.patch(result_url(result), {"excused": True}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["excused"], body["score"], body["percent"]) == (True, None, None)
    result.refresh_from_db()
    assert (result.excused, result.score) == (True, None)
    assert history(client, result) == [("created", None, 80, False), ("updated", 80, None, True)]


def test_patch_a_score_on_an_excused_result_unexcuses_it(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    client = client_for(teacher)

    response = client.patch(result_url(result), {"score": 70}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["excused"], body["score"], body["percent"]) == (False, 70, 70.0)
    result.refresh_from_db()
    assert (result.excused, result.score) == (False, Decimal("70"))
    assert history(client, result) == [("created", None, None, True), ("updated", None, 70, False)]


def test_patch_a_score_with_excused_false_unexcuses_it(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)

    response = client_for(teacher).patch(result_url(result), {"score": 65.5, "excused": False}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"]) == (False, 65.5)


def test_excusing_an_excused_result_again_writes_no_history(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    before = state()

    response = client_for(teacher).patch(result_url(result), {"excused": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"]) == (True, None)
    assert state() == before


def test_patch_excused_false_alone_cannot_unexcuse_without_a_score(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)
    before = state()

    response = client_for(teacher).patch(result_url(result), {"excused": False}, format="json")

    assert response.status_code == 400
    assert "score" in response.json()
    assert state() == before


def test_patch_excused_false_on_a_scored_result_changes_nothing(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 80)
    before = state()

    response = client_for(teacher).patch(result_url(result), {"excused": False}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"]) == (False, 80)
    assert state() == before


@pytest.mark.parametrize("make", ["scored", "excused"])
def test_patch_a_null_score_is_refused(client_for, teacher, test_, student, make):
    result = grade(test_, student, teacher, 80) if make == "scored" else excuse(test_, student, teacher)
    before = state()

    response = client_for(teacher).patch(result_url(result), {"score": None}, format="json")

    assert response.status_code == 400
    assert "score" in response.json()
    assert state() == before


def test_patch_a_score_and_excused_true_together_is_refused(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 80)
    before = state()

    response = client_for(teacher).patch(result_url(result), {"score": 90, "excused": True}, format="json")

    assert response.status_code == 400
    assert "excused" in response.json()
    assert state() == before


def test_put_with_excused_true_excuses(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 80)

    response = client_for(teacher).put(result_url(result), {"excused": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"], response.json()["percent"]) == (True, None, None)
    assert TestResult.objects.get().excused is True


def test_put_with_a_score_unexcuses(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)

    response = client_for(teacher).put(result_url(result), {"score": 55}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"]) == (False, 55)


@pytest.mark.parametrize("body", [{}, {"excused": False}, {"score": None}], ids=["empty", "excused-false", "null"])
@pytest.mark.parametrize("make", ["scored", "excused"])
def test_put_needs_a_score_or_excused_true(client_for, teacher, test_, student, body, make):
    result = grade(test_, student, teacher, 80) if make == "scored" else excuse(test_, student, teacher)
    before = state()

    response = client_for(teacher).put(result_url(result), body, format="json")

    assert response.status_code == 400
    assert "score" in response.json()
    assert state() == before


def test_history_reads_excuse_and_unexcuse_in_order(client_for, teacher, test_, student):
    client = client_for(teacher)
    result = grade(test_, student, teacher, 80)
    client.patch(result_url(result), {"excused": True}, format="json")
    client.patch(result_url(result), {"score": 90}, format="json")
    client.patch(result_url(result), {"excused": True}, format="json")

    assert history(client, result) == [
        ("created", None, 80, False),
        ("updated", 80, None, True),
        ("updated", None, 90, False),
        ("updated", 90, None, True),
    ]


def test_deleting_an_excused_result_keeps_its_history(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)

    response = client_for(teacher).delete(result_url(result))

    assert response.status_code == 204
    assert not TestResult.objects.exists()
    lines = list(GradeChange.objects.order_by("id").values_list("action", "old_score", "new_score"))
    assert lines == [("created", None, None), ("deleted", None, None)]


def test_a_student_cannot_excuse_their_own_result(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 40)
    before = state()

    response = client_for(student).patch(result_url(result), {"excused": True}, format="json")

    assert response.status_code == 403
    assert state() == before


# The bulk upsert: PUT /api/tests/{id}/results/ ---------------------------------------------------


@pytest.fixture
def pupils(make_user, course, student, classmate):
    """Four students of the course: ``student``, ``classmate`` and two more."""
    more = [make_user(f"pupil{i}@example.com") for i in range(2)]
    for user in more:
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return [student, classmate, *more]


def put(client, test, body):
    return client.put(results_url(test), body, format="json")


def cells(test):
    """student id → (score, excused) of the test's results."""
    return {
        s: (score, ex)
        for s, score, ex in TestResult.objects.filter(test=test).values_list("student_id", "score", "excused")
    }


def test_bulk_excuses_creates_updates_and_counts(client_for, teacher, test_, pupils):
    a, b, c, d = pupils
    grade(test_, a, teacher, 80)  # excused now: updated
    excuse(test_, b, teacher)  # excused again: unchanged
    excuse(test_, c, teacher)  # scored now: updated
    GradeChange.objects.all().delete()

    response = put(
        client_for(teacher),
        test_,
        [
            {"student": a.pk, "excused": True},
            {"student": b.pk, "excused": True},
            {"student": c.pk, "score": 75},
            {"student": d.pk, "excused": True},  # new and excused: created
        ],
    )

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 2, "unchanged": 1}
    assert cells(test_) == {
        a.pk: (None, True),
        b.pk: (None, True),
        c.pk: (Decimal("75"), False),
        d.pk: (None, True),
    }
    lines = set(GradeChange.objects.values_list("student_id", "action", "old_score", "new_score", "excused", "via"))
    assert lines == {
        (a.pk, "updated", Decimal("80"), None, True, "api"),
        (c.pk, "updated", None, Decimal("75"), False, "api"),
        (d.pk, "created", None, None, True, "api"),
    }


def test_bulk_excused_with_a_null_score_excuses(client_for, teacher, test_, student):
    response = put(client_for(teacher), test_, [{"student": student.pk, "score": None, "excused": True}])

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert cells(test_) == {student.pk: (None, True)}


def test_bulk_excused_false_with_a_score_records_the_score(client_for, teacher, test_, student):
    response = put(client_for(teacher), test_, [{"student": student.pk, "score": 30, "excused": False}])

    assert response.status_code == 200
    assert cells(test_) == {student.pk: (Decimal("30"), False)}


def test_bulk_item_with_a_score_and_excused_is_refused_by_index_and_nothing_is_written(
    client_for, teacher, test_, pupils
):
    a, b, c, _ = pupils
    grade(test_, a, teacher, 10)
    before = state()

    response = put(
        client_for(teacher),
        test_,
        [
            {"student": a.pk, "excused": True},
            {"student": b.pk, "score": 20},
            {"student": c.pk, "score": 50, "excused": True},
        ],
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert [(e["index"], e["field"]) for e in errors] == [(2, "excused")]
    assert errors[0]["message"]
    assert state() == before


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"excused": False}, "score"),
        ({}, "score"),
        ({"excused": "true"}, "excused"),
        ({"excused": 1}, "excused"),
        ({"excused": None}, "excused"),
    ],
    ids=["excused-false-alone", "neither", "string", "number", "null"],
)
def test_bulk_item_without_a_score_or_a_boolean_excused_is_refused(client_for, teacher, test_, pupils, item, field):
    a, b, *_ = pupils
    before = state()

    response = put(client_for(teacher), test_, [{"student": a.pk, "excused": True}, {"student": b.pk, **item}])

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, field)]
    assert state() == before


def test_bulk_excusing_a_student_of_another_course_is_refused(client_for, teacher, test_, student, stranger):
    response = put(
        client_for(teacher),
        test_,
        [{"student": student.pk, "excused": True}, {"student": stranger.pk, "excused": True}],
    )

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, "student")]
    assert not TestResult.objects.exists()
    assert not GradeChange.objects.exists()


def test_bulk_excusing_one_student_twice_is_refused(client_for, teacher, test_, student):
    response = put(
        client_for(teacher), test_, [{"student": student.pk, "excused": True}, {"student": student.pk, "score": 5}]
    )

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(1, "student")]
    assert not TestResult.objects.exists()


def test_bulk_excusing_everyone_again_changes_nothing(client_for, teacher, test_, pupils):
    body = [{"student": p.pk, "excused": True} for p in pupils]
    client = client_for(teacher)
    assert put(client, test_, body).json() == {"created": 4, "updated": 0, "unchanged": 0}
    before = state()

    response = put(client, test_, body)

    assert response.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert state() == before


# The results list: GET /api/tests/{id}/results/?excused= ----------------------------------------


def test_the_results_list_shows_excused_results_with_null_score_and_percent(client_for, teacher, test_, pupils):
    a, b, *_ = pupils
    grade(test_, a, teacher, 80)
    excuse(test_, b, teacher)

    rows = client_for(teacher).get(results_url(test_)).json()["results"]

    assert [(r["student"], r["score"], r["percent"], r["excused"]) for r in rows] == [
        (a.pk, 80, 80.0, False),
        (b.pk, None, None, True),
    ]


@pytest.mark.parametrize(("value", "expected"), [("true", "excused"), ("false", "scored")])
def test_the_results_list_filters_on_excused(client_for, teacher, test_, pupils, value, expected):
    a, b, c, d = pupils
    grade(test_, a, teacher, 80)
    excuse(test_, b, teacher)
    grade(test_, c, teacher, 0)
    excuse(test_, d, teacher)
    wanted = {"excused": [b.pk, d.pk], "scored": [a.pk, c.pk]}[expected]

    response = client_for(teacher).get(results_url(test_), {"excused": value})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [r["student"] for r in body["results"]] == wanted
    assert {r["excused"] for r in body["results"]} == {expected == "excused"}


def test_the_results_list_orders_excused_results_by_score_without_failing(client_for, teacher, test_, pupils):
    a, b, c, _ = pupils
    grade(test_, a, teacher, 80)
    excuse(test_, b, teacher)
    grade(test_, c, teacher, 20)

    for ordering in ("score", "-score", "percent", "-percent"):
        response = client_for(teacher).get(results_url(test_), {"ordering": ordering})
        assert response.status_code == 200
        rows = response.json()["results"]
        assert sorted(r["student"] for r in rows) == sorted([a.pk, b.pk, c.pk])
        assert [r["score"] for r in rows if r["student"] == b.pk] == [None]


# Statistics: GET /api/tests/{id}/stats/ -----------------------------------------------------------


def stats(client, test):
    response = client.get(f"/api/tests/{test.pk}/stats/")
    assert response.status_code == 200
    return response.json()


def test_statistics_count_excused_results_apart_and_leave_them_out(client_for, teacher, test_, pupils):
    a, b, c, d = pupils
    grade(test_, a, teacher, 80)
    excuse(test_, b, teacher)
    grade(test_, c, teacher, 60)
    excuse(test_, d, teacher)

    body = stats(client_for(teacher), test_)

    assert body["count"] == 2
    assert body["excused"] == 2
    assert (body["mean"], body["median"], body["min"], body["max"], body["stddev"]) == (70.0, 70.0, 60.0, 80.0, 10.0)
    assert [bucket["count"] for bucket in body["histogram"]] == [0, 0, 0, 0, 0, 0, 1, 0, 1, 0]


def test_statistics_of_a_test_where_everyone_is_excused_are_empty(client_for, teacher, test_, pupils):
    for pupil in pupils:
        excuse(test_, pupil, teacher)

    body = stats(client_for(teacher), test_)

    assert body["count"] == 0
    assert body["excused"] == 4
    assert [body[k] for k in ("mean", "median", "min", "max", "stddev")] == [None] * 5
    assert sum(bucket["count"] for bucket in body["histogram"]) == 0


def test_excusing_a_result_changes_the_statistics(client_for, teacher, test_, pupils):
    a, b, *_ = pupils
    client = client_for(teacher)
    grade(test_, a, teacher, 90)
    low = grade(test_, b, teacher, 10)
    assert stats(client, test_)["mean"] == 50.0

    client.patch(result_url(low), {"excused": True}, format="json")

    body = stats(client, test_)
    assert (body["count"], body["excused"], body["mean"], body["median"], body["stddev"]) == (1, 1, 90.0, 90.0, 0.0)


def test_statistics_without_excused_results_report_zero_excused(client_for, teacher, test_, student):
    grade(test_, student, teacher, 50)

    assert stats(client_for(teacher), test_)["excused"] == 0


# The gradebook: GET /api/courses/{id}/gradebook/ -------------------------------------------------


@pytest.fixture
def quiz(course):
    """A second test, due too: 2026-11-20, out of 50."""
    return Test.objects.create(course=course, name="Quiz", date=date(2026, 11, 20), max_score=Decimal("50"))


def gradebook(client, course):
    response = client.get(f"/api/courses/{course.pk}/gradebook/")
    assert response.status_code == 200
    return response.json()


def row_of(body, user):
    return next(row for row in body["students"] if row["id"] == user.pk)


def test_the_gradebook_shows_an_excused_cell_as_null_and_lists_it_as_excused(
    client_for, teacher, course, test_, quiz, student
):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 40)  # 80 %

    row = row_of(gradebook(client_for(teacher), course), student)

    assert row["scores"] == {str(quiz.pk): 40, str(test_.pk): None}
    assert row["excused"] == [test_.pk]
    assert row["missing"] == []
    assert row["average_percent"] == 80.0
    assert (row["current_percent"], row["final_percent"], row["letter"]) == (80.0, 80.0, "B")


def test_the_gradebook_tells_an_excused_test_from_a_missing_one(
    client_for, teacher, course, test_, quiz, student, classmate
):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 40)
    grade(quiz, classmate, teacher, 40)  # nothing on the midterm: missing it

    body = gradebook(client_for(teacher), course)
    mine, theirs = row_of(body, student), row_of(body, classmate)

    assert mine["scores"] == theirs["scores"] == {str(quiz.pk): 40, str(test_.pk): None}
    assert (mine["excused"], mine["missing"]) == ([test_.pk], [])
    assert (theirs["excused"], theirs["missing"]) == ([], [test_.pk])
    assert (mine["current_percent"], mine["final_percent"]) == (80.0, 80.0)
    # 40 of 150 points once the missing midterm counts 0.
    assert (theirs["current_percent"], theirs["final_percent"]) == (80.0, 26.67)


def test_the_gradebook_of_a_student_excused_everywhere_has_no_grade(client_for, teacher, course, test_, quiz, student):
    excuse(test_, student, teacher)
    excuse(quiz, student, teacher)

    row = row_of(gradebook(client_for(teacher), course), student)

    assert row["scores"] == {str(quiz.pk): None, str(test_.pk): None}
    assert row["excused"] == [quiz.pk, test_.pk]  # in the order of the tests: the quiz comes first
    assert row["missing"] == []
    assert row["average_percent"] is None
    assert (row["current_percent"], row["final_percent"], row["letter"]) == (None, None, None)


def test_the_gradebook_test_statistics_count_excused_apart(client_for, teacher, course, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, 70)

    header = gradebook(client_for(teacher), course)["tests"][0]

    assert header["stats"] == {
        "count": 1,
        "excused": 1,
        "mean": 70.0,
        "median": 70.0,
        "min": 70.0,
        "max": 70.0,
        "stddev": 0.0,
    }


def test_an_excused_test_drops_out_of_a_weighted_category_grade(client_for, teacher, course, test_, quiz, student):
    course.weighting = "categories"
    course.save()
    homework = GradeCategory.objects.create(course=course, name="Homework", weight=Decimal("50"), position=1)
    GradeCategory.objects.filter(course=course, position=0).update(weight=Decimal("50"))
    quiz.category = homework
    quiz.save()
    grade(test_, student, teacher, 90)
    excuse(quiz, student, teacher)  # the homework category has nothing that counts

    row = row_of(gradebook(client_for(teacher), course), student)
    grades = client_for(teacher).get(f"/api/courses/{course.pk}/grades/").json()["results"]
    mine = next(g for g in grades if g["student"]["id"] == student.pk)

    assert (row["current_percent"], row["final_percent"], row["letter"]) == (90.0, 90.0, "A")
    assert mine["missing"] == []
    by_category = {c["name"]: (c["current_percent"], c["final_percent"]) for c in mine["categories"]}
    assert by_category == {"Tests": (90, 90), "Homework": (None, None)}


def test_a_drop_rule_drops_the_lowest_score_not_the_excused_result(client_for, teacher, course, test_, quiz, student):
    GradeCategory.objects.filter(course=course).update(drop_lowest=1)
    late = Test.objects.create(course=course, name="Late", date=date(2026, 12, 3), max_score=Decimal("10"))
    grade(test_, student, teacher, 60)  # 60 %: the lowest score, dropped
    excuse(quiz, student, teacher)  # not a 0: never the one dropped
    grade(late, student, teacher, 9)  # 90 %

    grades = client_for(teacher).get(f"/api/courses/{course.pk}/grades/").json()["results"]
    mine = next(g for g in grades if g["student"]["id"] == student.pk)

    assert mine["categories"][0]["dropped"] == [test_.pk]
    assert mine["current_percent"] == 90
    assert mine["missing"] == []


# A student's own view ------------------------------------------------------------------------------


def test_a_student_reads_their_own_excused_result(client_for, teacher, test_, student):
    result = excuse(test_, student, teacher)

    response = client_for(student).get(result_url(result))

    assert response.status_code == 200
    body = response.json()
    assert (body["excused"], body["score"], body["percent"]) == (True, None, None)


def test_a_student_lists_their_excused_result_among_their_results(client_for, teacher, test_, quiz, student):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 25)

    response = client_for(student).get(f"/api/users/{student.pk}/test-results/")

    assert response.status_code == 200
    rows = {r["test"]: (r["score"], r["percent"], r["excused"]) for r in response.json()["results"]}
    assert rows == {test_.pk: (None, None, True), quiz.pk: (25, 50.0, False)}


def test_a_student_excused_on_a_due_test_is_not_missing_it_in_their_own_grade(
    client_for, teacher, course, test_, quiz, student
):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 45)  # 90 %

    response = client_for(student).get(f"/api/courses/{course.pk}/grades/")

    assert response.status_code == 200
    (mine,) = response.json()["results"]
    assert mine["missing"] == []
    assert (mine["current_percent"], mine["final_percent"], mine["letter"]) == (90, 90, "A")


# The gradebook CSV: export and import -------------------------------------------------------------


def export(client, course) -> list[list[str]]:
    response = client.get(gradebook_csv.csv_url(course.pk))
    assert response.status_code == 200
    return gradebook_csv.rows(gradebook_csv.content(response))


def post_csv(client, course, body: bytes, dry_run=False):
    return gradebook_csv.post_csv(client, course.pk, body, dry_run=dry_run)


def test_the_csv_export_writes_ex_for_an_excused_cell_and_grades_without_it(
    client_for, teacher, course, test_, quiz, student, classmate
):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 40)
    grade(test_, classmate, teacher, 70)

    table = export(client_for(teacher), course)

    assert table[0] == [
        "email",
        "first_name",
        "last_name",
        f"Quiz (#{quiz.pk})",
        f"Midterm (#{test_.pk})",
        "average_percent",
        "current_percent",
        "final_percent",
        "letter",
    ]
    by_email = {row[0]: row[3:] for row in table[1:]}
    assert by_email["student@example.com"] == ["40", "EX", "80.0", "80.00", "80.00", "B"]
    # The classmate has no quiz result (an empty cell, not EX) and misses it in the final grade.
    assert by_email["classmate@example.com"] == ["", "70", "70.0", "70.00", "46.67", "C"]


def test_the_csv_export_of_a_student_excused_everywhere_has_empty_grades(client_for, teacher, course, test_, student):
    excuse(test_, student, teacher)

    (row,) = [r for r in export(client_for(teacher), course)[1:] if r[0] == "student@example.com"]

    assert row[3:] == ["EX", "", "", "", ""]


def test_an_exported_gradebook_with_excused_cells_imports_back_unchanged(
    client_for, teacher, course, test_, quiz, student, classmate
):
    excuse(test_, student, teacher)
    grade(quiz, student, teacher, 40)
    grade(test_, classmate, teacher, 70)
    excuse(quiz, classmate, teacher)
    client = client_for(teacher)
    exported = export(client, course)
    before = state()

    response = post_csv(client, course, to_csv(exported))

    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 4}
    assert state() == before
    assert export(client, course) == exported


@pytest.mark.parametrize("cell", ["EX", "ex", "Ex", "eX", " EX "])
def test_ex_in_any_case_excuses_a_new_result_on_import(client_for, teacher, course, test_, student, cell):
    body = to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", cell]])

    response = post_csv(client_for(teacher), course, body)

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    result = TestResult.objects.get()
    assert (result.student_id, result.score, result.excused) == (student.pk, None, True)
    line = GradeChange.objects.get()
    assert (line.action, line.old_score, line.new_score, line.excused, line.via) == (
        "created",
        None,
        None,
        True,
        "import",
    )


def test_ex_on_import_excuses_a_scored_result(client_for, teacher, course, test_, student):
    result = grade(test_, student, teacher, 80)
    client = client_for(teacher)

    response = post_csv(client, course, to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", "ex"]]))

    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    result.refresh_from_db()
    assert (result.score, result.excused) == (None, True)
    line = GradeChange.objects.order_by("id").last()
    assert (line.action, line.old_score, line.new_score, line.excused, line.via) == (
        "updated",
        Decimal("80"),
        None,
        True,
        "import",
    )
    assert history(client, result)[-1] == ("updated", 80, None, True)


def test_a_score_on_import_unexcuses(client_for, teacher, course, test_, student):
    result = excuse(test_, student, teacher)

    response = post_csv(
        client_for(teacher), course, to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", "72.5"]])
    )

    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    result.refresh_from_db()
    assert (result.score, result.excused) == (Decimal("72.5"), False)
    line = GradeChange.objects.order_by("id").last()
    assert (line.action, line.old_score, line.new_score, line.excused, line.via) == (
        "updated",
        None,
        Decimal("72.5"),
        False,
        "import",
    )


def test_an_empty_cell_on_import_leaves_an_excused_result_excused(client_for, teacher, course, test_, student):
    excuse(test_, student, teacher)
    before = state()

    response = post_csv(
        client_for(teacher), course, to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", ""]])
    )

    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 0}
    assert state() == before


def test_the_import_ignores_the_grade_columns_whatever_they_hold(client_for, teacher, course, test_, student):
    body = to_csv(
        [
            ["email", f"Midterm (#{test_.pk})", "average_percent", "current_percent", "final_percent", "letter"],
            ["student@example.com", "EX", "not a number", "-5", "1000", "Z"],
        ]
    )

    response = post_csv(client_for(teacher), course, body)

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert TestResult.objects.get().excused is True


def test_a_dry_run_import_of_ex_counts_and_writes_nothing(client_for, teacher, course, test_, student):
    grade(test_, student, teacher, 80)
    before = state()

    response = post_csv(
        client_for(teacher),
        course,
        to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", "EX"]]),
        dry_run=True,
    )

    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert state() == before


def test_an_import_with_ex_and_a_bad_cell_writes_nothing(client_for, teacher, course, test_, quiz, student, classmate):
    grade(test_, student, teacher, 80)
    before = state()
    body = to_csv(
        [
            ["email", f"Quiz (#{quiz.pk})", f"Midterm (#{test_.pk})"],
            ["student@example.com", "EX", "EX"],
            ["classmate@example.com", "EXCUSED", "51"],
        ]
    )

    response = post_csv(client_for(teacher), course, body)

    assert response.status_code == 400
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(3, f"Quiz (#{quiz.pk})")]
    assert state() == before


# The database itself ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "excused"),
    [(Decimal("50"), True), (Decimal("0"), True), (None, False)],
    ids=["score-and-excused", "zero-and-excused", "neither"],
)
def test_the_database_refuses_a_result_scored_and_excused_or_neither(test_, student, score, excused):
    with pytest.raises(IntegrityError, match="result_score_or_excused"), transaction.atomic():
        TestResult.objects.create(test=test_, student=student, score=score, excused=excused)

    assert not TestResult.objects.exists()


@pytest.mark.parametrize(("score", "excused"), [(Decimal("50"), False), (None, True)], ids=["scored", "excused"])
def test_the_database_takes_a_result_scored_or_excused(test_, student, score, excused):
    result = TestResult.objects.create(test=test_, student=student, score=score, excused=excused)

    result.refresh_from_db()
    assert (result.score, result.excused, result.percent) == (score, excused, None if excused else 50.0)


def test_the_database_refuses_an_update_that_scores_an_excused_result_without_unexcusing(test_, student, teacher):
    result = excuse(test_, student, teacher)

    with pytest.raises(IntegrityError, match="result_score_or_excused"), transaction.atomic():
        TestResult.objects.filter(pk=result.pk).update(score=Decimal("10"))

    result.refresh_from_db()
    assert (result.score, result.excused) == (None, True)


# Odds and ends ------------------------------------------------------------------------------------


def test_posting_excused_true_with_a_null_score_excuses(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        results_url(test_), {"student": student.pk, "score": None, "excused": True}, format="json"
    )

    assert response.status_code == 201
    assert (response.json()["excused"], response.json()["score"]) == (True, None)


def test_patch_excused_true_with_a_null_score_excuses(client_for, teacher, test_, student):
    result = grade(test_, student, teacher, 30)

    response = client_for(teacher).patch(result_url(result), {"score": None, "excused": True}, format="json")

    assert response.status_code == 200
    assert (response.json()["excused"], response.json()["score"]) == (True, None)


def test_bulk_item_with_a_null_score_and_no_excused_is_refused(client_for, teacher, test_, student):
    response = put(client_for(teacher), test_, [{"student": student.pk, "score": None}])

    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "score")]
    assert not TestResult.objects.exists()


def test_the_results_list_refuses_a_filter_value_that_is_not_a_boolean(client_for, teacher, test_, student):
    excuse(test_, student, teacher)

    response = client_for(teacher).get(results_url(test_), {"excused": "maybe"})

    assert response.status_code == 400
    assert "excused" in response.json()


def test_excused_results_do_not_hold_max_score_up(client_for, teacher, test_, student, classmate):
    excuse(test_, student, teacher)
    grade(test_, classmate, teacher, 8)

    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"max_score": 8}, format="json")

    assert response.status_code == 200
    test_.refresh_from_db()
    assert test_.max_score == Decimal("8")


def test_an_admin_changing_only_the_grader_keeps_the_result_excused(
    client_for, admin_user, make_user, teacher, course, test_, student
):
    assistant = make_user("assistant@example.com")
    Enrollment.objects.create(user=assistant, course=course, role=Role.TEACHER)
    result = excuse(test_, student, teacher)
    lines = GradeChange.objects.count()

    response = client_for(admin_user).patch(result_url(result), {"grader": assistant.pk}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["grader"], body["excused"], body["score"]) == (assistant.pk, True, None)
    assert GradeChange.objects.count() == lines
