"""The grade service: every write that touches a grade goes through here.

Each function runs in one transaction that also appends the ``GradeChange`` history rows, so a
change and its history are written together or not at all; grading one student is, where it can
be, a single statement (``result_record``), which is a transaction of its own. Writes to a test's grades lock the
test's row first, so a score can never slip past a ``max_score`` that is being lowered at the same
moment: a single result's write takes a shared lock (graders of one test work side by side), a
bulk upsert and a change of the test itself an exclusive one (they wait for each other and for
single writes).

Every write that changes a test's results also moves the test's results version
(``bump_results_versions``) after its history lines: its row is locked only from there to the end
of the write, and always after the test's row, so writers take their locks in one order.

A change students can see (a result written while the test's results are published, or the
results being published) opens or joins the test's result notice in the same transaction
(``grading.notices``); hiding the results cancels it. Email itself is the worker's.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Max
from django.utils import timezone

from courses import policy
from courses.models import Course, Enrollment, Role
from grading import comments, lateness, notices
from grading.models import (
    CATEGORIES_PER_COURSE,
    CATEGORY_MAX_POSITION,
    DEFAULT_CATEGORY,
    SCORE_DIGITS,
    SCORE_PLACES,
    GradeCategory,
    GradeChange,
    ResultsVersion,
    SubmissionType,
    Test,
    TestResult,
    results_version,
)
from gradingsite.errors import Conflict, Invalid, PreconditionFailed
from gradingsite.services import model_update
from gradingsite.sql import cursor as sql_cursor
from gradingsite.versions import bump

Via = GradeChange.Via
Action = GradeChange.Action

_QUANTUM = Decimal(1).scaleb(-SCORE_PLACES)
_SCORE_LIMIT = Decimal(10) ** (SCORE_DIGITS - SCORE_PLACES)


def score_error(score: Decimal, max_score: Decimal) -> str | None:
    """Why ``score`` is not a valid score for a test out of ``max_score``, or None."""
    if score.is_nan() or score.is_infinite():
        return "A valid number is required."
    if score < 0:
        return "Ensure this value is greater than or equal to 0."
    if score > max_score:
        return f"Ensure this value is less than or equal to the test's max_score ({max_score:f})."
    if score != score.quantize(_QUANTUM):
        return f"Ensure that there are no more than {SCORE_PLACES} decimal places."
    return None


EXCUSED_CELL = "EX"


# A score written as text (a CSV cell, a form field): decimal digits as a JSON number writes them,
# without an exponent: "42", "42.5", "0.25"; not "+5", ".5", "5.", "05", "1e3", "NaN", other scripts' digits.
SCORE_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?", re.ASCII)


def parse_score(raw) -> Decimal:
    """A score as typed by a person (admin form, CSV cell) or a JSON number. Raises ``Invalid`` with a message."""
    if isinstance(raw, str):
        text = raw.strip(" \t")
        if not SCORE_TEXT.fullmatch(text):
            raise Invalid("A valid number is required.")
        raw = text
    try:
        score = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise Invalid("A valid number is required.") from None
    if not score.is_finite() or abs(score) >= _SCORE_LIMIT:
        raise Invalid("A valid number is required.")
    return score


class StaleResult(Conflict):
    """The result is not as the caller read it: someone else recorded, changed or deleted it meanwhile.

    Raised by ``result_record`` when the student has a result already, and by ``result_update`` and
    ``result_delete`` when the result is gone or, given ``expected_version``, its version is another.
    Nothing was written.
    """


def _check_score(score: Decimal | None, test: Test, field_name: str = "score") -> Decimal | None:
    if score is None:  # excused
        return None
    problem = score_error(score, test.max_score)
    if problem:
        raise Invalid({field_name: [problem]})
    return score.quantize(_QUANTUM)


def _lock_test(test: Test) -> Test:
    """Lock the test's row exclusively: for changes to the test itself and for bulk writes of its grades."""
    locked = (
        Test.objects.select_for_update(of=("self",))
        .annotate(course_late_policy=F("course__late_policy"))
        .filter(pk=test.pk)
        .first()
    )
    if locked is None:
        raise Conflict("This test was deleted meanwhile.")
    test.max_score = locked.max_score
    test.results_published = locked.results_published
    test.submission_type = locked.submission_type
    test.course_late_policy = locked.course_late_policy
    return locked


def lock_for_several_writes(test: Test) -> None:
    """Before several single writes of one test's results in one transaction (the admin's test page):
    lock the test exclusively, as a bulk upsert does. Each write moves the test's results version,
    whose row stays locked to the end of the transaction; with the test locked first, no grader can
    hold one of the results this transaction is about to write while waiting for that row."""
    _lock_test(test)


