"""Course grades: every student's current and final percent, letter, and what was dropped or is missing.

The rules (the README's "Course grades" lists them for API clients too):

- A result **counts** unless it is excused; for a student reading their own grade, only results of
  tests whose results are published count (and only those tests exist for them).
- A test is **due** once its date is before today in the course's time zone. A student with no
  result (and not excused) on a due test whose results are published is **missing** it.
- **current** ignores tests with no result; **final** counts every missing test as 0 of its max score.
- **Drops**, per student and category, after excusing: the ``drop_lowest`` results with the lowest
  percent, then the ``drop_highest`` with the highest among the rest; ties go to the earlier date,
  then the lower test id; a ``never_drop`` test is never dropped, and at least one result is kept.
  Drops are chosen separately for current and final (a missing 0 is the lowest of all).
- A **category percent** is the sum of its kept scores over the sum of their max scores, times 100.
- The **course percent**: with ``weighting="points"``, the same over every kept result of every
  category; with ``"categories"``, the mean of the category percents that have a kept result,
  weighted by their weights re-normalised over those categories (null when those weights are all 0).
- The **letter**: the first row of the course's scheme whose ``min_percent`` is at most the course
  percent rounded to 2 decimals (``letter`` from the current percent, ``final_letter`` from the
  final one); null without a scheme or a percent.
- Percents are rounded half up to 2 decimals only when shown, and null where nothing counts; the
  course percent is computed from the exact category fractions, not from their rounded values.

The database does the work that grows with the course: it pairs students with tests, finds missing
results, ranks and drops, and sums kept points in integer hundredths, in one statement (the same SQL
on PostgreSQL and SQLite). Python then combines a few exact integers per student and category.
Queries per call: the categories, the students, that statement — three, whatever the course's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

from django.db import connections, router

from accounts.models import User
from courses.models import Course, Enrollment, Role, Weighting
from grading.models import GradeCategory, Test, TestResult

STUDENT_ORDER = ("last_name", "first_name", "email")
# mode 0: the current grade's items; mode 1: the final grade's (missing results count 0).
CURRENT, FINAL = 0, 1


def course_today(course: Course, now: datetime | None = None) -> date:
    """Today's date in the course's time zone: a test dated before it is due."""
    now = now or datetime.now(tz=ZoneInfo("UTC"))
    return now.astimezone(ZoneInfo(course.time_zone)).date()


def round_percent(value: Fraction | None) -> Decimal | None:
    """Half up to 2 decimals, exactly (no float or decimal rounding on the way)."""
    if value is None:
        return None
    hundredths = math.floor(value * 100 + Fraction(1, 2))
    return Decimal(hundredths).scaleb(-2)


def letter_for(percent: Decimal | None, scheme: list[dict] | None) -> str | None:
    if percent is None or not scheme:
        return None
    for row in scheme:
        if Decimal(str(row["min_percent"])) <= percent:
            return row["letter"]
    return None


def _q(connection, model, column: str | None = None) -> str:
    name = connection.ops.quote_name(model._meta.db_table)
    return name if column is None else f"{name}.{connection.ops.quote_name(column)}"


def _statement(connection, *, one_student: bool, published_only: bool) -> str:
    """The per (mode, student, category) sums and drops. Parameters: course, [student], course, today."""
    postgres = connection.vendor == "postgresql"
    least = "LEAST" if postgres else "MIN"
    ids = "string_agg(CAST({} AS TEXT), ',')" if postgres else "group_concat({}, ',')"
    enrollment, test, result, category = (
        _q(connection, Enrollment),
        _q(connection, Test),
        _q(connection, TestResult),
        _q(connection, GradeCategory),
    )
    student_filter = "AND e.user_id = %s" if one_student else ""
    published_filter = "AND t.results_published" if published_only else ""
    dropped_ids = ids.format("CASE WHEN x.dropped = 1 THEN x.test_id END")
    missing_ids = ids.format("CASE WHEN x.mode = 1 AND x.missing = 1 THEN x.test_id END")
    # Only table names and fixed fragments are formatted in; every value is a parameter.
    return f"""
