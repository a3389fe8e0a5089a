"""Read-only reports over grades: a test's statistics and a course's gradebook.

Selectors: they read, never write. Statistics are computed by the database (aggregates over each
result's ``percent``); the gradebook is built in a fixed number of queries whatever the course size.

Statistics describe the ``percent`` a client sees on each result (100 · score / max_score rounded
to one decimal), so they agree with what the API shows:

- ``mean``, ``median``, ``min``, ``max`` of those percents, ``count`` of results with a score;
  excused results are in no statistic, and ``excused`` counts them;
- ``stddev`` is the **population** standard deviation (PostgreSQL's ``stddev_pop``, Python's
  ``statistics.pstdev``): a test's results are the whole class, not a sample drawn from a larger
  one, and it is defined (0) for a single result;
- ``median`` is PostgreSQL's ``percentile_cont(0.5)`` (the mean of the two middle values when
  the count is even, as ``statistics.median``);
- ``histogram``: 10 buckets of 10 points, ``[from, to)`` except the last, which is closed
  (90-100), so a percent of exactly 10 counts in 10-20 and 100 in 90-100.

With no results every statistic is null, ``count`` is 0 and every bucket is empty. Values are
not rounded: ``min``, ``max`` and ``median`` come out with at most two decimals anyway, and a
client rounds ``mean`` and ``stddev`` for display as it likes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Aggregate, Avg, Count, F, FloatField, Max, Min, Q, StdDev, Value
from django.db.models.functions import Round
from django.db.models.lookups import GreaterThanOrEqual, LessThan, LessThanOrEqual

from accounts.models import User
from accounts.serializers import USER_SUMMARY
from courses.models import Course, Role
from grading import grades, serializers, submissions
from grading.models import Submission, Test, TestResult

BUCKETS = 10


class Median(Aggregate):
    """``percentile_cont(0.5) WITHIN GROUP (ORDER BY …)``: PostgreSQL's continuous median."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()
    allow_distinct = False


def percent_expression(max_score: Decimal | None = None):
    """A result's percent in SQL, rounded to one decimal as ``percent_of`` rounds it.

    With ``max_score`` given (one test), no join to the test is needed.
    """
    denominator = Value(max_score) if max_score is not None else F("test__max_score")
    return Round(F("score") * 100 / denominator, 1)


def _bucket_filters(p) -> list:
    filters = [GreaterThanOrEqual(p, 10 * i) & LessThan(p, 10 * (i + 1)) for i in range(BUCKETS - 1)]
    filters.append(GreaterThanOrEqual(p, 10 * (BUCKETS - 1)) & LessThanOrEqual(p, 100))
    return filters


def _aggregates(p) -> dict:
    """The statistics over the percent expression ``p``, by ``StatsSerializer``'s keys, each as the API
    shows it (the counts integers, the rest floats or null)."""
    return {
        "count": Count("score"),
        "excused": Count("id", filter=Q(excused=True)),
        "mean": Avg(p, output_field=FloatField()),
        "min": Min(p, output_field=FloatField()),
        "max": Max(p, output_field=FloatField()),
        "stddev": StdDev(p, sample=False, output_field=FloatField()),
        "median": Median(p),
    }


def test_stats(test: Test) -> dict:
    """``{test, count, mean, median, min, max, stddev, histogram}`` over the test's percents.

    One query. ``stddev`` is the population standard deviation.
    """
    p = percent_expression(test.max_score)
    buckets = {f"bucket_{i}": Count("id", filter=bucket) for i, bucket in enumerate(_bucket_filters(p))}
    row = TestResult.objects.filter(test_id=test.pk).aggregate(**_aggregates(p), **buckets)
    bucket = serializers.BucketSerializer.build
    histogram = [bucket(from_=10 * i, to=10 * (i + 1), count=row.pop(f"bucket_{i}")) for i in range(BUCKETS)]
    return serializers.TestStatsSerializer.build(test=test.pk, histogram=histogram, **row)


test_stats.__test__ = False  # a selector, not a pytest test, wherever it is imported


def course_test_stats(course_id: int) -> dict[int, dict]:
    """Statistics (without histogram) of every test of a course that has results, by test id.

    One query.
    """
    results = TestResult.objects.filter(test__course_id=course_id)
    rows = results.values("test_id").annotate(**_aggregates(percent_expression())).order_by()
    return {row.pop("test_id"): serializers.StatsSerializer.build(**row) for row in rows}


