"""The grade service on its own: every grade write, its checks, and the history it appends."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction

from courses import services as course_services
from courses.models import Course, Enrollment, Role
from grading import services
from grading.models import GradeChange, NoticeRecipient, Test, TestResult
from gradingsite.errors import Conflict, Invalid
from tests.concurrency import run_at_once

pytestmark = pytest.mark.django_db


def test_recording_a_result_appends_its_history(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("12.5"), by=teacher)
    assert (result.score, result.grader_id) == (Decimal("12.50"), teacher.pk)
    change = GradeChange.objects.get()
    assert (change.result, change.action, change.old_score, change.new_score) == (result, "created", None, 12.5)
    assert (change.changed_by, change.via) == (teacher, "api")


def test_recording_twice_is_a_conflict_and_writes_nothing(test_, student, teacher):
    services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    with pytest.raises(Conflict):
        services.result_record(test=test_, student=student, score=Decimal("2"), by=teacher)
    assert TestResult.objects.get().score == 1
    assert GradeChange.objects.count() == 1


def test_a_conflict_inside_an_outer_transaction_leaves_it_usable(test_, student, teacher):
    services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    with transaction.atomic():
        with pytest.raises(Conflict):
            services.result_record(test=test_, student=student, score=Decimal("2"), by=teacher)
        assert TestResult.objects.count() == 1  # the connection still answers


@pytest.mark.parametrize("score", ["-0.01", "100.01", "1.001", "NaN"])
def test_recording_a_bad_score_is_invalid(test_, student, teacher, score):
    with pytest.raises(Invalid) as caught:
        services.result_record(test=test_, student=student, score=Decimal(score), by=teacher)
    assert "score" in caught.value.detail
    assert not TestResult.objects.exists()


def test_only_students_of_the_course_get_results(test_, teacher, stranger):
    for user in (teacher, stranger):
        with pytest.raises(Invalid) as caught:
            services.result_record(test=test_, student=user, score=Decimal("1"), by=teacher)
        assert "student" in caught.value.detail


def test_the_grader_is_the_caller_unless_an_admin_names_a_teacher(test_, student, classmate, teacher, admin_user):
    by_admin = services.result_record(test=test_, student=student, score=Decimal("1"), by=admin_user, grader=teacher)
    assert by_admin.grader_id == teacher.pk
    with pytest.raises(Invalid):
        services.result_record(test=test_, student=classmate, score=Decimal("1"), by=teacher, grader=admin_user)


def test_updating_to_the_same_score_writes_no_history(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    services.result_update(result=result, score=Decimal("5.00"), by=teacher)
    assert GradeChange.objects.count() == 1


def test_updating_checks_the_current_max_score(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    Test.objects.filter(pk=test_.pk).update(max_score=Decimal("10"))  # changed since `result` was read
    with pytest.raises(Invalid):
        services.result_update(result=result, score=Decimal("11"), by=teacher)
    assert TestResult.objects.get().score == 5


@pytest.mark.parametrize("published", [True, False])
def test_recording_checks_the_current_max_score(test_, student, classmate, teacher, published):
    Test.objects.filter(pk=test_.pk).update(results_published=published)
    services.result_record(test=test_, student=classmate, score=Decimal("5"), by=teacher)  # a notice opens
    Test.objects.filter(pk=test_.pk).update(max_score=Decimal("10"))  # changed since `test_` was read
    with pytest.raises(Invalid) as caught:
        services.result_record(test=test_, student=student, score=Decimal("11"), by=teacher)
    assert caught.value.detail == {
        "score": ["Ensure this value is less than or equal to the test's max_score (10.00)."]
    }
    assert not TestResult.objects.filter(student=student).exists()


def test_deleting_keeps_a_history_line_without_the_result(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    services.result_delete(result=result, by=teacher)
    assert not TestResult.objects.exists()
    assert list(GradeChange.objects.values_list("action", "result_id")) == [("created", None), ("deleted", None)]


def test_upsert_dry_run_counts_and_writes_nothing(test_, student, classmate, teacher):
    services.result_record(test=test_, student=student, score=Decimal("5"), by=teacher)
    outcome = services.results_upsert(
        test=test_, items=[(student.pk, Decimal("6")), (classmate.pk, Decimal("7"))], by=teacher, dry_run=True
    )
    assert (outcome.counts(), outcome.errors) == ({"created": 1, "updated": 1, "unchanged": 0}, [])
    assert TestResult.objects.get().score == 5
    assert GradeChange.objects.count() == 1


def test_upsert_reports_duplicates_and_bad_scores_by_index(test_, student, teacher):
    outcome = services.results_upsert(
        test=test_, items=[(student.pk, Decimal("1")), (student.pk, Decimal("101"))], by=teacher
    )
    assert [(i, f) for i, f, _ in outcome.errors] == [(1, "student"), (1, "score")]
    assert not TestResult.objects.exists()


def test_upsert_history_carries_its_via(test_, student, teacher):
    services.results_upsert(test=test_, items=[(student.pk, Decimal("1"))], by=teacher, via=GradeChange.Via.IMPORT)
    assert GradeChange.objects.get().via == "import"


def test_creating_a_test_defaults_max_score_to_100(course):
    test = services.test_create(course=course, name="Quiz", date=date(2026, 5, 1))
    test.refresh_from_db()
    assert test.max_score == 100


def test_max_score_cannot_drop_below_a_recorded_score(test_, student, teacher):
    services.result_record(test=test_, student=student, score=Decimal("60"), by=teacher)
    with pytest.raises(Invalid) as caught:
        services.test_update(test=test_, max_score=Decimal("59.99"))
    assert "max_score" in caught.value.detail
    services.test_update(test=test_, max_score=Decimal("60"), name="Renamed")
    test_.refresh_from_db()
    assert (test_.max_score, test_.name) == (Decimal("60"), "Renamed")


def test_deleting_a_graded_test_needs_force(test_, student, teacher):
    services.result_record(test=test_, student=student, score=Decimal("60"), by=teacher)
    with pytest.raises(Conflict):
        services.test_delete(test=test_)
    assert Test.objects.exists()
    services.test_delete(test=test_, force=True)
    assert not Test.objects.exists() and not TestResult.objects.exists()


def test_deleting_a_graded_course_needs_force(course, test_, student, teacher):
    services.result_record(test=test_, student=student, score=Decimal("60"), by=teacher)
    with pytest.raises(Conflict):
        course_services.course_delete(course=course)
    course_services.course_delete(course=course, force=True)
    assert not Course.objects.exists() and not Test.objects.exists()


@pytest.mark.parametrize(("raw", "expected"), [("12.5", Decimal("12.5")), (" 7 ", Decimal("7")), (3, Decimal("3"))])
def test_parse_score_reads_numbers(raw, expected):
    assert services.parse_score(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "1e999999",
        "Infinity",
        "NaN",
        "100000",
        "1e3",
        "1E1",
        "5\x00",
        "\x005",
        "+5",
        ".5",
        "5.",
        "05",
        "1_0",
        "\u0665",
        "5 5",
    ],
)
def test_parse_score_refuses_what_is_not_a_score(raw):
    with pytest.raises(Invalid):
        services.parse_score(raw)


@pytest.mark.django_db(transaction=True)
def test_concurrent_graders_of_one_student_record_one_result(course, test_, student, teacher):
    """Two requests grading the same student at once: the test's row lock lets exactly one through."""
    outcomes = run_at_once(
        *[
            lambda score=score: services.result_record(test=test_, student=student, score=Decimal(score), by=teacher)
            for score in ("10", "20")
        ]
    )
    # The one refused finds the student graded already: a stale read, which is a Conflict (409).
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["StaleResult", "TestResult"]
    assert TestResult.objects.count() == 1
    assert GradeChange.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("published", [True, False])