def _share_lock_test(test: Test, *, student_id: int | None = None) -> bool:
    """Lock the test's row against change while one result is written, and read its current ``max_score``
    and ``results_published``.

    A shared lock (``FOR SHARE``): writes of different results of one test go on side by side, while
    a change of ``max_score``, the test's deletion and a bulk upsert (which take ``_lock_test``)
    wait for them, and they for those. Two writes of the same result are kept apart by the result's
    own row lock or, for two creations, by the unique constraint.

    With ``student_id``, the same statement also answers whether that user is a student of the
    test's course (returned; one round trip less for grading one student). Without, True.
    """
    table = connection.ops.quote_name(Test._meta.db_table)
    enrolled, params = "TRUE", [test.pk]
    if student_id is not None:
        enrollments = connection.ops.quote_name(Enrollment._meta.db_table)
        enrolled = (
            f"EXISTS (SELECT 1 FROM {enrollments} e WHERE e.course_id = {table}.course_id"  # noqa: S608
            " AND e.role = %s AND e.user_id = %s)"
        )
        params = [Role.STUDENT.value, student_id, test.pk]
    courses = connection.ops.quote_name(Course._meta.db_table)
    policy_sql = f"(SELECT c.late_policy FROM {courses} c WHERE c.id = {table}.course_id)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT max_score, results_published, {enrolled}, submission_type, {policy_sql} "  # noqa: S608
            f"FROM {table} WHERE id = %s FOR SHARE",
            params,
        )
        row = cursor.fetchone()
    if row is None:
        raise Conflict("This test was deleted meanwhile.")
    test.max_score = Decimal(str(row[0])).quantize(_QUANTUM)
    test.results_published = bool(row[1])
    test.submission_type = row[3]
    test.course_late_policy = _LATE_POLICY.from_db_value(row[4], None, connection)
    return bool(row[2])


_LATE_POLICY = Course._meta.get_field("late_policy")


def _late_seconds(test: Test, student_ids: Iterable[int]) -> dict[int, int]:
    """How late each student's latest attempt is (absent: none), when the test's results can lose
    points at all (``lateness.applies``; read by the test's lock); else no query, every one on time."""
    if not lateness.applies(submission_type=test.submission_type, policy=test.course_late_policy):
        return {}
    return lateness.latest_seconds_late(test.pk, student_ids)


def _kept(test: Test, entered: Decimal | None, *, waived: bool, seconds_late: int) -> Decimal | None:
    """The score stored for ``entered`` (None: excused) on ``test``, as ``lateness.late_score`` keeps it."""
    if entered is None or waived:
        return entered
    return lateness.late_score(
        entered=entered, max_score=test.max_score, seconds_late=seconds_late, policy=test.course_late_policy
    )


def _set_scores(result: TestResult, entered: Decimal | None, kept: Decimal | None, waived: bool) -> None:
    """Store ``kept`` of ``entered`` on ``result`` (its ``entered_score`` is the sum of the two columns)."""
    result.score = kept
    result.excused = entered is None
    result.late_deduction = Decimal(0) if entered is None else entered - kept
    result.late_waived = waived


def _student_ids_enrolled(test: Test, student_ids: Iterable[int]) -> set[int]:
    return set(
        Enrollment.objects.filter(
            course_id=test.course_id, role=Role.STUDENT, user_id__in=list(student_ids)
        ).values_list("user_id", flat=True)
    )


def _resolve_grader(*, test: Test, by, grader) -> int | None:
    """The grader is the caller; an admin may name another teacher of the course."""
    if grader is None or grader.pk == by.pk:
        return by.pk
    if not policy.is_admin(by):
        raise Invalid({"grader": ["Only an admin may record a grade in another teacher's name."]})
    if not policy.is_teacher_of(grader, test.course_id):
        raise Invalid({"grader": ["The grader must be a teacher of the course."]})
    return grader.pk


def _history(result: TestResult, action: str, *, old, new, by, via) -> GradeChange:
    """The history line of a change to ``result``: the line's test and student are the result's
    (they outlive it). A "deleted" line points at no result: the result goes in the same write. A
    result with no score after a create or update is an excused one."""
    return GradeChange(
        result=None if action == Action.DELETED else result,
        test_id=result.test_id,
        student_id=result.student_id,
        action=action,
        old_score=old,
        new_score=new,
        excused=new is None and action != Action.DELETED,
        changed_by_id=by.pk if by is not None else None,
        via=via,
    )


