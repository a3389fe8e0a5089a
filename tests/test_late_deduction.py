"""Late work takes the course's deduction: the rule at its boundaries, every write path, every recompute."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from courses.models import Course
from grading import services
from grading.lateness import late_score, late_score_sql
from grading.models import Extension, GradeChange, Submission, Test, TestResult

pytestmark = pytest.mark.django_db

DAILY = {"deduction_percent": 10, "interval": "day", "minimum_percent": 50}
DAY, HOUR = 86400, 3600


def kept(entered, seconds, policy=DAILY, max_score="100"):
    return late_score(entered=Decimal(entered), max_score=Decimal(max_score), seconds_late=seconds, policy=policy)


@pytest.mark.parametrize(
    ("entered", "seconds", "expected"),
    [
        ("90", 0, "90"),  # on time
        ("90", 1, "80"),  # 1 s late: one interval started
        ("90", DAY, "80"),  # exactly one interval
        ("90", DAY + 1, "70"),  # one second into the second
        ("90", 3 * DAY, "60"),  # exactly three
        ("90", 5 * DAY, "50"),  # 90 - 50 = 40, held at the floor
        ("90", 40 * DAY, "50"),  # the deduction never passes 100 %, the floor holds
        ("50", DAY, "50"),  # at the floor: kept as entered
        ("45", DAY, "45"),  # below the floor: kept as entered
        ("55.55", DAY, "50"),  # 45.55 is below the floor 50
        ("75.25", 2 * DAY, "55.25"),
    ],
)
def test_the_rule_on_hand_built_examples(entered, seconds, expected):
    assert kept(entered, seconds) == Decimal(expected)


def test_hourly_intervals_and_a_deduction_of_everything():
    hourly = {"deduction_percent": 40, "interval": "hour", "minimum_percent": 0}
    assert kept("90", HOUR, hourly) == Decimal("50")
    assert kept("90", HOUR + 1, hourly) == Decimal("10")
    assert kept("90", 3 * HOUR, hourly) == Decimal("0")  # min(1, 3 x 40 %) of 100


def test_the_result_is_rounded_half_up_to_two_decimals():
    # floor = 10 x 23.35 % = 2.335 -> 2.34; deduction 7 x 12.5 % = 0.875: 5 - 0.875 = 4.125 -> 4.13
    policy = {"deduction_percent": 50, "interval": "day", "minimum_percent": 23.35}
    assert kept("9", DAY, policy, max_score="10") == Decimal("4.00")
    assert kept("6", DAY, policy, max_score="10") == Decimal("2.34")
    assert kept("5", DAY, {"deduction_percent": 12.5, "interval": "day", "minimum_percent": 0}, "7") == Decimal("4.13")


def test_no_policy_means_no_deduction():
    assert kept("90", 10 * DAY, None) == Decimal("90")


def _hundredths(low: int, high: int):
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


_POLICIES = st.one_of(
    st.none(),
    st.builds(
        lambda deduction, interval, minimum: {
            "deduction_percent": deduction,
            "interval": interval,
            "minimum_percent": minimum,
        },
        st.integers(1, 10_000).map(lambda n: n / 100),
        st.sampled_from(["hour", "day"]),
        st.integers(0, 10_000).map(lambda n: n / 100),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    max_score=_hundredths(1, 9_999_999),
    share=st.integers(0, 100),
    seconds=st.one_of(st.integers(-5, 5), st.integers(0, 40 * DAY)),
    policy=_POLICIES,
)
def test_the_rule_in_sql_gives_what_the_rule_in_python_gives(max_score, share, seconds, policy):
    # The statement that grades one student computes the stored score itself (``late_score_sql``).
    entered = (max_score * share / 100).quantize(Decimal("0.01"))
    sql = late_score_sql(
        entered="%(entered)s::numeric",
        max_score="%(max)s::numeric",
        seconds_late="%(seconds)s::bigint",
        policy="%(policy)s::jsonb",
    )
    params = {"entered": entered, "max": max_score, "seconds": seconds, "policy": json.dumps(policy)}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql}", params)
        (in_sql,) = cursor.fetchone()

    assert in_sql == late_score(entered=entered, max_score=max_score, seconds_late=seconds, policy=policy)


# Through the API.

DUE = datetime(2026, 12, 1, 17, tzinfo=UTC)


@pytest.fixture
def late_world(course, test_, student):
    """An online test due at DUE in a course of ``DAILY``; the student's one attempt 1 s late."""
    Course.objects.filter(pk=course.pk).update(late_policy=DAILY)
    Test.objects.filter(pk=test_.pk).update(submission_type="online", due_at=DUE, allowed_attempts=None)
    test_.refresh_from_db()
    Submission.objects.create(test=test_, student=student, attempt=1, submitted_at=DUE + timedelta(seconds=1), body="x")
    return test_