def test_concurrent_graders_of_one_student_in_one_statement_each_record_one_result(
    course, test_, student, classmate, teacher, published
):
    """As above, where each grade is one statement: the results hidden, or a notice open."""
    Test.objects.filter(pk=test_.pk).update(results_published=published)
    services.result_record(test=test_, student=classmate, score=Decimal("1"), by=teacher)  # a notice opens
    outcomes = run_at_once(
        *[
            lambda score=score: services.result_record(test=test_, student=student, score=Decimal(score), by=teacher)
            for score in ("10", "20")
        ]
    )
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["StaleResult", "TestResult"]
    assert TestResult.objects.filter(student=student).count() == 1
    assert GradeChange.objects.filter(student_id=student.pk).count() == 1
    assert services._results_version(test_) == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("published", [True, False])
def test_graders_of_one_test_at_once_each_record_move_the_version_and_join_the_notice(
    course, test_, teacher, published
):
    students = [type(teacher).objects.create_user(f"s{i}@example.com") for i in range(5)]
    Enrollment.objects.bulk_create([Enrollment(user=s, course=course, role=Role.STUDENT) for s in students])
    Test.objects.filter(pk=test_.pk).update(results_published=published)
    services.result_record(test=test_, student=students[0], score=Decimal("1"), by=teacher)  # a notice opens
    outcomes = run_at_once(
        *[
            lambda s=s: services.result_record(test=test_, student=s, score=Decimal("5"), by=teacher)
            for s in students[1:]
        ]
    )
    assert [type(outcome).__name__ for outcome in outcomes] == ["TestResult"] * 4
    assert services._results_version(test_) == 5
    assert GradeChange.objects.filter(test_id=test_.pk).count() == 5
    notified = NoticeRecipient.objects.filter(notice__test=test_, notice__state="pending").count()
    assert notified == (5 if published else 0)