def result_record(
    *,
    test: Test,
    student,
    score: Decimal | None,
    by,
    via: str = Via.API,
    grader=None,
    excused: bool = False,
    late_waived: bool = False,
) -> TestResult:
    """Record a new result: a score as entered, or ``excused`` (no score). ``Conflict`` if the student
    already has one. The score stored is the entered one less the late deduction (``lateness``).

    One statement does it all when it can (``_record_at_once``): the caller is the grader, the score
    is valid for the test as the caller read it, and, where students see the results, a notice is
    open for the change to join. When that statement writes nothing, the same write runs step by
    step in a transaction (``_record``), which opens the notice, or says what stands in the way.
    """
    if excused:
        score = None
    if (grader is None or grader.pk == by.pk) and (score is None or score_error(score, test.max_score) is None):
        result = _record_at_once(
            test=test, student_id=student.pk, entered=score, by=by, via=via, late_waived=late_waived
        )
        if result is not None:
            return result
    return _record(test=test, student=student, score=score, by=by, via=via, grader=grader, late_waived=late_waived)


@cache
def _record_statement(online: bool) -> tuple[str, list[str]]:
    """``_record_at_once``'s statement for a test that takes online submissions or not, and the names
    of the result's fields it answers, in order. Only an online test's stored score can lose the late
    deduction: the other statement neither computes it nor joins the course, and writes nothing if
    the test became online meanwhile."""
    q = connection.ops.quote_name
    results, tests, courses = q(TestResult._meta.db_table), q(Test._meta.db_table), q(Course._meta.db_table)
    enrollments, history = q(Enrollment._meta.db_table), q(GradeChange._meta.db_table)
    versions = q(ResultsVersion._meta.db_table)
    fields = TestResult._meta.concrete_fields
    entered = "%(entered)s::numeric"
    if online:
        policy = "c.late_policy"
        applies = lateness.applies_sql(submission_type="t.submission_type", policy=policy)
        late = lateness.late_score_sql(entered=entered, max_score="t.max_score", seconds_late="late.s", policy=policy)
        kept = f"CASE WHEN %(waived)s::boolean OR NOT {applies} THEN {entered} ELSE {late} END"
        seconds = lateness.latest_seconds_late_sql(test="t", student="%(student)s::bigint")
        source = f"{tests} t JOIN {courses} c ON c.id = t.course_id CROSS JOIN LATERAL (SELECT {seconds} AS s) late"
        online_only = ""
    else:
        kept, source = entered, f"{tests} t"
        online_only = f" AND t.submission_type <> '{SubmissionType.ONLINE.value}'"
    sql = f"""
WITH test AS MATERIALIZED (
    SELECT t.id, t.max_score, t.results_published,
           EXISTS (SELECT 1 FROM {enrollments} e WHERE e.course_id = t.course_id
                   AND e.role = '{Role.STUDENT.value}' AND e.user_id = %(student)s::bigint) AS enrolled,
           {kept} AS kept
    FROM {source}
    WHERE t.id = %(test)s::bigint{online_only}
    FOR SHARE OF t
),
pending AS MATERIALIZED ({notices.pending_sql("(SELECT id FROM test WHERE results_published)")}),
result AS (
    INSERT INTO {results} (version, test_id, student_id, grader_id, score, excused, late_deduction, late_waived,
                           graded_at, created_at, updated_at)
    SELECT 1, test.id, %(student)s::bigint, %(by)s::bigint, test.kept, {entered} IS NULL,
           COALESCE({entered} - test.kept, 0), %(waived)s::boolean, %(now)s::timestamptz, %(now)s::timestamptz,
           %(now)s::timestamptz
    FROM test
    WHERE test.enrolled AND ({entered} IS NULL OR {entered} <= test.max_score)
          AND (NOT test.results_published OR EXISTS (SELECT 1 FROM pending))
    ON CONFLICT (test_id, student_id) DO NOTHING
    RETURNING {", ".join(q(f.column) for f in fields)}
),
history AS (
    INSERT INTO {history} (result_id, test_id, student_id, action, old_score, new_score, excused, changed_by_id,
                           changed_at, via)
    SELECT id, test_id, student_id, '{Action.CREATED.value}', NULL, score, excused, %(by)s::bigint,
           %(now)s::timestamptz, %(via)s::text
    FROM result
),
moved AS (
    INSERT INTO {versions} (test_id, version) SELECT test_id, 1 FROM result
    ON CONFLICT (test_id) DO UPDATE SET version = {versions}.version + 1
),
joined AS ({notices.join_sql("pending", "result")})
SELECT result.*, test.max_score, test.results_published FROM result, test
"""  # noqa: S608
    return sql, [f.attname for f in fields]


