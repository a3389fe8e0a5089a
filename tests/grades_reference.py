"""A plain-Python reference of the course grade rules, to check ``grading.grades`` against.

Written from the rules as the product states them, one rule per step, with exact ``Fraction``
arithmetic and no database: plain data in, the shape of ``grades.course_grades`` out.

- A result counts unless excused; with ``published_only`` only tests whose results are published exist.
- A test is due once its date is before ``today``. No result (and not excused) on a due, published
  test: the student is missing it.
- current ignores tests with no result; final counts a missing test as 0 of its max score (a test
  with no result that is not missing is ignored in final too).
- Drops, per student and category, after excusing: the ``drop_lowest`` lowest percents, then the
  ``drop_highest`` highest of the rest; ties drop the earlier date, then the lower test id, first;
  never a never_drop test; never all of them. Chosen separately for current and final.
- Category percent: kept scores over their max scores, times 100. Course percent: ``points`` over
  every kept result; ``categories`` the mean of the category percents that have a kept result,
  weighted by their weights re-normalised over those (null when they sum to 0).
- Letter: the first scheme row whose min_percent is at most the percent rounded to 2 decimals.
- Percents shown rounded half up to 2 decimals; null where nothing counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    weight: Decimal
    drop_lowest: int = 0
    drop_highest: int = 0
    position: int = 0


@dataclass(frozen=True)
class Test:
    id: int
    category_id: int
    date: date
    max_score: Decimal
    results_published: bool = True
    never_drop: bool = False


@dataclass(frozen=True)
class Item:
    """One result that counts: a test and the score it gets (0 for a missing one in the final grade)."""

    test: Test
    score: Fraction

    @property
    def percent(self) -> Fraction:
        return self.score / Fraction(self.test.max_score)


def course_grades(
    *,
    weighting: str,
    grading_scheme: list[dict] | None,
    categories: list[Category],
    tests: list[Test],
    students: list[dict],
    results: dict[tuple[int, int], Decimal | None],
    today: date,
    published_only: bool = False,
) -> list[dict]:
    """Every student's grade. ``results`` maps ``(student id, test id)`` to a score, or None when excused."""
    categories = sorted(categories, key=lambda c: (c.position, c.id))
    if published_only:
        tests = [t for t in tests if t.results_published]
    rows = []
    for student in sorted(students, key=lambda s: (s["last_name"], s["first_name"], s["email"])):
        current: dict[int, list[Item]] = {c.id: [] for c in categories}
        final: dict[int, list[Item]] = {c.id: [] for c in categories}
        missing = []
        for test in tests:
            key = (student["id"], test.id)
            if key in results and results[key] is None:
                continue  # excused: counts nowhere
            if key in results:
                item = Item(test, Fraction(results[key]))
                current[test.category_id].append(item)
                final[test.category_id].append(item)
            elif test.results_published and test.date < today:
                missing.append(test.id)
                final[test.category_id].append(Item(test, Fraction(0)))
        current_kept = {c.id: _keep(current[c.id], c) for c in categories}
        final_kept = {c.id: _keep(final[c.id], c) for c in categories}
        current_percent = _course_percent(weighting, categories, {i: k for i, (k, _) in current_kept.items()})
        final_percent = _course_percent(weighting, categories, {i: k for i, (k, _) in final_kept.items()})
        rows.append(
            {
                "student": student,
                "current_percent": _shown(current_percent),
                "final_percent": _shown(final_percent),
                "letter": _letter(current_percent, grading_scheme),
                "final_letter": _letter(final_percent, grading_scheme),
                "missing": sorted(missing),
                "categories": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "weight": c.weight,
                        "current_percent": _shown(_percent(current_kept[c.id][0])),
                        "final_percent": _shown(_percent(final_kept[c.id][0])),
                        "dropped": current_kept[c.id][1],
                        "final_dropped": final_kept[c.id][1],
                    }
                    for c in categories
                ],
            }
        )
    return rows


def _keep(items: list[Item], category: Category) -> tuple[list[Item], list[int]]:
    """The items kept after the category's drops, and the dropped test ids (sorted)."""
    n = len(items)
    if n == 0:
        return [], []
    droppable = [i for i in items if not i.test.never_drop]
    low_count = min(category.drop_lowest, len(droppable), n - 1)
    lowest_first = sorted(droppable, key=lambda i: (i.percent, i.test.date, i.test.id))
    dropped = lowest_first[:low_count]
    rest = lowest_first[low_count:]
    high_count = min(category.drop_highest, len(droppable) - low_count, n - low_count - 1)
    highest_first = sorted(rest, key=lambda i: (-i.percent, i.test.date, i.test.id))
    dropped += highest_first[:high_count]
    dropped_ids = {i.test.id for i in dropped}
    return [i for i in items if i.test.id not in dropped_ids], sorted(dropped_ids)


def _percent(kept: list[Item]) -> Fraction | None:
    if not kept:
        return None
    return sum(i.score for i in kept) / sum(Fraction(i.test.max_score) for i in kept) * 100


def _course_percent(weighting: str, categories: list[Category], kept: dict[int, list[Item]]) -> Fraction | None:
    if weighting == "points":
        return _percent([i for c in categories for i in kept[c.id]])
    counted = [c for c in categories if kept[c.id]]
    total_weight = sum(Fraction(c.weight) for c in counted)
    if total_weight == 0:
        return None
    return sum(Fraction(c.weight) * _percent(kept[c.id]) for c in counted) / total_weight


def _rounded(percent: Fraction) -> Fraction:
    """Half up to 2 decimals (percents are never negative)."""
    return Fraction(math.floor(percent * 100 + Fraction(1, 2)), 100)


def _shown(percent: Fraction | None) -> Decimal | None:
    if percent is None:
        return None
    rounded = _rounded(percent)
    return (Decimal(rounded.numerator) / Decimal(rounded.denominator)).quantize(Decimal("0.01"))


def _letter(percent: Fraction | None, scheme: list[dict] | None) -> str | None:
    if percent is None or not scheme:
        return None
    for row in scheme:
        if Fraction(Decimal(str(row["min_percent"]))) <= _rounded(percent):
            return row["letter"]
    return None