def results_url(test):
    return f"/api/tests/{test.pk}/results/"


def _policy_lines(result):
    return list(
        GradeChange.objects.filter(result=result, via="policy").values_list("old_score", "new_score").order_by("id")
    )


def test_grading_a_late_attempt_stores_the_deducted_score(client_for, teacher, student, late_world):
    response = client_for(teacher).post(results_url(late_world), {"student": student.pk, "score": 90}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["score"], body["entered_score"], body["late_deduction"], body["late_waived"], body["percent"]) == (
        80,
        90,
        10,
        False,
        80.0,
    )
    result = TestResult.objects.get()
    assert (result.score, result.late_deduction) == (Decimal("80"), Decimal("10"))
    change = GradeChange.objects.get()
    assert (change.new_score, change.via) == (Decimal("80"), "api")


def test_the_students_own_results_show_what_was_entered_and_taken_off(client_for, teacher, student, late_world):
    client_for(teacher).post(results_url(late_world), {"student": student.pk, "score": 90}, format="json")
    Test.objects.filter(pk=late_world.pk).update(results_published=True)

    rows = client_for(student).get(f"/api/users/{student.pk}/test-results/").json()["results"]

    assert [(r["score"], r["entered_score"], r["late_deduction"], r["late_waived"]) for r in rows] == [
        (80, 90, 10, False)
    ]


def test_a_waived_result_keeps_what_was_entered(client_for, teacher, student, late_world):
    body = (
        client_for(teacher)
        .post(results_url(late_world), {"student": student.pk, "score": 90, "late_waived": True}, format="json")
        .json()
    )
    assert (body["score"], body["entered_score"], body["late_deduction"], body["late_waived"]) == (90, 90, 0, True)


def test_waiving_and_unwaiving_recompute_with_a_policy_line(client_for, teacher, student, late_world):
    client = client_for(teacher)
    result_id = client.post(results_url(late_world), {"student": student.pk, "score": 90}, format="json").json()["id"]
    body = client.patch(f"/api/test-results/{result_id}/", {"late_waived": True}, format="json").json()
    assert (body["score"], body["late_deduction"], body["late_waived"]) == (90, 0, True)
    body = client.patch(f"/api/test-results/{result_id}/", {"late_waived": False}, format="json").json()
    assert (body["score"], body["late_deduction"], body["late_waived"]) == (80, 10, False)
    assert _policy_lines(result_id) == [(Decimal("80"), Decimal("90")), (Decimal("90"), Decimal("80"))]


def test_put_and_patch_of_a_score_take_the_entered_score(client_for, teacher, student, late_world):
    client = client_for(teacher)
    result_id = client.post(results_url(late_world), {"student": student.pk, "score": 90}, format="json").json()["id"]
    body = client.put(f"/api/test-results/{result_id}/", {"score": 70}, format="json").json()
    assert (body["score"], body["entered_score"]) == (60, 70)
    body = client.patch(f"/api/test-results/{result_id}/", {"score": 95}, format="json").json()
    assert (body["score"], body["entered_score"], body["late_deduction"]) == (85, 95, 10)
    body = client.patch(f"/api/test-results/{result_id}/", {"excused": True}, format="json").json()
    assert (body["score"], body["entered_score"], body["late_deduction"]) == (None, None, 0)


def test_the_bulk_upsert_applies_the_deduction_and_takes_late_waived(
    client_for, teacher, student, classmate, late_world
):
    client = client_for(teacher)
    response = client.put(
        results_url(late_world),
        [{"student": student.pk, "score": 90}, {"student": classmate.pk, "score": 90, "late_waived": False}],
        format="json",
    )
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}
    scores = dict(TestResult.objects.values_list("student_id", "score"))
    assert scores == {student.pk: Decimal("80"), classmate.pk: Decimal("90")}  # the classmate handed nothing in
    response = client.put(results_url(late_world), [{"student": student.pk, "score": 90}], format="json")
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 1}
    response = client.put(
        results_url(late_world), [{"student": student.pk, "late_waived": True, "score": 90}], format="json"
    )
    assert response.json() == {"created": 0, "updated": 1, "unchanged": 0}
    assert TestResult.objects.get(student=student).score == Decimal("90")
    bad = client.put(results_url(late_world), [{"student": student.pk, "score": 90, "late_waived": 1}], format="json")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "late_waived"