WITH students AS (
    SELECT e.user_id AS student_id FROM {enrollment} e
    WHERE e.course_id = %s AND e.role = '{Role.STUDENT.value}' {student_filter}
), cells AS (
    SELECT s.student_id, t.id AS test_id, t.category_id, t.date, t.never_drop,
           CAST(ROUND(t.max_score * 100) AS BIGINT) AS max_cents,
           CAST(ROUND(r.score * 100) AS BIGINT) AS score_cents,
           CASE WHEN r.id IS NULL AND t.results_published AND t.date < %s THEN 1 ELSE 0 END AS missing
    FROM students s
    CROSS JOIN {test} t
    LEFT JOIN {result} r ON r.test_id = t.id AND r.student_id = s.student_id
    WHERE t.course_id = %s {published_filter} AND (r.id IS NULL OR NOT r.excused)
), items AS (
    SELECT 0 AS mode, student_id, test_id, category_id, date, never_drop, max_cents, score_cents, missing
    FROM cells WHERE score_cents IS NOT NULL
    UNION ALL
    SELECT 1, student_id, test_id, category_id, date, never_drop, max_cents, COALESCE(score_cents, 0), missing
    FROM cells WHERE score_cents IS NOT NULL OR missing = 1
), ranked AS (
    SELECT i.*, c.drop_lowest, c.drop_highest,
           CAST(i.score_cents AS DOUBLE PRECISION) / i.max_cents AS pct,
           COUNT(*) OVER (PARTITION BY i.mode, i.student_id, i.category_id) AS n,
           SUM(CASE WHEN i.never_drop THEN 0 ELSE 1 END)
               OVER (PARTITION BY i.mode, i.student_id, i.category_id) AS droppable,
           ROW_NUMBER() OVER (
               PARTITION BY i.mode, i.student_id, i.category_id, i.never_drop
               ORDER BY CAST(i.score_cents AS DOUBLE PRECISION) / i.max_cents, i.date, i.test_id
           ) AS low_rank
    FROM items i JOIN {category} c ON c.id = i.category_id
), low AS (
    SELECT r.*, {least}(r.drop_lowest, r.droppable, r.n - 1) AS low_count FROM ranked r
), marked AS (
    SELECT l.*,
           CASE WHEN NOT l.never_drop AND l.low_rank <= l.low_count THEN 1 ELSE 0 END AS dropped_low,
           {least}(l.drop_highest, l.droppable - l.low_count, l.n - l.low_count - 1) AS high_count
    FROM low l
), high AS (
    SELECT m.*,
           ROW_NUMBER() OVER (
               PARTITION BY m.mode, m.student_id, m.category_id, m.never_drop, m.dropped_low
               ORDER BY m.pct DESC, m.date, m.test_id
           ) AS high_rank
    FROM marked m
), x AS (
    SELECT h.mode, h.student_id, h.category_id, h.test_id, h.score_cents, h.max_cents, h.missing,
           CASE WHEN h.dropped_low = 1 OR (NOT h.never_drop AND h.high_rank <= h.high_count) THEN 1 ELSE 0 END
               AS dropped
    FROM high h
)
SELECT x.mode, x.student_id, x.category_id,
       SUM(CASE WHEN x.dropped = 0 THEN x.score_cents ELSE 0 END),
       SUM(CASE WHEN x.dropped = 0 THEN x.max_cents ELSE 0 END),
       {dropped_ids},
       {missing_ids}