def _record_at_once(*, test: Test, student_id: int, entered, by, via, late_waived: bool) -> TestResult | None:
    """Record a new result in one statement, which commits by itself outside a transaction: one
    round trip. None, having written nothing, where it takes more than the statement knows: the
    user is not a student of the course, the score is above the test's ``max_score`` now, the test
    is gone or no longer of the submission type ``test`` says, the student has a result already, or
    the results are published and no notice is open.

    The statement keeps the step-by-step write's order and guarantees: the test's row share-locked
    first (``_share_lock_test``) with "enrolled?" and the stored score (the late deduction,
    ``lateness``, computed from the student's latest attempt), the test's pending notice
    share-locked (``notices.pending_sql``), the insert (the unique constraint answers "graded
    already?"), its history line, the results version moved and the student added to the notice.
    """
    sql, names = _record_statement(test.submission_type == SubmissionType.ONLINE)
    params = {
        "test": test.pk,
        "student": student_id,
        "entered": None if entered is None else entered.quantize(_QUANTUM),
        "waived": late_waived,
        "by": by.pk,
        "via": via,
        "now": timezone.now(),
    }
    # Prepared: planned once per connection, not on every grade.
    with sql_cursor(connection, fast_times=True, prepare=True) as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    *values, test.max_score, test.results_published = row
    result = TestResult.from_db(connection.alias, names, values)
    result.test = test
    return result


@transaction.atomic
def _record(*, test: Test, student, score, by, via, grader, late_waived) -> TestResult:
    """``result_record`` step by step, in a transaction: the test share-locked with "enrolled?"
    (one statement), the late deduction's input, the insert, its history line, the results version,
    the notice (opened when none is)."""
    enrolled = _share_lock_test(test, student_id=student.pk)
    score = _check_score(score, test)
    if not enrolled:
        raise Invalid({"student": ["This user is not enrolled as a student in the test's course."]})
    grader_id = _resolve_grader(test=test, by=by, grader=grader)
    entered = score
    if entered is not None and not late_waived:
        late = _late_seconds(test, [student.pk]).get(student.pk, 0)
        score = _kept(test, entered, waived=late_waived, seconds_late=late)
    # "Graded already?" is the unique constraint's answer: one query less than asking first, and
    # the only answer that holds when two graders record the same student at the same moment. No
    # savepoint is needed around the insert: this function's own atomic block rolls back to where
    # it began.
    try:
        result = TestResult(test=test, student_id=student.pk, grader_id=grader_id)
        _set_scores(result, entered, score, late_waived)
        result.save(force_insert=True)
    except IntegrityError:
        raise StaleResult("This student already has a result for this test.") from None
    _history(result, Action.CREATED, old=None, new=score, by=by, via=via).save()
    bump_results_versions([test.pk])
    _tell_students(test, [student.pk])
    return result


@transaction.atomic
def result_update(
    *,
    result: TestResult,
    score: Decimal | None,
    by,
    via: str = Via.API,
    grader=None,
    excused: bool = False,
    expected_version: int | None = None,
    late_waived: bool | None = None,
    confirm: bool = False,
) -> TestResult:
    """Change a result's entered score (and grader), or excuse it (``excused``: the score is cleared);
    ``late_waived`` None keeps the waiver as it is. The stored score follows (``lateness``).

    ``confirm``: the caller graded the student's work even if nothing changes (the admin's grading
    page, saved with the score as it was): the result counts as graded now (``graded_at``), so the
    attempts submitted so far leave the grading queue. No history line and no new version when
    nothing else changed.

    A change that leaves the stored score as it was writes no history; a change of the waiver alone
    that moves the stored score writes its line ``via: "policy"``. With ``expected_version`` (the
    version the caller read), the result must still be at that version when it is locked
    (``StaleResult`` otherwise, nothing written).
    """
    if excused:
        score = None
    test = result.test
    _share_lock_test(test)
    score = _check_score(score, test)
    grader_id = _resolve_grader(test=test, by=by, grader=grader)
    current = _lock_result(result, expected_version)
    old = current.score
    waived = current.late_waived if late_waived is None else late_waived
    entered = score
    if entered is not None and not waived:
        late = _late_seconds(test, [result.student_id]).get(result.student_id, 0)
        score = _kept(test, entered, waived=waived, seconds_late=late)
    if (
        current.entered_score == entered
        and current.score == score
        and current.late_waived == waived
        and current.grader_id == grader_id
    ):
        _set_scores(result, entered, score, waived)
        if confirm:
            result.graded_at = timezone.now()
            TestResult.objects.filter(pk=result.pk).update(graded_at=result.graded_at)
        return result
    if old != score and entered == current.entered_score and current.excused == (entered is None):
        via = Via.POLICY  # only the waiver changed: the late policy's line
    _set_scores(result, entered, score, waived)
    result.grader_id = grader_id
    result.graded_at = timezone.now()
    result.save(update_fields=[*_SCORE_FIELDS, "grader", "graded_at", "updated_at"])
    if old != score:
        _history(result, Action.UPDATED, old=old, new=score, by=by, via=via).save()
        bump_results_versions([test.pk])
        _tell_students(test, [result.student_id])
    return result


_SCORE_FIELDS = ("score", "excused", "late_deduction", "late_waived")


