"""Course grades: every student's current and final percent, letter, and what was dropped or is missing.

The rules (the README's "Course grades" lists them for API clients too):

- A result **counts** unless it is excused; for a student reading their own grade, only results of
  tests whose results are published count (and only those tests exist for them).
- A test is **due** once its date is before today in the course's time zone. A student with no
  result (and not excused) on a due test whose results are published is **missing** it. On an
  ``online`` test instead: once the time is past the student's effective ``due_at`` (their
  extension's, else the test's; never without one) and they have no attempt, no result and no excuse.
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
  Arithmetic is exact: points in integer hundredths, percents as integer fractions.

The database does the work that grows with the course: it pairs students with tests, finds missing
results, ranks and drops, and sums kept points in integer hundredths, in one statement. Python then
combines a few exact integers per student and category. The final grade is ranked separately only
for a student's categories where something is missing; elsewhere it is the current grade.
Queries per call: the categories, the students, that statement — three, whatever the course's size.
``course_grades`` grades every student or some of them (a page); ``letter_distribution``, the
course page's chart, counts every student's current letter from the same statement without the
final grade, keeping each letter in the cache with a digest of the student's results, so that only
the students whose results changed are graded again, and nobody while no results version moved.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.cache import cache
from django.db import connections, router

from accounts.models import User
from accounts.serializers import USER_SUMMARY
from courses.models import Course, Enrollment, Role, Weighting
from grading.models import Extension, GradeCategory, ResultsVersion, Submission, SubmissionType, Test, TestResult
from grading.serializers import CategoryGradeSerializer, CourseGradeSerializer

STUDENT_ORDER = ("last_name", "first_name", "email")
# mode 0: the current grade's items; mode 1: the final grade's (missing results count 0).
CURRENT, FINAL = 0, 1


def course_today(course: Course, now: datetime | None = None) -> date:
    """Today's date in the course's time zone: a test dated before it is due."""
    now = now or datetime.now(tz=ZoneInfo("UTC"))
    return now.astimezone(ZoneInfo(course.time_zone)).date()


def _q(connection, model, column: str | None = None) -> str:
    name = connection.ops.quote_name(model._meta.db_table)
    return name if column is None else f"{name}.{connection.ops.quote_name(column)}"


def _statement(connection, *, some_students: bool, published_only: bool, final: bool = True) -> str:
    """The per (mode, student, category) sums and drops. Parameters by name: ``course``, ``now`` and
    ``today`` (with ``final``), ``students`` (with ``some_students``: the ids of the students to grade).

    Without ``final``, only the current grade's items (mode 0): every result that counts, no
    missing ones, no test ids listed.
    """
    ids = "string_agg(CAST({} AS TEXT), ',')"
    enrollment, test, result, category, submission, extension = (
        _q(connection, Enrollment),
        _q(connection, Test),
        _q(connection, TestResult),
        _q(connection, GradeCategory),
        _q(connection, Submission),
        _q(connection, Extension),
    )
    student_filter = "AND e.user_id = ANY(%(students)s)" if some_students else ""
    # Named on the results too, so that only those students' results are read.
    result_filter = "AND r.student_id = ANY(%(students)s)" if some_students else ""
    published_filter = "AND t.results_published" if published_only else ""
    columns = """s.student_id, t.id AS test_id, t.category_id, t.date, t.never_drop,
           CAST(ROUND(t.max_score * 100) AS BIGINT) AS max_cents,
           CAST(ROUND(r.score * 100) AS BIGINT) AS score_cents"""
    if final:
        cells = f"""SELECT {columns},
           CASE WHEN r.id IS NULL AND CASE WHEN t.submission_type = '{SubmissionType.ONLINE.value}'
               THEN COALESCE(x.due_at, t.due_at) < %(now)s AND NOT EXISTS (
                   SELECT 1 FROM {submission} sub WHERE sub.test_id = t.id AND sub.student_id = s.student_id)
               ELSE t.results_published AND t.date < %(today)s END
           THEN 1 ELSE 0 END AS missing
    FROM students s
    CROSS JOIN {test} t
    LEFT JOIN {result} r ON r.test_id = t.id AND r.student_id = s.student_id {result_filter}
    LEFT JOIN {extension} x ON x.test_id = t.id AND x.student_id = s.student_id
    WHERE t.course_id = %(course)s {published_filter} AND (r.id IS NULL OR NOT r.excused)"""  # noqa: S608
        items = """-- The final grade differs from the current one only where something is missing.
    gaps AS (
    SELECT DISTINCT student_id, category_id FROM cells WHERE missing = 1
), items AS (
    SELECT 0 AS mode, student_id, test_id, category_id, date, never_drop, max_cents, score_cents, missing
    FROM cells WHERE score_cents IS NOT NULL
    UNION ALL
    SELECT 1, c.student_id, c.test_id, c.category_id, c.date, c.never_drop, c.max_cents,
           COALESCE(c.score_cents, 0), c.missing
    FROM cells c JOIN gaps g ON g.student_id = c.student_id AND g.category_id = c.category_id
    WHERE c.score_cents IS NOT NULL OR c.missing = 1
)"""
        dropped_ids = ids.format("CASE WHEN x.dropped = 1 THEN x.test_id END")
        missing_ids = ids.format("CASE WHEN x.mode = 1 AND x.missing = 1 THEN x.test_id END")
    else:
        # Only results count (no ``today`` parameter): the students' results on the course's tests.
        cells = f"""SELECT {columns}, 0 AS missing
    FROM students s
    JOIN {result} r ON r.student_id = s.student_id {result_filter}
    JOIN {test} t ON t.id = r.test_id
    WHERE t.course_id = %(course)s {published_filter} AND NOT r.excused"""  # noqa: S608
        items = """items AS (
    SELECT 0 AS mode, student_id, test_id, category_id, date, never_drop, max_cents, score_cents, missing
    FROM cells WHERE score_cents IS NOT NULL
)"""
        dropped_ids = missing_ids = "NULL"
    # Only table names and fixed fragments are formatted in; every value is a parameter.
    return f"""