FROM x
GROUP BY x.mode, x.student_id, x.category_id
"""  # noqa: S608


def _id_list(text: str | None) -> list[int]:
    return sorted(int(part) for part in text.split(",")) if text else []


@dataclass
class _Sums:
    score: int = 0  # kept points, in hundredths
    max: int = 0
    dropped: list[int] | None = None


def course_grades(
    course: Course,
    *,
    student_id: int | None = None,
    published_only: bool = False,
    today: date | None = None,
    students: list[dict] | None = None,
) -> list[dict]:
    """Every student's grade in ``course`` (or only ``student_id``'s), students by last name, first name, email.

    ``published_only``: count only tests whose results are published (what a student sees of their
    own grade). Each row: ``{student, current_percent, final_percent, letter, final_letter, missing,
    categories: [{id, name, weight, current_percent, final_percent, dropped, final_dropped}]}``.
    ``students``: the course's students as ``{id, email, first_name, last_name}`` dicts, when the
    caller has read them already (one query less).
    """
    alias = router.db_for_read(TestResult)
    connection = connections[alias]
    today = today or course_today(course)
    categories = list(GradeCategory.objects.using(alias).filter(course_id=course.pk).order_by("position", "id"))
    if students is None:
        students = User.objects.using(alias).filter(enrollments__course_id=course.pk, enrollments__role=Role.STUDENT)
        if student_id is not None:
            students = students.filter(pk=student_id)
        students = list(students.order_by(*STUDENT_ORDER).values("id", "email", "first_name", "last_name"))
    if not students:
        return []

    params: list = [course.pk]
    if student_id is not None:
        params.append(student_id)
    params += [today, course.pk]
    sums: dict[tuple[int, int, int], _Sums] = {}
    missing: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _statement(connection, one_student=student_id is not None, published_only=published_only), params
        )
        for mode, sid, category_id, kept_score, kept_max, dropped, missed in cursor.fetchall():
            sums[mode, sid, category_id] = _Sums(int(kept_score), int(kept_max), _id_list(dropped))
            if missed:
                missing.setdefault(sid, []).extend(_id_list(missed))

    weighting, scheme = course.weighting, course.grading_scheme
    rows = []
    for student in students:
        sid = student["id"]
        modes = [[sums.get((mode, sid, c.pk)) for c in categories] for mode in (CURRENT, FINAL)]
        current, final = (_course_percent(weighting, categories, per_category) for per_category in modes)
        rows.append(
            {
                "student": student,
                "current_percent": round_percent(current),
                "final_percent": round_percent(final),
                "letter": letter_for(round_percent(current), scheme),
                "final_letter": letter_for(round_percent(final), scheme),
                "missing": sorted(missing.get(sid, [])),
                "categories": [
                    {
                        "id": category.pk,
                        "name": category.name,
                        "weight": category.weight,
                        "current_percent": round_percent(_percent(now)),
                        "final_percent": round_percent(_percent(end)),
                        "dropped": now.dropped if now else [],
                        "final_dropped": end.dropped if end else [],
                    }
                    for category, now, end in zip(categories, modes[CURRENT], modes[FINAL], strict=True)
                ],
            }
        )
    return rows


def _percent(sums: _Sums | None) -> Fraction | None:
    if sums is None or sums.max == 0:
        return None
    return Fraction(sums.score * 100, sums.max)


def _course_percent(
    weighting: str, categories: list[GradeCategory], per_category: list[_Sums | None]
) -> Fraction | None:
    kept = [(c, s) for c, s in zip(categories, per_category, strict=True) if s is not None and s.max > 0]
    if not kept:
        return None
    if weighting == Weighting.CATEGORIES:
        total_weight = sum(Fraction(c.weight) for c, _ in kept)
        if total_weight == 0:
            return None
        return sum(Fraction(c.weight) * _percent(s) for c, s in kept) / total_weight
    return Fraction(sum(s.score for _, s in kept) * 100, sum(s.max for _, s in kept))


def letter_distribution(rows: list[dict], scheme: list[dict] | None) -> list[dict]:
    """How many students have each letter of the scheme (current grade), in the scheme's order,
    and how many have none yet (``letter`` null)."""
    counts: dict[str | None, int] = {row["letter"]: 0 for row in scheme or []}
    counts[None] = 0
    for row in rows:
        counts[row["letter"]] = counts.get(row["letter"], 0) + 1
    return [{"letter": letter, "count": count} for letter, count in counts.items()]