@transaction.atomic
def result_delete(*, result: TestResult, by, via: str = Via.API, expected_version: int | None = None) -> None:
    """Delete a result; its history keeps a "deleted" line with the score it had at that moment.

    ``expected_version``: as for ``result_update``."""
    _share_lock_test(result.test)
    current = _lock_result(result, expected_version)
    _history(result, Action.DELETED, old=current.score, new=None, by=by, via=via).save()
    result.delete()
    bump_results_versions([result.test_id])


def _share_lock_tests(test_ids: Sequence[int]) -> None:
    """Share-lock these tests' rows (``_share_lock_test``), in id order: one statement."""
    table = connection.ops.quote_name(Test._meta.db_table)
    places = ", ".join(["%s"] * len(test_ids))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE id IN ({places}) ORDER BY id FOR SHARE", list(test_ids))  # noqa: S608


# Rows a statement may name at once (PostgreSQL takes at most 65,535 parameters in one).
_BUMP_BATCH = 1000


def bump_results_versions(test_ids: Iterable[int]) -> dict[int, int]:
    """One more on each of these tests' results versions (``ResultsVersion``); their new versions.

    One ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` (per 1,000 tests), its rows in test-id
    order, so two writes that move the same tests lock their rows in the same order. Only the grade
    service calls it, inside the write, after the test's lock.
    """
    ids = sorted(set(test_ids))
    table = connection.ops.quote_name(ResultsVersion._meta.db_table)
    versions: dict[int, int] = {}
    with connection.cursor() as cursor:
        for start in range(0, len(ids), _BUMP_BATCH):
            batch = ids[start : start + _BUMP_BATCH]
            rows = ", ".join(["(%s, 1)"] * len(batch))
            cursor.execute(
                f"INSERT INTO {table} (test_id, version) VALUES {rows} "  # noqa: S608
                f"ON CONFLICT (test_id) DO UPDATE SET version = {table}.version + 1 RETURNING test_id, version",
                batch,
            )
            versions.update(cursor.fetchall())
    return versions


def _lock_result(result: TestResult, expected_version: int | None = None) -> TestResult:
    """The result's row as it is now, locked until the transaction ends (two writers of it take turns).

    ``StaleResult`` when it was deleted, or is at another version than ``expected_version`` (if given).
    """
    current = (
        TestResult.objects.select_for_update()
        .filter(pk=result.pk)
        .only("score", "excused", "grader", "version", "late_deduction", "late_waived")
        .first()
    )
    if current is None:
        raise StaleResult("This result was deleted meanwhile.")
    if expected_version is not None and current.version != expected_version:
        raise StaleResult("This result was changed meanwhile.")
    return current


@dataclass
class UpsertOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # (index, field, message) for every bad item; when any, nothing was written.
    errors: list[tuple[int, str, str]] = field(default_factory=list)
    # The test's results version after the write (``results_upsert``).
    results_version: int = 0

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def results_upsert(
    *,
    test: Test,
    items: Sequence[tuple[int, Decimal | None]],
    by,
    via: str = Via.API,
    dry_run: bool = False,
    notify: bool = True,
    expected_results_versions: Collection[int] | None = None,
    waived: Mapping[int, bool] | None = None,
) -> UpsertOutcome:
    """Create or update many results of one test: all or nothing, in a constant number of queries.

    ``items`` are ``(student_id, score)`` pairs, each score as entered (the stored one less the late
    deduction, ``lateness``); a score of None excuses the student. ``waived`` sets ``late_waived`` by
    student (a student not in it keeps theirs; a new result is not waived). Through the CSV import, a
    cell equal to the stored score keeps the result as it is (the export read back). Every bad item
    is reported (its index, field and message) and then nothing is written. With ``dry_run`` the
    outcome is computed and nothing is written either. ``notify=False`` (demo and load-test data)
    tells no student. With ``expected_results_versions`` (a bulk ``If-Match``), the test's results
    version must be one of them (``PreconditionFailed`` otherwise, nothing written). The outcome
    carries the results version after the write: moved by one when anything changed.
    """
    with transaction.atomic():
        _lock_test(test)
        current = None
        if expected_results_versions is not None:
            current = _results_version(test)
            if current not in expected_results_versions:
                raise PreconditionFailed(
                    {
                        "detail": "The test's results changed since that version: read them again.",
                        "current": {"results_version": current},
                    }
                )
        outcome = _results_upsert(test=test, items=items, by=by, via=via, notify=notify, waived=waived)
        if outcome.errors or dry_run:
            transaction.set_rollback(True)
        elif not (outcome.created or outcome.updated):
            outcome.results_version = current if current is not None else _results_version(test)
    return outcome


def _results_version(test: Test) -> int:
    return Test.objects.filter(pk=test.pk).values_list(results_version(), flat=True).get()