# The statistics of a test without results: what the aggregates give over none (no query).
_NO_STATS = TestResult.objects.none().aggregate(**_aggregates(percent_expression()))


# The gradebook ----------------------------------------------------------------------------------

STUDENT_ORDER = ("last_name", "first_name", "email")


def course_tests(course_id: int) -> list[Test]:
    return list(Test.objects.filter(course_id=course_id).order_by("date", "id"))


def course_students(course_id: int):
    """Every STUDENT of the course, ordered by last name, first name, email."""
    return (
        User.objects.filter(enrollments__course_id=course_id, enrollments__role=Role.STUDENT)
        .order_by(*STUDENT_ORDER)
        .only("id", "email", "first_name", "last_name")
    )


def _cents(value: Decimal) -> int:
    return int(value * 100)


def percent_tenths(score: Decimal, max_cents: int) -> int:
    """``percent_of(score, max)`` in tenths of a percent, in integer arithmetic (the same half-up rounding)."""
    return (2000 * _cents(score) + max_cents) // (2 * max_cents)


def average_of_tenths(tenths: list[int]) -> float | None:
    """The mean of a student's percents given in tenths, half up to one decimal; None with none."""
    if not tenths:
        return None
    n = len(tenths)
    return ((2 * sum(tenths) + n) // (2 * n)) / 10


def _number(value) -> float | None:
    return None if value is None else float(value)


def latest_attempts(course_id: int) -> dict[tuple[int, int], tuple]:
    """Each student's latest attempt on each test of the course: ``(student, test) → (submitted_at,
    seconds_late)``. One query."""
    rows = submissions.with_lateness(submissions.latest_only(Submission.objects.filter(test__course_id=course_id)))
    return {
        (student_id, test_id): (submitted_at, seconds_late)
        for student_id, test_id, submitted_at, seconds_late in rows.values_list(
            "student_id", "test_id", "submitted_at", "seconds_late"
        )
    }


def _cell(attempt: tuple | None, missing: bool) -> dict:
    """A gradebook cell's submission: the latest attempt's time, whether it is late, whether the work is missing."""
    if attempt is None:
        return {"submitted_at": None, "late": False, "missing": missing}
    return {"submitted_at": attempt[0], "late": attempt[1] > 0, "missing": missing}


def grades_by_student(course: Course) -> dict[int, dict]:
    """Each student's course grade by student id (``grading.grades``)."""
    return {row["student"]["id"]: row for row in grades.course_grades(course, with_categories=False)}


def gradebook(course: Course) -> dict:
    """The course's gradebook (see the API contract), in a fixed number of queries whatever its size.

    Queries: the tests; the students; every result of the course; the per-test statistics; the
    course grades (two: the categories and the grades statement); each student's latest attempts.
    Scores are JSON numbers, or null where a student has no score for a test (no result, or excused:
    ``excused`` lists those tests). ``cells`` has each test's latest attempt and whether it is missing.
    """
    tests = course_tests(course.pk)
    students = USER_SUMMARY.rows(course_students(course.pk).values_list(*USER_SUMMARY.columns))
    test_ids = [test.pk for test in tests]
    keys = [str(test_id) for test_id in test_ids]
    max_cents = {test.pk: _cents(test.max_score) for test in tests}
    position = {test_id: i for i, test_id in enumerate(test_ids)}
    scores: dict[int, dict[int, float | None]] = {}
    tenths: dict[int, list[int]] = {}
    excused: dict[int, list[int]] = {}
    for student_id, test_id, score in TestResult.objects.filter(test__course_id=course.pk).values_list(
        "student_id", "test_id", "score"
    ):
        if score is None:
            scores.setdefault(student_id, {})[test_id] = None
            excused.setdefault(student_id, []).append(test_id)
        else:
            scores.setdefault(student_id, {})[test_id] = float(score)
            tenths.setdefault(student_id, []).append(percent_tenths(score, max_cents[test_id]))
    stats = course_test_stats(course.pk) if tests else {}
    # A grade for every student, in their order.
    course_grades = grades.course_grades(course, students=students, with_categories=False)
    latest = latest_attempts(course.pk) if tests else {}
    rows = []
    for student, grade in zip(students, course_grades, strict=True):
        sid = student["id"]
        mine = scores.get(sid, {})
        missed = set(grade["missing"])
        rows.append(
            serializers.GradebookStudentSerializer.build(
                **student,
                scores={key: mine.get(test_id) for key, test_id in zip(keys, test_ids, strict=True)},
                average_percent=average_of_tenths(tenths.get(sid, [])),
                excused=sorted(excused.get(sid, []), key=position.__getitem__),
                missing=grade["missing"],
                current_percent=_number(grade["current_percent"]),
                final_percent=_number(grade["final_percent"]),
                letter=grade["letter"],
                cells={
                    key: serializers.GradebookCellSerializer.build(
                        **_cell(latest.get((sid, test_id)), test_id in missed)
                    )
                    for key, test_id in zip(keys, test_ids, strict=True)
                },
            )
        )
    headers = [
        serializers.GradebookTestSerializer.build(
            id=test.pk,
            name=test.name,
            date=test.date.isoformat(),
            max_score=float(test.max_score),
            stats=stats.get(test.pk) or serializers.StatsSerializer.build(**_NO_STATS),
        )
        for test in tests
    ]
    return serializers.GradebookSerializer.build(
        course=serializers.GradebookCourseSerializer.build(id=course.pk, name=course.name), tests=headers, students=rows
    )


@dataclass
class GradebookRow:
    student: User
    scores: dict[int, Decimal | None]  # test id → score (None: excused), only where a result exists
    average_percent: float | None


def gradebook_rows(course_id: int, tests: list[Test], *, chunk_size: int = 2000) -> Iterator[GradebookRow]:
    """The gradebook's student rows, streamed: memory stays flat whatever the course size.

    The students are read ``chunk_size`` at a time in their order (last name, first name, email —
    a total order, emails being unique), each chunk after the last one's key, and each chunk's
    results with it: two short queries per chunk, no server-side cursor, so it streams the same on
    a direct connection and behind a transaction pooler (PgBouncer), where a cursor could not
    outlive its transaction.
    """
    max_cents = {test.pk: _cents(test.max_score) for test in tests}
    after: tuple[str, str, str] | None = None
    while True:
        students = course_students(course_id)
        if after is not None:
            last, first, email = after
            students = students.filter(
                Q(last_name__gt=last)
                | Q(last_name=last, first_name__gt=first)
                | Q(last_name=last, first_name=first, email__gt=email)
            )
        chunk = list(students[:chunk_size])
        if not chunk:
            return
        scores: dict[int, dict[int, Decimal | None]] = defaultdict(dict)
        for student_id, test_id, score in TestResult.objects.filter(
            test__course_id=course_id, student_id__in=[student.pk for student in chunk]
        ).values_list("student_id", "test_id", "score"):
            scores[student_id][test_id] = score
        for student in chunk:
            mine = scores.get(student.pk, {})
            tenths = [
                percent_tenths(score, max_cents[test_id])
                for test_id, score in mine.items()
                if test_id in max_cents and score is not None
            ]
            yield GradebookRow(student=student, scores=mine, average_percent=average_of_tenths(tenths))
        if len(chunk) < chunk_size:
            return
        after = (chunk[-1].last_name, chunk[-1].first_name, chunk[-1].email)


# The histogram drawn in the admin ----------------------------------------------------------------


def histogram_bars(histogram: list[dict], *, width: int = 420, height: int = 160, gap: int = 4) -> dict:
    """Geometry of an SVG bar chart of a histogram: drawn by the server, no JavaScript."""
    top = 16
    bottom = 20
    plot = height - top - bottom
    highest = max((bucket["count"] for bucket in histogram), default=0) or 1
    bar_width = width / len(histogram)
    bars = []
    for i, bucket in enumerate(histogram):
        bar_height = round(plot * bucket["count"] / highest, 1)
        bars.append(
            {
                "x": round(i * bar_width + gap / 2, 1),
                "y": round(top + plot - bar_height, 1),
                "width": round(bar_width - gap, 1),
                "height": bar_height,
                "label_x": round(i * bar_width + bar_width / 2, 1),
                "count_y": round(top + plot - bar_height - 3, 1),
                "count": bucket["count"],
                "label": f"{bucket['from']}-{bucket['to']}",
            }
        )
    return {"width": width, "height": height, "baseline": top + plot, "label_y": height - 6, "bars": bars}
