"""Submissions and extensions: students hand in attempts; teachers give one student more time or attempts.

The rules (the README's "Submissions" lists them for API clients too):

- A student submits to an ``online`` test, not before its ``unlock_at``, not after their effective
  ``lock_at``, while they have attempts left (``allowed_attempts + extra_attempts``; null:
  unlimited); each refusal is a ``Conflict`` saying which rule, with nothing written.
- ``attempt`` counts from 1 per test and student. Submitting locks the student's enrollment in the
  course (``FOR NO KEY UPDATE``) after share-locking the test, then counts the attempts: two
  submissions of one student at once take turns, so they never share a number or pass the limit;
  different students submit side by side. An extension's write takes the same locks.
- A new attempt, and an extension granted, changed or removed, recompute the student's stored score
  (``grading.services.recompute_late``) in the same transaction.

Writes that change a score go through ``grading.services``; this module keeps the attempts and the
extensions, and the reads of submissions.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import (
    BigIntegerField,
    BooleanField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Floor, Greatest
from django.utils import timezone

from courses.models import Course, Enrollment, Role
from grading import lateness, services
from grading.models import Extension, Submission, SubmissionType, Test, TestResult
from gradingsite.errors import Conflict, Invalid

BODY_MAX = 100_000
_LATE_POLICY = Course._meta.get_field("late_policy")
_ALLOWED_EXTENSIONS = Test._meta.get_field("allowed_extensions")


def _q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _lock_student(test: Test, student_id: int) -> bool:
    """Share-lock the test, then lock the student's enrollment in its course (``FOR NO KEY UPDATE``):
    one statement. One student's submissions and extension writes on a course take turns. False
    when the user is not a student of the course (or the test is gone)."""
    sql = (
        f"WITH t AS (SELECT id, course_id FROM {_q(Test)} WHERE id = %s FOR SHARE) "  # noqa: S608
        f"SELECT e.id FROM {_q(Enrollment)} e JOIN t ON e.course_id = t.course_id "
        "WHERE e.user_id = %s AND e.role = %s FOR NO KEY UPDATE OF e"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [test.pk, student_id, Role.STUDENT.value])
        return cursor.fetchone() is not None


class Window:
    """A student's effective settings on a test (``student_window``; for a write, read after ``_lock_student``)."""

    def __init__(self, row):
        (
            self.submission_type,
            self.unlock_at,
            self.due_at,
            self.lock_at,
            self.allowed_attempts,
            self.extra_attempts,
            self.attempts_used,
            self.max_score,
            self.results_published,
            policy,
            self.max_files,
            extensions,
            self.has_extension,
        ) = row
        self.late_policy = _LATE_POLICY.from_db_value(policy, None, connection)
        self.allowed_extensions = _ALLOWED_EXTENSIONS.from_db_value(extensions, None, connection)

    @property
    def attempts(self) -> int | None:
        """The attempts the student may use in all; None: unlimited."""
        return None if self.allowed_attempts is None else self.allowed_attempts + self.extra_attempts

    def seconds_late(self, submitted_at: datetime) -> int:
        if self.due_at is None:
            return 0
        return max(0, int((submitted_at - self.due_at).total_seconds() // 1))

    def onto(self, test: Test) -> Test:
        """Give ``test`` what the grade service reads from its lock (``services.recompute_late``)."""
        test.submission_type = self.submission_type
        test.max_score = self.max_score
        test.results_published = self.results_published
        test.course_late_policy = self.late_policy
        return test


def student_window(test: Test, student_id: int) -> Window:
    """The student's effective times and attempts on the test, and the attempts they used: one query."""
    sql = f"""
        SELECT t.submission_type, t.unlock_at, COALESCE(x.due_at, t.due_at), COALESCE(x.lock_at, t.lock_at),
               t.allowed_attempts, COALESCE(x.extra_attempts, 0),
               (SELECT COALESCE(MAX(s.attempt), 0) FROM {_q(Submission)} s
                WHERE s.test_id = t.id AND s.student_id = %(student)s),
               t.max_score, t.results_published, c.late_policy, t.max_files, t.allowed_extensions,
               x.id IS NOT NULL
        FROM {_q(Test)} t JOIN {_q(Course)} c ON c.id = t.course_id
        LEFT JOIN {_q(Extension)} x ON x.test_id = t.id AND x.student_id = %(student)s
        WHERE t.id = %(test)s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {"student": student_id, "test": test.pk})
        return Window(cursor.fetchone())


NOT_ONLINE = 'This test takes no submissions: its submission_type is "none".'


def open_for(test: Test, student_id: int) -> tuple[Window, datetime]:
    """The student's window on the test, and the time now, once the student may hand in work now: the
    rules of submitting, which asking for an upload follows too. Inside a transaction: locks as
    ``_lock_student``. ``Conflict`` naming the rule when the test is not online, not open yet, locked
    for the student, or their attempts are used."""
    if not _lock_student(test, student_id):
        raise Conflict("Only a student of this course submits to its tests.")
    window = student_window(test, student_id)
    now = timezone.now()
    if window.submission_type != SubmissionType.ONLINE:
        raise Conflict(NOT_ONLINE)
    if window.unlock_at is not None and now < window.unlock_at:
        raise Conflict(f"Submissions open at {_iso(window.unlock_at)} (unlock_at).")
    if window.lock_at is not None and now > window.lock_at:
        raise Conflict(f"Submissions closed at {_iso(window.lock_at)} (lock_at).")
    if window.attempts is not None and window.attempts_used >= window.attempts:
        raise Conflict(f"All {window.attempts} attempts allowed are used (allowed_attempts).")
    return window, now


@transaction.atomic
def submit(*, test: Test, student, body: str, attach=None) -> Submission:
    """Hand in the student's next attempt (the caller checked that they are a student of the course
    and the body: 1 to ``BODY_MAX`` characters after trimming, or empty with files). ``Conflict``
    naming the rule when the test is not online, not open yet, locked for the student, or their
    attempts are used. ``attach(window, submission)``, when given, attaches the submission's files
    (``grading.uploads``) in the same transaction, before the stored score follows."""
    window, now = open_for(test, student.pk)
    submission = Submission.objects.create(
        test=test, student_id=student.pk, attempt=window.attempts_used + 1, submitted_at=now, body=body
    )
    if attach is not None:
        attach(window, submission)
    submission.seconds_late = window.seconds_late(now)
    submission.late = submission.seconds_late > 0
    if lateness.applies(submission_type=window.submission_type, policy=window.late_policy):
        services.recompute_late(test=window.onto(test), student_ids=[student.pk], by=student)
    return submission


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Extensions.


@transaction.atomic
def extension_set(*, test: Test, student_id: int, by, due_at=None, lock_at=None, extra_attempts: int = 0) -> Extension:
    """Give the student their own due and lock times (null: the test's) and extra attempts, replacing
    any earlier extension; their stored score follows. ``Invalid`` when they are not a student of the
    course, or the times are out of order against the test's ``unlock_at`` and each other (the
    student's effective times: ``unlock_at ≤ due_at ≤ lock_at`` where set)."""
    if not _lock_student(test, student_id):
        raise Invalid("This user is not enrolled as a student in the test's course.")
    current = Test.objects.filter(pk=test.pk).values("unlock_at", "due_at", "lock_at").get()
    given = {"due_at": due_at, "lock_at": lock_at}
    effective = {
        "unlock_at": current["unlock_at"],
        "due_at": due_at if due_at is not None else current["due_at"],
        "lock_at": lock_at if lock_at is not None else current["lock_at"],
    }
    services.check_schedule(effective, {name for name, value in given.items() if value is not None})
    extension, _ = Extension.objects.update_or_create(
        test_id=test.pk,
        student_id=student_id,
        defaults={"due_at": due_at, "lock_at": lock_at, "extra_attempts": extra_attempts},
    )
    _recompute(test, student_id, by)
    return extension


@transaction.atomic
def extension_delete(*, test: Test, student_id: int, by) -> bool:
    """Remove the student's extension (their times and attempts are the test's again); their stored
    score follows. False when there was none."""
    _lock_student(test, student_id)
    deleted, _ = Extension.objects.filter(test_id=test.pk, student_id=student_id).delete()
    if deleted:
        _recompute(test, student_id, by)
    return bool(deleted)


def _recompute(test: Test, student_id: int, by) -> None:
    window = student_window(test, student_id)
    if lateness.applies(submission_type=window.submission_type, policy=window.late_policy):
        services.recompute_late(test=window.onto(test), student_ids=[student_id], by=by)


# Reads.


def seconds_late_column():
    """A submission's ``seconds_late`` now (``lateness.seconds_late_sql``'s rule, as an expression):
    whole seconds past the student's effective due time, 0 without one (``GREATEST`` skips a null)."""
    # One extension per student and test (a unique constraint): no ordering to sort by.
    extension_due = (
        Extension.objects.filter(test_id=OuterRef("test_id"), student_id=OuterRef("student_id"))
        .order_by()
        .values("due_at")[:1]
    )
    due = Coalesce(Subquery(extension_due), F("test__due_at"))
    elapsed = ExpressionWrapper(F("submitted_at") - due, output_field=DurationField())
    seconds = Floor(Func(elapsed, template="EXTRACT(EPOCH FROM %(expressions)s)", output_field=FloatField()))
    return Greatest(Value(0), Cast(seconds, BigIntegerField()), output_field=BigIntegerField())


def with_lateness(queryset):
    """Submissions with ``seconds_late`` and ``late`` as they are now."""
    return queryset.annotate(seconds_late=seconds_late_column()).annotate(
        late=ExpressionWrapper(Q(seconds_late__gt=0), output_field=BooleanField())
    )


def latest_only(queryset):
    """Each student's latest attempt only."""
    newer = Submission.objects.filter(
        test_id=OuterRef("test_id"), student_id=OuterRef("student_id"), attempt__gt=OuterRef("attempt")
    )
    return queryset.filter(~Exists(newer))


def graded_filter(graded: bool):
    """Graded: the student's result (or its excuse) was written at or after the attempt's ``submitted_at``."""
    written = Exists(
        TestResult.objects.filter(
            test_id=OuterRef("test_id"), student_id=OuterRef("student_id"), graded_at__gte=OuterRef("submitted_at")
        )
    )
    return written if graded else ~written


def grading_queue(test: Test):
    """The test's grading queue as a teacher works through it: each student's latest attempt that is
    not graded yet (``?latest=true&graded=false``), of the students the course has now (a student who
    left can't be graded), first handed in first (``submitted_at``, then id)."""
    students = Enrollment.objects.filter(course_id=test.course_id, role=Role.STUDENT, user_id=OuterRef("student_id"))
    queue = latest_only(Submission.objects.filter(test_id=test.pk)).filter(graded_filter(False), Exists(students))
    return queue.order_by("submitted_at", "id")