def _results_upsert(*, test, items, by, via, notify, waived=None) -> UpsertOutcome:
    outcome = UpsertOutcome()
    waived = waived or {}
    student_ids = {student_id for student_id, _ in items}
    enrolled = _student_ids_enrolled(test, student_ids)
    seen: set[int] = set()
    for index, (student_id, score) in enumerate(items):
        if student_id in seen:
            outcome.errors.append((index, "student", "This student appears more than once."))
        elif student_id not in enrolled:
            outcome.errors.append((index, "student", "This user is not enrolled as a student in the test's course."))
        seen.add(student_id)
        problem = None if score is None else score_error(score, test.max_score)
        if problem:
            outcome.errors.append((index, "score", problem))
    if outcome.errors:
        return outcome

    existing = {
        r.student_id: r for r in TestResult.objects.select_for_update().filter(test=test, student_id__in=student_ids)
    }
    late = _late_seconds(test, student_ids)
    to_create: list[TestResult] = []
    to_update: list[TestResult] = []
    changes: list[GradeChange] = []
    for student_id, score in items:
        entered = None if score is None else score.quantize(_QUANTUM)
        current = existing.get(student_id)
        is_waived = waived.get(student_id, current.late_waived if current is not None else False)
        if (
            via == Via.IMPORT
            and current is not None
            and entered is not None
            and entered == current.score
            and student_id not in waived
        ):
            # A cell holding the stored score is the export read back: it changes nothing.
            entered = current.entered_score
        kept = _kept(test, entered, waived=is_waived, seconds_late=late.get(student_id, 0))
        if current is None:
            result = TestResult(test=test, student_id=student_id, grader_id=by.pk)
            _set_scores(result, entered, kept, is_waived)
            to_create.append(result)
        elif (current.entered_score, current.score, current.late_waived) == (entered, kept, is_waived):
            outcome.unchanged += 1
        else:
            if current.score != kept:
                changes.append(_history(current, Action.UPDATED, old=current.score, new=kept, by=by, via=via))
            _set_scores(current, entered, kept, is_waived)
            current.grader_id = by.pk
            current.version = bump()
            to_update.append(current)
    try:
        created = TestResult.objects.bulk_create(to_create, batch_size=1000)
    except IntegrityError:
        raise Conflict("Results for this test changed while saving; try again.") from None
    if to_update:
        now = timezone.now()
        for result in to_update:
            result.updated_at = result.graded_at = now
        TestResult.objects.bulk_update(
            to_update, [*_SCORE_FIELDS, "grader", "graded_at", "updated_at", "version"], batch_size=1000
        )
    changes.extend(_history(r, Action.CREATED, old=None, new=r.score, by=by, via=via) for r in created)
    GradeChange.objects.bulk_create(changes, batch_size=1000)
    if changes or to_update:
        outcome.results_version = bump_results_versions([test.pk])[test.pk]
    if notify:
        _tell_students(test, [r.student_id for r in created] + [r.student_id for r in to_update])
    outcome.created = len(created)
    outcome.updated = len(to_update)
    return outcome


def recompute_late(*, test: Test, student_ids: Iterable[int] | None = None, by=None) -> int:
    """One of the late deduction's inputs changed (an attempt, an extension, the course's
    ``late_policy`` or the test's own settings): bring the stored scores of the test's results (of
    these students; None: all) back to the rule, each change with its history line ``via:
    "policy"``. In the caller's transaction, after it locked the test (shared or exclusive). How
    many results changed. Three queries when none did (the results, how late, nothing else).
    """
    results = TestResult.objects.select_for_update().filter(test_id=test.pk, excused=False)
    if student_ids is not None:
        results = results.filter(student_id__in=list(student_ids))
    rows = list(results.only("student_id", "score", "late_deduction", "late_waived", "test_id"))
    if not rows:
        return 0
    late = _late_seconds(test, None if student_ids is None else [r.student_id for r in rows])
    changed: list[TestResult] = []
    changes: list[GradeChange] = []
    for result in rows:
        kept = _kept(test, result.entered_score, waived=result.late_waived, seconds_late=late.get(result.student_id, 0))
        if kept == result.score:
            continue
        changes.append(_history(result, Action.UPDATED, old=result.score, new=kept, by=by, via=Via.POLICY))
        _set_scores(result, result.entered_score, kept, result.late_waived)
        result.version = bump()
        result.updated_at = timezone.now()
        changed.append(result)
    if not changed:
        return 0
    TestResult.objects.bulk_update(changed, [*_SCORE_FIELDS, "updated_at", "version"], batch_size=1000)
    GradeChange.objects.bulk_create(changes, batch_size=1000)
    bump_results_versions([test.pk])
    _tell_students(test, [r.student_id for r in changed])
    return len(changed)


