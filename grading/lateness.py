"""Late work: how late a student's attempt is, and what the course's late policy takes off a score.

The rules, in one place (the README's "Submissions" lists them for API clients too):

- A student's **effective** due and lock times are their extension's where it sets one, else the
  test's; their attempts are ``allowed_attempts + extra_attempts`` (null stays unlimited).
- ``seconds_late`` of an attempt: whole seconds from the student's effective ``due_at`` to its
  ``submitted_at`` (0 without a due time, never negative), computed when read, so an extension
  granted afterwards makes the attempt on time.
- The stored score of a result on an ``online`` test is ``late_score`` of the score the teacher
  entered, for the student's latest attempt, unless the result is ``late_waived`` (or the course has
  no ``late_policy``, or the test is not online): then it is the entered score.

The grade service (``grading.services``) applies it on every write and recomputes it whenever one of
its inputs changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection

from grading.models import SCORE_PLACES, Extension, Submission, SubmissionType, Test

_QUANTUM = Decimal(1).scaleb(-SCORE_PLACES)
INTERVAL_SECONDS = {"hour": 3600, "day": 86400}


def late_score(*, entered: Decimal, max_score: Decimal, seconds_late: int, policy: dict | None) -> Decimal:
    """The score kept of ``entered`` for work ``seconds_late`` late under ``policy`` (a course's
    ``late_policy``; None: no deduction), rounded half up to 2 decimals.

    ``intervals = ceil(seconds_late / interval)``; ``deduction = max_score * min(1, intervals *
    deduction_percent / 100)``; ``floor = max_score * minimum_percent / 100``; the score is the entered
    one when it is at most the floor, else ``max(floor, entered - deduction)``.
    """
    if policy is None or seconds_late <= 0:
        return entered
    intervals = math.ceil(seconds_late / INTERVAL_SECONDS[policy["interval"]])
    percent = Decimal(str(policy["deduction_percent"]))
    deduction = max_score * min(Decimal(1), intervals * percent / 100)
    floor = max_score * Decimal(str(policy["minimum_percent"])) / 100
    if entered <= floor:
        return entered
    return max(floor, entered - deduction).quantize(_QUANTUM, rounding=ROUND_HALF_UP)


def late_score_sql(*, entered: str, max_score: str, seconds_late: str, policy: str) -> str:
    """``late_score`` as SQL, for a write that computes the stored score in the statement itself:
    each argument SQL for that value (``policy`` a course's ``late_policy`` column, jsonb). The same
    exact arithmetic in ``numeric`` (the percents have at most 2 decimals; ``ROUND`` is half away
    from zero, half up for these non-negative scores); ``tests/test_late_deduction.py`` checks it
    against ``late_score``."""
    interval = " ".join(f"WHEN '{name}' THEN {seconds}" for name, seconds in INTERVAL_SECONDS.items())
    floor = f"({max_score} * ({policy} ->> 'minimum_percent')::numeric / 100)"
    intervals = f"CEIL({seconds_late}::numeric / (CASE {policy} ->> 'interval' {interval} END))"
    fraction = f"LEAST(1, {intervals} * ({policy} ->> 'deduction_percent')::numeric / 100)"
    return (
        f"CASE WHEN {entered} IS NULL OR {policy} IS NULL OR jsonb_typeof({policy}) = 'null' "
        f"OR {seconds_late} <= 0 OR {entered} <= {floor} THEN {entered} "
        f"ELSE ROUND(GREATEST({floor}, {entered} - {max_score} * {fraction}), 2) END"
    )


def applies_sql(*, submission_type: str, policy: str) -> str:
    """``applies`` as SQL: ``submission_type`` and ``policy`` SQL for a test's type and its
    course's ``late_policy`` (jsonb)."""
    return (
        f"({submission_type} = '{SubmissionType.ONLINE.value}' AND {policy} IS NOT NULL "
        f"AND jsonb_typeof({policy}) <> 'null')"
    )


def seconds_late_sql(*, submitted_at: str, test: str, extension: str) -> str:
    """SQL for an attempt's ``seconds_late``: ``submitted_at`` SQL for its time, ``test`` and
    ``extension`` the aliases of its test's row and of the student's extension (outer-joined)."""
    due = f"COALESCE({extension}.due_at, {test}.due_at)"
    return f"COALESCE(GREATEST(0, FLOOR(EXTRACT(EPOCH FROM ({submitted_at} - {due}))))::bigint, 0)"


def _q(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def latest_seconds_late_sql(*, test: str, student: str) -> str:
    """SQL for how late one student's latest attempt on a test is now (0 without an attempt), as
    ``latest_seconds_late`` gives it: ``test`` the alias of the test's row (in scope), ``student``
    SQL for the student's id."""
    late = seconds_late_sql(submitted_at="s.submitted_at", test=test, extension="x")
    return (
        f"COALESCE((SELECT {late} FROM {_q(Submission)} s "  # noqa: S608
        f"LEFT JOIN {_q(Extension)} x ON x.test_id = s.test_id AND x.student_id = s.student_id "
        f"WHERE s.test_id = {test}.id AND s.student_id = {student} ORDER BY s.attempt DESC LIMIT 1), 0)"
    )


def latest_seconds_late(test_id: int, student_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Each student's latest attempt on the test: how many seconds late it is now (students
    without an attempt are absent). One query; ``student_ids`` None: every student."""
    student_filter, params = "", [test_id]
    if student_ids is not None:
        student_filter = " AND student_id = ANY(%s)"
        params.append(sorted(set(student_ids)))
    params.append(test_id)
    late = seconds_late_sql(submitted_at="s.submitted_at", test="t", extension="x")
    sql = f"""
        SELECT s.student_id, {late}
        FROM (SELECT DISTINCT ON (student_id) student_id, submitted_at FROM {_q(Submission)}
              WHERE test_id = %s{student_filter} ORDER BY student_id, attempt DESC) s
        JOIN {_q(Test)} t ON t.id = %s
        LEFT JOIN {_q(Extension)} x ON x.test_id = t.id AND x.student_id = s.student_id
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {student_id: int(seconds) for student_id, seconds in cursor.fetchall()}


def applies(*, submission_type: str, policy: dict | None) -> bool:
    """Whether any result of a test of this type, in a course with this policy, can lose points."""
    return submission_type == SubmissionType.ONLINE and policy is not None
