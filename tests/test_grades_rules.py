"""The course grade's rules (grading/grades.py), one hand-built example each, on the test database.

Today is 2026-12-05 unless a test says otherwise: a test dated before it is due. Scores are out of
100 unless given.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from courses.models import Course, Enrollment, Role
from grading import grades, services
from grading.models import GradeCategory, Test
from tests.conftest import first_category

pytestmark = pytest.mark.django_db

TODAY = date(2026, 12, 5)


def make_test(course, name, *, on=TODAY - timedelta(days=10), max_score="100", category=None, **fields):
    return Test.objects.create(
        course=course,
        category=category or first_category(course),
        name=name,
        date=on,
        max_score=Decimal(max_score),
        **fields,
    )


def score(test, user, points, teacher):
    services.result_record(test=test, student=user, score=Decimal(points), by=teacher)


def excuse(test, user, teacher):
    services.result_record(test=test, student=user, score=None, excused=True, by=teacher)


def grade_of(course, user, **options):
    options.setdefault("today", TODAY)
    (row,) = grades.course_grades(course, student_id=user.pk, **options)
    assert row["student"]["id"] == user.pk
    return row


def set_drops(course, *, lowest=0, highest=0):
    category = first_category(course)
    services.category_update(category=category, drop_lowest=lowest, drop_highest=highest)
    return category


def by_weight(course, *weights):
    """Weighted categories: the first one re-weighted, then one more per further weight."""
    course.weighting = "categories"
    course.save()
    first = services.category_update(category=first_category(course), name="Exams", weight=Decimal(weights[0]))
    more = [
        services.category_create(course=course, name=f"Category {n}", weight=Decimal(weight))
        for n, weight in enumerate(weights[1:], start=2)
    ]
    return [first, *more]


# --- drops ----------------------------------------------------------------------------------------


def test_drop_lowest_ties_drop_the_earlier_date_first(course, teacher, student):
    set_drops(course, lowest=1)
    later = make_test(course, "Later", on=date(2026, 11, 2))
    earlier = make_test(course, "Earlier", on=date(2026, 11, 1), max_score="10")
    best = make_test(course, "Best", on=date(2026, 11, 3))
    score(later, student, "50", teacher)
    score(earlier, student, "5", teacher)  # 50% too
    score(best, student, "90", teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [earlier.pk]
    assert row["current_percent"] == Decimal("70.00")  # (50 + 90) / 200


def test_drop_lowest_ties_on_the_same_date_drop_the_lower_id(course, teacher, student):
    set_drops(course, lowest=1)
    first = make_test(course, "Z, created first", on=date(2026, 11, 1), max_score="10")
    second = make_test(course, "A, created second", on=date(2026, 11, 1))
    best = make_test(course, "Best", on=date(2026, 11, 3))
    score(first, student, "5", teacher)
    score(second, student, "50", teacher)
    score(best, student, "90", teacher)

    row = grade_of(course, student)
    assert first.pk < second.pk
    assert row["categories"][0]["dropped"] == [first.pk]
    assert row["current_percent"] == Decimal("70.00")  # (50 + 90) / 200, not (5 + 90) / 110


def test_drop_highest_ties_drop_the_earlier_date_first(course, teacher, student):
    set_drops(course, highest=1)
    later = make_test(course, "Later", on=date(2026, 11, 2))
    earlier = make_test(course, "Earlier", on=date(2026, 11, 1), max_score="10")
    low = make_test(course, "Low", on=date(2026, 11, 3))
    score(later, student, "90", teacher)
    score(earlier, student, "9", teacher)  # 90% too
    score(low, student, "40", teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [earlier.pk]
    assert row["current_percent"] == Decimal("65.00")  # (90 + 40) / 200


def test_drop_highest_ties_on_the_same_date_drop_the_lower_id(course, teacher, student):
    set_drops(course, highest=1)
    first = make_test(course, "Z, created first", on=date(2026, 11, 1), max_score="10")
    second = make_test(course, "A, created second", on=date(2026, 11, 1))
    low = make_test(course, "Low", on=date(2026, 11, 3))
    score(first, student, "9", teacher)
    score(second, student, "90", teacher)  # 90% too
    score(low, student, "40", teacher)

    row = grade_of(course, student)
    assert first.pk < second.pk
    assert row["categories"][0]["dropped"] == [first.pk]
    assert row["current_percent"] == Decimal("65.00")  # (90 + 40) / 200, not (9 + 40) / 110


def test_drop_highest_among_what_drop_lowest_left(course, teacher, student):
    set_drops(course, lowest=1, highest=1)
    tests = [make_test(course, f"T{n}", on=date(2026, 11, n)) for n in range(1, 5)]
    for test, points in zip(tests, ("10", "60", "70", "95"), strict=True):
        score(test, student, points, teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [tests[0].pk, tests[3].pk]
    assert row["current_percent"] == Decimal("65.00")


def test_never_drop_is_kept_and_the_next_lowest_dropped(course, teacher, student):
    set_drops(course, lowest=1)
    final_exam = make_test(course, "Final", never_drop=True)
    quiz = make_test(course, "Quiz")
    best = make_test(course, "Best")
    score(final_exam, student, "20", teacher)
    score(quiz, student, "50", teacher)
    score(best, student, "80", teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [quiz.pk]
    assert row["current_percent"] == Decimal("50.00")  # (20 + 80) / 200


def test_never_drop_limits_how_many_are_dropped(course, teacher, student):
    set_drops(course, lowest=2, highest=2)
    kept = [make_test(course, f"Kept {n}", never_drop=True) for n in range(3)]
    droppable = make_test(course, "Droppable")
    for test, points in zip(kept, ("10", "20", "30"), strict=True):
        score(test, student, points, teacher)
    score(droppable, student, "100", teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [droppable.pk]  # dropped as a lowest: nothing left for highest
    assert row["current_percent"] == Decimal("20.00")


def test_all_dropped_but_one_when_drop_lowest_exceeds_the_count(course, teacher, student):
    set_drops(course, lowest=5, highest=3)
    tests = [make_test(course, f"T{n}", on=date(2026, 11, n)) for n in range(1, 4)]
    for test, points in zip(tests, ("70", "30", "50"), strict=True):
        score(test, student, points, teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [tests[1].pk, tests[2].pk]  # the highest is kept
    assert row["current_percent"] == Decimal("70.00")


def test_all_dropped_but_one_when_drop_highest_exceeds_the_count(course, teacher, student):
    set_drops(course, highest=4)
    tests = [make_test(course, f"T{n}", on=date(2026, 11, n)) for n in range(1, 4)]
    for test, points in zip(tests, ("70", "30", "50"), strict=True):
        score(test, student, points, teacher)

    row = grade_of(course, student)
    assert row["categories"][0]["dropped"] == [tests[0].pk, tests[2].pk]  # the lowest is kept
    assert row["current_percent"] == Decimal("30.00")


def test_drops_are_chosen_separately_for_current_and_final(course, teacher, student):
    set_drops(course, lowest=1)
    low = make_test(course, "Low")
    missed = make_test(course, "Missed")
    high = make_test(course, "High")
    score(low, student, "60", teacher)
    score(high, student, "80", teacher)

    row = grade_of(course, student)
    assert row["missing"] == [missed.pk]
    category = row["categories"][0]
    assert (category["dropped"], category["current_percent"]) == ([low.pk], Decimal("80.00"))
    assert (category["final_dropped"], category["final_percent"]) == ([missed.pk], Decimal("70.00"))
    assert (row["current_percent"], row["final_percent"]) == (Decimal("80.00"), Decimal("70.00"))


# --- excused, missing, published ----------------------------------------------------------------


def test_excused_counts_nowhere(course, teacher, student):
    set_drops(course, lowest=1)
    excused = make_test(course, "Excused")
    graded = make_test(course, "Graded")
    excuse(excused, student, teacher)
    score(graded, student, "40", teacher)

    row = grade_of(course, student)
    assert row["missing"] == []
    category = row["categories"][0]
    # Not a result to drop either: the only result left is kept.
    assert category["dropped"] == category["final_dropped"] == []
    assert category["current_percent"] == category["final_percent"] == Decimal("40.00")
    assert row["current_percent"] == row["final_percent"] == Decimal("40.00")


def test_only_excused_results_give_no_percent(course, teacher, student):
    excuse(make_test(course, "Excused"), student, teacher)

    row = grade_of(course, student)
    assert row["missing"] == []
    assert row["current_percent"] is row["final_percent"] is None
    assert row["letter"] is row["final_letter"] is None
    assert row["categories"][0]["current_percent"] is None


def test_missing_versus_ungraded(course, teacher, student):
    graded = make_test(course, "Graded")
    missed = make_test(course, "Missed, due and published")
    make_test(course, "Not due: dated today", on=TODAY)
    make_test(course, "Not due: later", on=TODAY + timedelta(days=3))
    make_test(course, "Due but unpublished", results_published=False)
    score(graded, student, "90", teacher)

    row = grade_of(course, student)
    assert row["missing"] == [missed.pk]
    assert row["current_percent"] == Decimal("90.00")
    assert row["final_percent"] == Decimal("45.00")  # (90 + 0) / 200: only the missing test counts as 0
    assert (row["letter"], row["final_letter"]) == ("A", "F")


def test_missing_is_per_student(course, teacher, student, classmate):
    test = make_test(course, "Midterm")
    score(test, classmate, "75", teacher)

    rows = {row["student"]["id"]: row for row in grades.course_grades(course, today=TODAY)}
    assert rows[student.pk]["missing"] == [test.pk]
    assert (rows[student.pk]["current_percent"], rows[student.pk]["final_percent"]) == (None, Decimal("0.00"))
    assert rows[classmate.pk]["missing"] == []
    assert rows[classmate.pk]["current_percent"] == rows[classmate.pk]["final_percent"] == Decimal("75.00")


def test_unpublished_tests_are_hidden_from_published_only(course, teacher, student):
    set_drops(course, lowest=1)
    published = make_test(course, "Published")
    hidden = make_test(course, "Hidden", results_published=False)
    score(published, student, "80", teacher)
    score(hidden, student, "20", teacher)

    everything = grade_of(course, student)
    assert everything["categories"][0]["dropped"] == [hidden.pk]
    assert everything["current_percent"] == Decimal("80.00")

    own_view = grade_of(course, student, published_only=True)
    # The hidden result is not there to be dropped: the published one is the only result, kept.
    assert own_view["categories"][0]["dropped"] == []
    assert own_view["current_percent"] == Decimal("80.00")

    services.category_update(category=first_category(course), drop_lowest=0)
    assert grade_of(course, student)["current_percent"] == Decimal("50.00")
    assert grade_of(course, student, published_only=True)["current_percent"] == Decimal("80.00")


# --- course percent -------------------------------------------------------------------------------


def test_points_weighting_sums_every_kept_result_of_every_category(course, teacher, student):
    exams, quizzes = by_weight(course, "90", "10")
    course.weighting = "points"
    course.save()
    exam = make_test(course, "Exam", category=exams)
    quiz = make_test(course, "Quiz", category=quizzes, max_score="10")
    score(exam, student, "50", teacher)
    score(quiz, student, "10", teacher)

    row = grade_of(course, student)
    assert [c["current_percent"] for c in row["categories"]] == [Decimal("50.00"), Decimal("100.00")]
    assert row["current_percent"] == Decimal("54.55")  # 60 / 110, weights ignored


def test_weights_are_renormalised_over_categories_with_a_kept_result(course, teacher, student):
    exams, quizzes, projects = by_weight(course, "60", "40", "0")
    exam = make_test(course, "Exam", category=exams)
    project = make_test(course, "Project", category=projects)
    quiz = make_test(course, "Quiz", category=quizzes, on=TODAY + timedelta(days=1))
    score(exam, student, "80", teacher)
    score(project, student, "100", teacher)

    row = grade_of(course, student)
    # Quizzes has nothing: exams count alone (the projects' weight is 0).
    assert row["current_percent"] == Decimal("80.00")
    assert [c["current_percent"] for c in row["categories"]] == [Decimal("80.00"), None, Decimal("100.00")]
    assert [c["weight"] for c in row["categories"]] == [Decimal("60.00"), Decimal("40.00"), Decimal("0.00")]

    # Once the quiz is due and missing it counts 0 in the final grade: (60 * 80 + 40 * 0) / 100.
    row = grade_of(course, student, today=TODAY + timedelta(days=2))
    assert row["missing"] == [quiz.pk]
    assert (row["current_percent"], row["final_percent"]) == (Decimal("80.00"), Decimal("48.00"))


def test_zero_total_weight_gives_no_percent(course, teacher, student):
    exams, projects = by_weight(course, "50", "0")
    score(make_test(course, "Project", category=projects), student, "70", teacher)
    make_test(course, "Exam, not yet due", category=exams, on=TODAY)

    row = grade_of(course, student)
    assert row["categories"][1]["current_percent"] == Decimal("70.00")
    assert row["current_percent"] is row["final_percent"] is None
    assert row["letter"] is row["final_letter"] is None


def test_course_percent_uses_the_exact_category_percents(course, teacher, student):
    first, second = by_weight(course, "50", "50")
    score(make_test(course, "A", category=first, max_score="200"), student, "0.01", teacher)  # 0.005%
    score(make_test(course, "B", category=second, max_score="250"), student, "0.01", teacher)  # 0.004%

    row = grade_of(course, student)
    assert [c["current_percent"] for c in row["categories"]] == [Decimal("0.01"), Decimal("0.00")]
    # (0.005 + 0.004) / 2 = 0.0045 → 0.00; from the rounded percents it would be 0.005 → 0.01.
    assert row["current_percent"] == Decimal("0.00")


def test_percents_round_half_up(course, teacher, student):
    score(make_test(course, "Half", max_score="200"), student, "0.01", teacher)  # 0.005%

    row = grade_of(course, student)
    assert row["current_percent"] == Decimal("0.01")
    assert str(row["current_percent"]) == "0.01"


# --- letters --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "max_score", "percent", "letter"),
    [
        ("90", "100", "90.00", "A"),
        ("179.99", "200", "90.00", "A"),  # 89.995 rounds half up to 90.00
        ("449.97", "500", "89.99", "B"),  # 89.994
        ("80", "100", "80.00", "B"),
        ("0", "100", "0.00", "F"),
    ],
)
def test_letter_at_the_cutoff(course, teacher, student, points, max_score, percent, letter):
    score(make_test(course, "Exam", max_score=max_score), student, points, teacher)

    row = grade_of(course, student)
    assert str(row["current_percent"]) == percent
    assert row["letter"] == row["final_letter"] == letter


def test_letter_of_a_custom_scheme_with_decimal_cutoffs(course, teacher, student):
    course.grading_scheme = [{"letter": "P", "min_percent": 50.5}, {"letter": "N", "min_percent": 0}]
    course.save()
    passing, failing = make_test(course, "Passing", max_score="1000"), make_test(course, "Failing", max_score="1000")
    score(passing, student, "505", teacher)

    row = grade_of(course, student)
    assert (row["current_percent"], row["letter"]) == (Decimal("50.50"), "P")
    assert (row["final_percent"], row["final_letter"]) == (Decimal("25.25"), "N")
    assert row["missing"] == [failing.pk]


def test_null_scheme_gives_no_letter(course, teacher, student):
    course.grading_scheme = None
    course.save()
    score(make_test(course, "Exam"), student, "95", teacher)

    row = grade_of(course, student)
    assert row["current_percent"] == Decimal("95.00")
    assert row["letter"] is row["final_letter"] is None


# --- time zone ------------------------------------------------------------------------------------


def test_a_test_dated_today_is_not_due(course, teacher, student):
    today = make_test(course, "Today", on=TODAY)
    yesterday = make_test(course, "Yesterday", on=TODAY - timedelta(days=1))

    assert grade_of(course, student)["missing"] == [yesterday.pk]
    assert grade_of(course, student, today=TODAY + timedelta(days=1))["missing"] == [today.pk, yesterday.pk]


def test_course_today_is_in_the_course_time_zone():
    instant = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)  # 01:00 on the 6th in Auckland, 04:00 on the 5th in LA
    assert grades.course_today(Course(time_zone="Pacific/Auckland"), instant) == date(2026, 12, 6)
    assert grades.course_today(Course(time_zone="America/Los_Angeles"), instant) == date(2026, 12, 5)
    assert grades.course_today(Course(time_zone="UTC"), instant) == date(2026, 12, 5)


def test_due_follows_the_course_time_zone_by_default(course, student):
    test = make_test(course, "Dated the 5th", on=date(2026, 12, 5))
    with time_machine.travel(datetime(2026, 12, 5, 12, 0, tzinfo=UTC), tick=False):
        course.time_zone = "Pacific/Auckland"
        (row,) = grades.course_grades(course, student_id=student.pk)
        assert row["missing"] == [test.pk]

        course.time_zone = "America/Los_Angeles"
        (row,) = grades.course_grades(course, student_id=student.pk)
        assert row["missing"] == []


# --- shape ----------------------------------------------------------------------------------------


def test_rows_are_every_student_in_name_order_with_categories_in_position_order(
    course, teacher, student, classmate, make_user
):
    aaron = make_user("aaron@example.com", first_name="Aaron", last_name="Abbott")
    Enrollment.objects.create(user=aaron, course=course, role=Role.STUDENT)
    tests = first_category(course)
    early = GradeCategory.objects.create(course=course, name="Early", weight=Decimal(1), position=0)
    services.category_update(category=tests, position=1)

    rows = grades.course_grades(course, today=TODAY)
    assert [row["student"]["email"] for row in rows] == ["aaron@example.com", "student@example.com", classmate.email]
    assert rows[0]["student"] == {
        "id": aaron.pk,
        "email": "aaron@example.com",
        "first_name": "Aaron",
        "last_name": "Abbott",
    }
    assert [(c["id"], c["name"]) for c in rows[0]["categories"]] == [(early.pk, "Early"), (tests.pk, "Tests")]