def after_late_policy_change(*, course: Course, by=None, **signal) -> None:
    """A course's ``late_policy`` changed (``courses.signals.late_policy_changed``): recompute the
    results of its online tests, each test locked exclusively, in id order."""
    for test in Test.objects.filter(course_id=course.pk, submission_type=SubmissionType.ONLINE).order_by("pk"):
        _lock_test(test)
        recompute_late(test=test, by=by)


def _check_category(category: GradeCategory | None, course_id: int) -> None:
    if category is not None and category.course_id != course_id:
        raise Invalid({"category": ["This category belongs to another course."]})


def test_create(
    *,
    course: Course,
    name: str,
    date,
    max_score: Decimal | None = None,
    category: GradeCategory | None = None,
    **fields,
) -> Test:
    """Add a test to a course (``max_score`` defaults to 100, ``category`` to the course's first)."""
    _check_category(category, course.pk)
    check_schedule(fields, fields)
    if max_score is not None:
        fields["max_score"] = max_score
    return Test.objects.create(course=course, name=name, date=date, category=category, **fields)


def max_recorded_score(test: Test) -> Decimal | None:
    """The highest score recorded as entered (a stored score is at most its entered one)."""
    return TestResult.objects.filter(test=test).aggregate(m=Max(F("score") + F("late_deduction")))["m"]


SCHEDULE = ("unlock_at", "due_at", "lock_at")


def check_schedule(times: Mapping, changes: Mapping) -> None:
    """Where set, ``unlock_at ≤ due_at ≤ lock_at`` (``times`` has each, or lacks it when unset);
    ``Invalid`` naming the field that breaks it: of two out of order, the later one when it is among
    ``changes``, else the earlier."""
    for index, earlier in enumerate(SCHEDULE):
        for later in SCHEDULE[index + 1 :]:
            a, b = times.get(earlier), times.get(later)
            if a is not None and b is not None and a > b:
                name = later if later in changes else earlier
                raise Invalid({name: [f"{earlier} must not be after {later}."]})


def _has_submissions(test: Test) -> bool:
    from grading.models import Submission

    return test.pk is not None and Submission.objects.filter(test_id=test.pk).exists()


BACK_TO_NONE = 'This test has submissions; its submission_type can\'t go back to "none".'


def check_settings(test: Test, changes: Mapping) -> None:
    """The rules of a test's submission settings, for ``changes`` to ``test`` as it is stored (a new
    test: an unsaved one). ``Invalid`` naming the field when ``unlock_at ≤ due_at ≤ lock_at`` breaks
    (``check_schedule``); ``Conflict`` when a test that has submissions would go back to "none"."""
    times = {name: changes.get(name, getattr(test, name)) for name in SCHEDULE}
    check_schedule(times, changes)
    if (
        changes.get("submission_type") == SubmissionType.NONE
        and test.submission_type != SubmissionType.NONE
        and _has_submissions(test)
    ):
        raise Conflict(BACK_TO_NONE)


@transaction.atomic
def test_update(*, test: Test, by=None, **changes) -> Test:
    """Change a test's fields (only those that differ are written: ``model_update``). ``max_score``
    can't go below a score already recorded; ``unlock_at ≤ due_at ≤ lock_at`` where set; an online
    test with submissions stays online. A change of what the late deduction reads (the type, the due
    time, the max score) recomputes the stored scores (``recompute_late``)."""
    locked = _lock_test(test)
    if "category" in changes:
        _check_category(changes["category"], test.course_id)
    new_max = changes.get("max_score")
    if new_max is not None and new_max < locked.max_score:
        highest = max_recorded_score(test)
        if highest is not None and new_max < highest:
            raise Invalid({"max_score": [f"A score of {highest:f} is already recorded; max_score can't be lower."]})
    check_settings(locked, changes)
    was_published = locked.results_published
    late_inputs = (locked.submission_type, locked.due_at, locked.max_score)
    model_update(instance=test, fields=changes, data=changes)
    test.course_late_policy = locked.course_late_policy
    if (test.submission_type, test.due_at, test.max_score) != late_inputs:
        recompute_late(test=test, by=by)
    if test.results_published and not was_published:
        notices.results_published(test)
        comments.results_published(test)
    elif was_published and not test.results_published:
        notices.results_hidden(test)
        comments.results_hidden(test)
    return test


def _tell_students(test: Test, student_ids: list[int]) -> None:
    """These students' results of ``test`` changed: if they can see them, a notice will tell them."""
    if test.results_published and student_ids:
        notices.results_changed(test, student_ids)