WITH students AS (
    SELECT e.user_id AS student_id FROM {enrollment} e
    WHERE e.course_id = %(course)s AND e.role = '{Role.STUDENT.value}' {student_filter}
), cells AS (
    {cells}
), {items}, ranked AS (
    -- Only categories with drop rules are ranked; the others keep every item (x below).
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
    WHERE c.drop_lowest > 0 OR c.drop_highest > 0
), low AS (
    SELECT r.*, LEAST(r.drop_lowest, r.droppable, r.n - 1) AS low_count FROM ranked r
), marked AS (
    SELECT l.*,
           CASE WHEN NOT l.never_drop AND l.low_rank <= l.low_count THEN 1 ELSE 0 END AS dropped_low,
           LEAST(l.drop_highest, l.droppable - l.low_count, l.n - l.low_count - 1) AS high_count
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
    UNION ALL
    SELECT i.mode, i.student_id, i.category_id, i.test_id, i.score_cents, i.max_cents, i.missing, 0
    FROM items i JOIN {category} c ON c.id = i.category_id
    WHERE c.drop_lowest = 0 AND c.drop_highest = 0
)
SELECT x.mode, x.student_id, x.category_id,
       SUM(CASE WHEN x.dropped = 0 THEN x.score_cents ELSE 0 END) AS kept_score,
       SUM(CASE WHEN x.dropped = 0 THEN x.max_cents ELSE 0 END) AS kept_max,
       {dropped_ids} AS dropped,
       {missing_ids} AS missing
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


# Exact percents as integer fractions ``(numerator, denominator)``: a few thousand students times a
# few categories is too many for ``fractions.Fraction`` in a request; plain ints are exact and fast.
Ratio = tuple[int, int]


def _hundredths(ratio: Ratio | None) -> int | None:
    """The percent ``numerator / denominator`` in hundredths, rounded half up."""
    if ratio is None:
        return None
    numerator, denominator = ratio
    return (200 * numerator + denominator) // (2 * denominator)


def _shown(hundredths: int | None) -> Decimal | None:
    return None if hundredths is None else Decimal(hundredths).scaleb(-2)


def _scheme_in_hundredths(scheme: list[dict] | None) -> list[tuple[int, str]]:
    # min ≤ h / 100 exactly when ceil(100 · min) ≤ h, for whole h: exact whatever min's decimals.
    return [(math.ceil(Decimal(str(row["min_percent"])) * 100), row["letter"]) for row in scheme or []]


def _letter(hundredths: int | None, scheme: list[tuple[int, str]]) -> str | None:
    if hundredths is None:
        return None
    for minimum, letter in scheme:
        if minimum <= hundredths:
            return letter
    return None


def _categories(alias: str, course: Course) -> list[GradeCategory]:
    return list(GradeCategory.objects.using(alias).filter(course_id=course.pk).order_by("position", "id"))