@pytest.mark.django_db(transaction=True)
def test_two_deletes_of_one_result_write_one_history_line(course, test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    # Both read the result before either deletes it, as two graders' pages would.
    loaded = [TestResult.objects.select_related("test").get(pk=result.pk) for _ in range(2)]
    outcomes = run_at_once(*[lambda r=r: services.result_delete(result=r, by=teacher) for r in loaded])
    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["NoneType", "StaleResult"]
    assert list(GradeChange.objects.values_list("action", flat=True).order_by("id")) == ["created", "deleted"]


def test_an_update_expecting_the_version_read_writes_and_moves_the_version(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    read = TestResult.objects.select_related("test").get(pk=result.pk)

    services.result_update(result=read, score=Decimal("20"), by=teacher, expected_version=read.version)

    assert TestResult.objects.values_list("score", "version").get() == (Decimal("20"), 2)
    assert GradeChange.objects.filter(action="updated").count() == 1


def test_an_update_expecting_an_older_version_is_stale_and_writes_nothing(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    read = TestResult.objects.select_related("test").get(pk=result.pk)
    services.result_update(result=result, score=Decimal("15"), by=teacher)  # someone else, meanwhile

    with pytest.raises(services.StaleResult) as caught:
        services.result_update(result=read, score=Decimal("20"), by=teacher, expected_version=read.version)

    assert isinstance(caught.value, Conflict)  # the API's 409
    assert TestResult.objects.values_list("score", "version").get() == (Decimal("15"), 2)
    assert GradeChange.objects.count() == 2


def test_a_delete_expecting_an_older_version_is_stale_and_deletes_nothing(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    read = TestResult.objects.select_related("test").get(pk=result.pk)
    services.result_update(result=result, score=None, excused=True, by=teacher)

    with pytest.raises(services.StaleResult):
        services.result_delete(result=read, by=teacher, expected_version=read.version)

    assert TestResult.objects.values_list("excused", flat=True).get() is True
    assert not GradeChange.objects.filter(action="deleted").exists()


def test_an_update_of_a_result_deleted_meanwhile_is_stale(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    read = TestResult.objects.select_related("test").get(pk=result.pk)
    services.result_delete(result=result, by=teacher)

    with pytest.raises(services.StaleResult):
        services.result_update(result=read, score=Decimal("20"), by=teacher, expected_version=read.version)

    assert not TestResult.objects.exists()


def test_deleting_records_the_score_as_it_is_now(test_, student, teacher):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    stale = TestResult.objects.select_related("test").get(pk=result.pk)
    TestResult.objects.filter(pk=result.pk).update(score=Decimal("20"))
    services.result_delete(result=stale, by=teacher)
    assert GradeChange.objects.get(action="deleted").old_score == 20


def test_a_grade_write_on_a_deleted_test_is_a_conflict(test_, student, teacher):
    Test.objects.filter(pk=test_.pk).delete()
    with pytest.raises(Conflict):
        services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    with pytest.raises(Conflict):
        services.results_upsert(test=test_, items=[(student.pk, Decimal("1"))], by=teacher)