def results_delete(*, results, by, via: str = Via.API) -> int:
    """Delete these results, appending a "deleted" history line for each, and move their tests'
    results versions: five queries (the rows, their tests share-locked, the history, the delete,
    the versions) whatever their number; two when there are none.

    For deletions that take many results at once (a forced test or course deletion, a deleted
    account); the history lines outlive the results, the test and the student. The tests are
    locked first, in id order, as every grade write locks its test first.
    """
    rows = list(results.only("test_id", "student_id", "score"))
    test_ids = sorted({result.test_id for result in rows})
    if test_ids:
        _share_lock_tests(test_ids)
    GradeChange.objects.bulk_create(
        [_history(result, Action.DELETED, old=result.score, new=None, by=by, via=via) for result in rows],
        batch_size=1000,
    )
    results.delete()
    if test_ids:
        bump_results_versions(test_ids)
    return len(rows)


@transaction.atomic
def test_delete(*, test: Test, force: bool = False, by=None, via: str = Via.API) -> None:
    """Delete a test. With results recorded, only when forced: they are deleted too, and their history kept.
    Its uploads go with it; their objects are deleted by the worker after the commit."""
    from grading import uploads
    from grading.models import Upload

    _lock_test(test)
    results = TestResult.objects.filter(test=test)
    if results.exists():
        if not force:
            raise Conflict("This test has recorded results; pass ?force=true to delete it with them.")
        results_delete(results=results, by=by, via=via)
    uploads.delete_after_commit(Upload.objects.filter(test_id=test.pk))
    test.delete()


def before_course_delete(*, course: Course, force: bool, by=None, via: str = Via.API, **signal) -> None:
    """A course is being deleted (``courses.signals.course_deleting``): with results recorded in it,
    refuse unless forced, as for a test; when forced, delete them, writing their history. Its uploads
    go with its tests; their objects are deleted by the worker after the commit."""
    from grading import uploads
    from grading.models import Upload

    results = TestResult.objects.filter(test__course=course)
    if results.exists():
        if not force:
            raise Conflict("This course has recorded results; pass ?force=true to delete it with them.")
        results_delete(results=results, by=by, via=via)
    uploads.delete_after_commit(Upload.objects.filter(test__course_id=course.pk))


def before_user_delete(*, user, by=None, via: str = Via.API, **signal) -> None:
    """An account is being deleted (``accounts.signals.user_deleting``): its results as a student go
    with it, each leaving a "deleted" history line; its uploads go too, their objects by the worker."""
    from grading import uploads
    from grading.models import Upload

    results_delete(results=TestResult.objects.filter(student_id=user.pk), by=by, via=via)
    uploads.delete_after_commit(Upload.objects.filter(student_id=user.pk))


# Grade categories ---------------------------------------------------------------------------------


def after_course_save(*, instance: Course, created: bool, raw: bool = False, **signal) -> None:
    """A new course gets its first grade category, "Tests", weighing 100 (``post_save`` of ``Course``)."""
    if created and not raw:
        GradeCategory.objects.create(course=instance, name=DEFAULT_CATEGORY, weight=Decimal(100), position=0)


TOO_MANY_CATEGORIES = f"A course has at most {CATEGORIES_PER_COURSE} grade categories; delete one first."


@transaction.atomic
def category_create(*, course: Course, name: str, **fields) -> GradeCategory:
    """Add a category to a course; without a ``position`` it goes after the others (at most
    ``CATEGORY_MAX_POSITION``: there, after those of equal position by id).

    ``Invalid`` when the course has ``CATEGORIES_PER_COURSE`` already. The course's row is locked
    first, so creates for one course count one after another and never pass the cap together
    (``FOR NO KEY UPDATE``: rows that merely refer to the course, its new tests or enrollments, are
    not held up by it).
    """
    list(Course.objects.select_for_update(no_key=True).filter(pk=course.pk).values_list("pk"))
    siblings = GradeCategory.objects.filter(course=course).aggregate(count=Count("pk"), last=Max("position"))
    if siblings["count"] >= CATEGORIES_PER_COURSE:
        raise Invalid(TOO_MANY_CATEGORIES)
    if fields.get("position") is None:
        last = siblings["last"]
        fields["position"] = 0 if last is None else min(last + 1, CATEGORY_MAX_POSITION)
    return GradeCategory.objects.create(course=course, name=name, **fields)


@transaction.atomic
def category_update(*, category: GradeCategory, **changes) -> GradeCategory:
    """Change a category's fields; only those that differ are written (``model_update``)."""
    model_update(instance=category, fields=changes, data=changes)
    return category


@transaction.atomic
def category_delete(*, category: GradeCategory) -> None:
    """Delete a category. ``Conflict`` while it holds tests, or when it is the course's last one."""
    siblings = list(
        GradeCategory.objects.select_for_update().filter(course_id=category.course_id).values_list("pk", flat=True)
    )
    if siblings == [category.pk]:
        raise Conflict("A course keeps at least one grade category; add another one first.")
    if Test.objects.filter(category_id=category.pk).exists():
        raise Conflict("This category holds tests; move them to another category first.")
    category.delete()