def _course_hundredths(by_weight: bool, weights: list[int], per_category: list[_Sums | None]) -> int | None:
    """The course percent in hundredths (rounded half up) from the sums of each category, in order."""
    return _hundredths(_course_ratio(by_weight, weights, per_category))


def course_grades(
    course: Course,
    *,
    student_id: int | None = None,
    student_ids: Collection[int] | None = None,
    published_only: bool = False,
    today: date | None = None,
    now: datetime | None = None,
    students: list[dict] | None = None,
    with_categories: bool = True,
) -> list[dict]:
    """Every student's grade in ``course``, students by last name, first name, email; or only
    ``student_id``'s, or only the grades of the students in ``student_ids`` (a page of them).

    ``published_only``: count only tests whose results are published (what a student sees of their
    own grade). Each row is ``CourseGradeSerializer``'s representation (``{student, current_percent,
    ..., categories}``). ``students``: those students (the course's, or those of ``student_ids``) as
    ``UserSummarySerializer`` gives them, in their order, when the caller has read them already (one
    query less). Without ``with_categories`` the rows' ``categories`` is None (the gradebook shows
    only the course grade).
    """
    alias = router.db_for_read(TestResult)
    connection = connections[alias]
    today = today or course_today(course)
    if student_id is not None:
        student_ids = [student_id]
    categories = _categories(alias, course)
    if students is None:
        students = User.objects.using(alias).filter(enrollments__course_id=course.pk, enrollments__role=Role.STUDENT)
        if student_ids is not None:
            students = students.filter(pk__in=student_ids)
        students = USER_SUMMARY.rows(students.order_by(*STUDENT_ORDER).values_list(*USER_SUMMARY.columns))
    if not students:
        return []

    params = {"course": course.pk, "today": today, "now": now or datetime.now(tz=ZoneInfo("UTC"))}
    if student_ids is not None:
        params["students"] = list(student_ids)
    sums: dict[tuple[int, int, int], _Sums] = {}
    missing: dict[int, list[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            _statement(connection, some_students=student_ids is not None, published_only=published_only), params
        )
        for mode, sid, category_id, kept_score, kept_max, dropped, missed in cursor.fetchall():
            sums[mode, sid, category_id] = _Sums(int(kept_score), int(kept_max), _id_list(dropped))
            if missed:
                missing.setdefault(sid, []).extend(_id_list(missed))

    by_weight = course.weighting == Weighting.CATEGORIES
    # Weights in hundredths of a percent, as integers.
    weights = [int(category.weight * 100) for category in categories]
    scheme = _scheme_in_hundredths(course.grading_scheme)
    rows = []
    for student in students:
        sid = student["id"]
        current = [sums.get((CURRENT, sid, c.pk)) for c in categories]
        # The statement gives a final row only where something is missing; elsewhere final = current.
        final = [sums.get((FINAL, sid, c.pk)) or now for c, now in zip(categories, current, strict=True)]
        current_h = _course_hundredths(by_weight, weights, current)
        final_h = _course_hundredths(by_weight, weights, final)
        rows.append(
            CourseGradeSerializer.build(
                student=student,
                current_percent=_shown(current_h),
                final_percent=_shown(final_h),
                letter=_letter(current_h, scheme),
                final_letter=_letter(final_h, scheme),
                missing=sorted(missing.get(sid, [])),
                categories=[
                    CategoryGradeSerializer.build(
                        id=category.pk,
                        name=category.name,
                        weight=category.weight,
                        current_percent=_shown(_hundredths(_ratio(now))),
                        final_percent=_shown(_hundredths(_ratio(end))),
                        dropped=now.dropped if now else [],
                        final_dropped=end.dropped if end else [],
                    )
                    for category, now, end in zip(categories, current, final, strict=True)
                ]
                if with_categories
                else None,
            )
        )
    return rows


def _ratio(sums: _Sums | None) -> Ratio | None:
    """A category's percent: its kept points over its kept max points, times 100."""
    if sums is None or sums.max == 0:
        return None
    return sums.score * 100, sums.max


def _course_ratio(by_weight: bool, weights: list[int], per_category: list[_Sums | None]) -> Ratio | None:
    kept = [(w, s) for w, s in zip(weights, per_category, strict=True) if s is not None and s.max > 0]
    if not kept:
        return None
    if not by_weight:
        return sum(s.score for _, s in kept) * 100, sum(s.max for _, s in kept)
    total_weight = sum(w for w, _ in kept)
    if total_weight == 0:
        return None
    # sum(w * score / max) * 100 / total_weight, over a common denominator.
    common = math.prod(s.max for _, s in kept)
    numerator = sum(w * s.score * (common // s.max) for w, s in kept) * 100
    return numerator, common * total_weight


# How long a course's letters stay in the cache at most (their key changes with what they are computed from).
LETTERS_CACHE_SECONDS = 24 * 60 * 60


def letter_distribution(course: Course) -> list[dict]:
    """How many of the course's students have each letter of its scheme by their current grade (the
    ``letter`` of ``course_grades``' rows), in the scheme's order, then how many have none yet
    (``letter`` null).

    Each student's letter is kept in Django's cache with a digest of their results (test, score,
    excused), under a key of what every student's letter is computed from besides: the course's
    weighting and scheme, its categories' weights and drop rules, and its tests (category, date,
    max score, never drop); the current grade doesn't depend on the date. With them, the tests'
    results versions and who the students were when every kept letter was right: while those
    haven't moved (``ResultsVersion`` moves with every write of a test's results), the letters
    are counted as kept, after two small queries (the categories, the key and versions).
    Otherwise every student's digest is read (one query more), and only the students whose digest
    differs from the one kept (a new result, a changed or deleted one, a new student), or all of
    them when the key changed, are graded again, in one statement that gives their digests too,
    from the same snapshot.
    """
    alias = router.db_for_read(TestResult)
    connection = connections[alias]
    categories = _categories(alias, course)
    params = {"course": course.pk}
    with connection.cursor() as cursor:
        cursor.execute(_course_digests(connection), params)
        inputs, versions = cursor.fetchone()
        kept = cache.get(_letters_key(course, categories, inputs))
        if kept is not None and kept["versions"] == versions:
            return _distribution([letter for _, letter in kept["letters"].values()], course.grading_scheme)
        cursor.execute(_digests(connection, some_students=False), params)
        rows = cursor.fetchall()
        if not rows:
            return _distribution([], course.grading_scheme)
        if rows[0][2] != inputs:  # the tests or categories changed since the first query
            kept = cache.get(_letters_key(course, categories, rows[0][2]))
        inputs, versions = rows[0][2], rows[0][3]
        students = {sid: digest for sid, digest, _, _ in rows}
        letters: dict[int, tuple[str, str | None]] = kept["letters"] if kept is not None else {}
        stale = {sid for sid, digest in students.items() if letters.get(sid, (None, None))[0] != digest}
        if stale:
            now, graded = _graded(cursor, course, categories, stale if len(stale) < len(students) else None)
            if now != inputs:  # the tests or categories changed meanwhile: every student anew
                now, graded = _graded(cursor, course, categories, None)
                inputs, versions, students, stale = now, None, dict.fromkeys(graded), set(graded)
            elif any(graded.get(sid, (None,))[0] != students[sid] for sid in stale):
                versions = None  # some results changed meanwhile: not every letter is right as of ``versions``
            # The letters kept that are still right, and the new ones (none for a student unenrolled meanwhile).
            unchanged = {sid: letters[sid] for sid in students if sid not in stale}
            letters = unchanged | {sid: graded[sid] for sid in stale if sid in graded}
        letters = {sid: letters[sid] for sid in students if sid in letters}
        entry = {"versions": versions, "letters": letters}
        cache.set(_letters_key(course, categories, inputs), entry, LETTERS_CACHE_SECONDS)
    return _distribution([letter for _, letter in letters.values()], course.grading_scheme)


def _graded(cursor, course: Course, categories, student_ids) -> tuple[str, dict[int, tuple[str, str | None]]]:
    """The current letter and results digest of every student of the course (or of ``student_ids``),
    and the digest of the rest of what they are computed from (``_digests``), from one snapshot."""
    connection = cursor.db
    some = student_ids is not None
    statement = _statement(connection, some_students=some, published_only=False, final=False)
    cursor.execute(
        f"SELECT d.student_id, d.digest, d.inputs, g.category_id, g.kept_score, g.kept_max"  # noqa: S608
        f" FROM ({_digests(connection, some_students=some)}) d"
        f" LEFT JOIN ({statement}) g ON g.student_id = d.student_id",
        {"course": course.pk, "students": sorted(student_ids or [])},
    )
    inputs, digests, sums = None, {}, {}
    for sid, digest, inputs, category_id, kept_score, kept_max in cursor.fetchall():  # noqa: B007
        digests[sid] = digest
        if category_id is not None:
            sums.setdefault(sid, {})[category_id] = _Sums(int(kept_score), int(kept_max))
    by_weight = course.weighting == Weighting.CATEGORIES
    weights = [int(category.weight * 100) for category in categories]
    scheme = _scheme_in_hundredths(course.grading_scheme)
    graded = {}
    for sid, digest in digests.items():
        mine = sums.get(sid, {})
        hundredths = _course_hundredths(by_weight, weights, [mine.get(c.pk) for c in categories])
        graded[sid] = (digest, _letter(hundredths, scheme))
    return inputs, graded


def _digests(connection, *, some_students: bool) -> str:
    """A row per student of the course (or of those of the ``students`` parameter): ``student_id``;
    ``digest``, a digest of their results on its tests (the sum of each result's 64-bit hash of its
    test and score, or of its test alone when excused: any change of a result changes it; 0 without
    any); and the course's ``inputs`` and ``versions`` (``_course_digests``). Parameters:
    ``course``, [``students``]."""
    enrollment, test, result = _q(connection, Enrollment), _q(connection, Test), _q(connection, TestResult)
    student_filter = "AND e.user_id = ANY(%(students)s)" if some_students else ""
    return f"""SELECT d.student_id, d.digest, i.inputs, i.versions FROM (
    SELECT e.user_id AS student_id,
        -- Each result's hash: its score's, seeded with its test; an excused result (no score): its test's.
        CAST(COALESCE(SUM(COALESCE(hash_numeric_extended(r.score, r.test_id), hashint8extended(r.test_id, 0))), 0)
             AS TEXT) AS digest
    FROM {enrollment} e
    LEFT JOIN ({result} r JOIN {test} rt ON rt.id = r.test_id AND rt.course_id = %(course)s)
        ON r.student_id = e.user_id
    WHERE e.course_id = %(course)s AND e.role = '{Role.STUDENT.value}' {student_filter}
    GROUP BY e.user_id
) d CROSS JOIN ({_course_digests(connection)}) i"""  # noqa: S608


def _course_digests(connection) -> str:
    """One row: ``inputs``, a digest of what the current grades of the course's students are read
    from in the database besides their results: the tests (category, date, max score, never drop)
    and the categories' drop rules; and ``versions``, one of the tests' results versions and who
    the students are. Parameter: ``course``."""
    enrollment, test, counter, category = (
        _q(connection, Enrollment),
        _q(connection, Test),
        _q(connection, ResultsVersion),
        _q(connection, GradeCategory),
    )
    return f"""SELECT
    md5(concat_ws('|',
        COALESCE((SELECT string_agg(concat_ws(':', t.id, t.category_id, t.date, t.max_score, t.never_drop), ','
                                    ORDER BY t.id)
                  FROM {test} t WHERE t.course_id = %(course)s), ''),
        COALESCE((SELECT string_agg(concat_ws(':', c.id, c.drop_lowest, c.drop_highest), ',' ORDER BY c.id)
                  FROM {category} c WHERE c.course_id = %(course)s), '')
    )) AS inputs,
    md5(concat_ws('|',
        COALESCE((SELECT string_agg(concat_ws(':', t.id, COALESCE(v.version, 0)), ',' ORDER BY t.id)
                  FROM {test} t LEFT JOIN {counter} v ON v.test_id = t.id WHERE t.course_id = %(course)s), ''),
        COALESCE((SELECT string_agg(CAST(e.user_id AS TEXT), ',' ORDER BY e.user_id)
                  FROM {enrollment} e WHERE e.course_id = %(course)s AND e.role = '{Role.STUDENT.value}'), '')
    )) AS versions"""  # noqa: S608


def _letters_key(course: Course, categories: list[GradeCategory], inputs: str) -> str:
    settings = [course.weighting, course.grading_scheme, [(c.pk, str(c.weight)) for c in categories], inputs]
    return f"grading:letters:{course.pk}:{hashlib.sha256(json.dumps(settings, default=str).encode()).hexdigest()}"


def _distribution(letters: Iterable[str | None], scheme: list[dict] | None) -> list[dict]:
    counts: dict[str | None, int] = {row["letter"]: 0 for row in scheme or []}
    counts[None] = 0
    for letter in letters:
        counts[letter] = counts.get(letter, 0) + 1
    return [{"letter": letter, "count": count} for letter, count in counts.items()]