def test_the_csv_import_applies_the_deduction_and_its_export_reads_back_unchanged(
    client_for, teacher, student, course, late_world
):
    client = client_for(teacher)
    header = f"email,first_name,last_name,{late_world.name} (#{late_world.pk}),average_percent\r\n"
    response = client.generic(
        "POST",
        f"/api/courses/{course.pk}/gradebook/import/",
        (header + f"{student.email},,,90,\r\n").encode(),
        content_type="text/csv",
    )
    assert response.status_code == 200, response.json()
    result = TestResult.objects.get()
    assert (result.score, result.entered_score) == (Decimal("80"), Decimal("90"))
    exported = client.get(f"/api/courses/{course.pk}/gradebook.csv")
    again = client.generic(
        "POST",
        f"/api/courses/{course.pk}/gradebook/import/",
        b"".join(exported.streaming_content),
        content_type="text/csv",
    )
    assert again.json() == {"created": 0, "updated": 0, "unchanged": 1}
    result.refresh_from_db()
    assert (result.score, result.entered_score) == (Decimal("80"), Decimal("90"))


def test_a_test_without_online_submissions_takes_no_deduction(client_for, teacher, student, late_world):
    Submission.objects.all().delete()
    Test.objects.filter(pk=late_world.pk).update(submission_type="none")
    body = client_for(teacher).post(results_url(late_world), {"student": student.pk, "score": 90}, format="json").json()
    assert (body["score"], body["late_deduction"]) == (90, 0)


@pytest.mark.parametrize("published", [True, False])
def test_grading_a_late_attempt_in_one_statement_stores_the_deducted_score(
    client_for, teacher, student, classmate, late_world, published
):
    # Graded in one statement (``services._record_at_once``): the results hidden, or a notice open.
    Test.objects.filter(pk=late_world.pk).update(results_published=published)
    client = client_for(teacher)
    assert (
        client.post(results_url(late_world), {"student": classmate.pk, "score": 90}, format="json").status_code == 201
    )

    with CaptureQueriesContext(connection) as queries:
        response = client.post(results_url(late_world), {"student": student.pk, "score": 90}, format="json")

    assert len(queries) == 2  # the caller with the test and the caller's role, the grade
    body = response.json()
    assert (body["score"], body["entered_score"], body["late_deduction"], body["percent"]) == (80, 90, 10, 80.0)
    result = TestResult.objects.get(student=student)
    assert (result.score, result.late_deduction, result.late_waived) == (Decimal("80"), Decimal("10"), False)
    assert GradeChange.objects.get(result=result).new_score == Decimal("80")
    again = client.post(results_url(late_world), {"student": student.pk, "score": 90}, format="json")
    assert again.status_code == 409


def test_a_late_attempt_graded_waived_in_one_statement_keeps_what_was_entered(
    client_for, teacher, student, classmate, late_world
):
    client = client_for(teacher)
    client.post(results_url(late_world), {"student": classmate.pk, "score": 90}, format="json")  # opens the notice
    body = client.post(
        results_url(late_world), {"student": student.pk, "score": 90, "late_waived": True}, format="json"
    ).json()
    assert (body["score"], body["late_deduction"], body["late_waived"]) == (90, 0, True)


@pytest.mark.parametrize("published", [True, False])
def test_a_test_made_online_since_it_was_read_still_takes_the_deduction(
    teacher, student, classmate, late_world, published
):
    Test.objects.filter(pk=late_world.pk).update(results_published=published)
    services.result_record(test=late_world, student=classmate, score=Decimal("90"), by=teacher)  # a notice opens
    stale = Test.objects.get(pk=late_world.pk)
    stale.submission_type = "none"  # as read before it became online
    result = services.result_record(test=stale, student=student, score=Decimal("90"), by=teacher)
    assert (result.score, result.late_deduction) == (Decimal("80"), Decimal("10"))
    assert TestResult.objects.get(student=student).score == Decimal("80")


def test_without_a_late_attempt_entered_is_the_score(client_for, teacher, classmate, late_world):
    body = (
        client_for(teacher).post(results_url(late_world), {"student": classmate.pk, "score": 90}, format="json").json()
    )
    assert (body["score"], body["entered_score"], body["late_deduction"]) == (90, 90, 0)


# Recomputes: each with a history line via "policy".


@pytest.fixture
def graded(client_for, teacher, student, late_world):
    client_for(teacher).post(results_url(late_world), {"student": student.pk, "score": 90}, format="json")
    return TestResult.objects.get(student=student)


def test_a_new_late_attempt_recomputes(client_for, student, late_world, graded):
    Submission.objects.all().delete()
    Test.objects.filter(pk=late_world.pk).update(due_at=datetime.now(tz=UTC) - timedelta(days=2, hours=1))
    # The entered score stays; the attempt just made is three started days late.
    response = client_for(student).post(f"/api/tests/{late_world.pk}/submissions/", {"body": "again"}, format="json")
    assert response.status_code == 201
    graded.refresh_from_db()
    assert (graded.score, graded.entered_score) == (Decimal("60"), Decimal("90"))
    assert _policy_lines(graded) == [(Decimal("80"), Decimal("60"))]
    assert GradeChange.objects.filter(result=graded, via="policy").get().changed_by_id == response.json()["student"]


def test_an_extension_granted_changed_and_removed_recomputes(client_for, teacher, student, late_world, graded):
    client = client_for(teacher)
    url = f"/api/tests/{late_world.pk}/extensions/{student.pk}/"
    assert client.put(url, {"due_at": "2026-12-01T17:00:01Z"}, format="json").status_code == 200
    graded.refresh_from_db()
    assert graded.score == Decimal("90")
    client.put(url, {"due_at": "2026-11-29T17:00:00Z"}, format="json")  # two days and a second late
    graded.refresh_from_db()
    assert graded.score == Decimal("60")
    assert client.delete(url).status_code == 204
    graded.refresh_from_db()
    assert graded.score == Decimal("80")
    assert _policy_lines(graded) == [
        (Decimal("80"), Decimal("90")),
        (Decimal("90"), Decimal("60")),
        (Decimal("60"), Decimal("80")),
    ]
    assert not Extension.objects.exists()


def test_a_change_of_the_late_policy_recomputes_every_online_test(client_for, teacher, course, late_world, graded):
    client = client_for(teacher)
    hourly = {"deduction_percent": 5, "interval": "hour", "minimum_percent": 0}
    assert client.patch(f"/api/courses/{course.pk}/", {"late_policy": hourly}, format="json").status_code == 200
    graded.refresh_from_db()
    assert graded.score == Decimal("85")
    client.patch(f"/api/courses/{course.pk}/", {"late_policy": None}, format="json")
    graded.refresh_from_db()
    assert (graded.score, graded.late_deduction) == (Decimal("90"), Decimal("0"))
    assert _policy_lines(graded) == [(Decimal("80"), Decimal("85")), (Decimal("85"), Decimal("90"))]
    # The same policy again changes nothing and writes no line.
    client.patch(f"/api/courses/{course.pk}/", {"late_policy": None}, format="json")
    assert len(_policy_lines(graded)) == 2


def test_a_change_of_the_due_time_recomputes(client_for, teacher, late_world, graded):
    client = client_for(teacher)
    response = client.patch(f"/api/tests/{late_world.pk}/", {"due_at": "2026-12-02T00:00:00Z"}, format="json")
    assert response.status_code == 200
    graded.refresh_from_db()
    assert graded.score == Decimal("90")
    assert _policy_lines(graded) == [(Decimal("80"), Decimal("90"))]


def test_a_recompute_moves_the_results_version_and_the_result_version(client_for, teacher, late_world, graded):
    client = client_for(teacher)
    before = client.get(f"/api/tests/{late_world.pk}/").json()["results_version"]
    client.patch(f"/api/tests/{late_world.pk}/", {"due_at": "2026-12-02T00:00:00Z"}, format="json")
    assert client.get(f"/api/tests/{late_world.pk}/").json()["results_version"] == before + 1
    assert client.get(f"/api/test-results/{graded.pk}/").json()["version"] == graded.version + 1


def test_statistics_and_grades_use_the_stored_score(client_for, teacher, course, late_world, graded):
    client = client_for(teacher)
    assert client.get(f"/api/tests/{late_world.pk}/stats/").json()["mean"] == 80.0
    row = client.get(f"/api/courses/{course.pk}/grades/").json()["results"][0]
    assert row["current_percent"] == 80
    assert client.get(f"/api/courses/{course.pk}/gradebook/").json()["students"][0]["scores"][str(late_world.pk)] == 80
