"""The course's letter chart (``grades.letter_distribution``, drawn on the course's admin page): the
``letter`` of every row of ``grades.course_grades`` counted, kept in the cache while nothing it is
computed from changes, and counted again after any change to it.

The course: Exams and Quizzes weighted 50/50, Quizzes drop their lowest; Devi has 95 on the exam and
8 and 5 of 10 on the quizzes (87.5: B), Ng 85, 8 and 8 (82.5: B), Okafor 70 and 7 (70: C).
"""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from courses import services as course_services
from courses.models import Course, Enrollment, Role
from grading import grades, services
from grading.models import Test, TestResult
from tests.conftest import first_category

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(course, teacher, student, make_user):
    course_services.course_update(course=course, weighting="categories")
    exams = services.category_update(category=first_category(course), name="Exams", weight=Decimal("50"))
    quizzes = services.category_create(course=course, name="Quizzes", weight=Decimal("50"), drop_lowest=1)
    exam = Test.objects.create(course=course, category=exams, name="Exam", date=date(2026, 11, 20))
    q1, q2 = (
        Test.objects.create(course=course, category=quizzes, name=f"Quiz {n}", date=date(2026, 11, n), max_score=10)
        for n in (1, 2)
    )
    ng, okafor = make_user(last_name="Ng"), make_user(last_name="Okafor")
    for user in (ng, okafor):
        course_services.enroll(user=user, course=course, role=Role.STUDENT)
    scores = {student: [95, 8, 5], ng: [85, 8, 8], okafor: [70, 7, None]}
    for who, points in scores.items():
        for test, score in zip([exam, q1, q2], points, strict=True):
            if score is not None:
                services.result_record(test=test, student=who, score=Decimal(score), by=teacher)
    return {
        "course": course,
        "teacher": teacher,
        "exams": exams,
        "quizzes": quizzes,
        "exam": exam,
        "q1": q1,
        "q2": q2,
        "devi": student,
        "ng": ng,
        "okafor": okafor,
        "make_user": make_user,
    }


def counted(course) -> list[dict]:
    """The letters of ``course_grades``' rows, counted in the scheme's order, then those with none."""
    letters = [row["letter"] for row in grades.course_grades(course, with_categories=False)]
    scheme = [row["letter"] for row in course.grading_scheme or []]
    return [{"letter": letter, "count": letters.count(letter)} for letter in [*scheme, None]]


def chart(course) -> dict:
    return {row["letter"]: row["count"] for row in grades.letter_distribution(Course.objects.get(pk=course.pk))}


def result_of(world, who, test) -> TestResult:
    return TestResult.objects.select_related("test").get(test=world[test], student=world[who])


def test_the_chart_counts_the_letters_of_the_course_grades(world):
    course = world["course"]

    assert grades.letter_distribution(course) == counted(course)
    assert chart(course) == {"A": 0, "B": 2, "C": 1, "D": 0, "F": 0, None: 0}


def test_a_second_read_with_nothing_changed_computes_no_grade(world):
    course = world["course"]
    grades.letter_distribution(course)

    with CaptureQueriesContext(connection) as queries:
        again = grades.letter_distribution(course)

    assert again == counted(course)
    assert len(queries) == 2  # the categories, and the digests of what the letters are computed from
    assert not any("ranked AS" in query["sql"] for query in queries.captured_queries)


def test_after_a_grade_changes_only_that_students_grade_is_computed_again(world):
    course = world["course"]
    grades.letter_distribution(course)
    _score(world, "ng", "exam", "100")  # 90: A

    with CaptureQueriesContext(connection) as queries:
        after = grades.letter_distribution(course)

    assert after == counted(course)
    assert chart(course)["A"] == 1
    (graded,) = [query["sql"] for query in queries.captured_queries if "ranked AS" in query["sql"]]
    assert set(re.findall(r"ANY\('\{([0-9,]+)\}'", graded)) == {str(world["ng"].pk)}  # the students graded


def test_a_change_to_the_tests_while_the_chart_is_counted_grades_every_student_anew(world):
    course = world["course"]
    grades.letter_distribution(course)
    _score(world, "ng", "exam", "100")  # Ng's letter is to be computed again
    changed = []

    def meanwhile(execute, sql, params, many, context):
        answer = execute(sql, params, many, context)
        if not changed and "AS digest" in sql and "ranked AS" not in sql:  # the students' digests were read
            changed.append(Test.objects.filter(pk=world["exam"].pk).update(max_score=200))
        return answer

    with connection.execute_wrapper(meanwhile):
        after = grades.letter_distribution(course)

    assert changed == [1]
    assert after == counted(course)
    assert chart(course) == {"A": 0, "B": 0, "C": 0, "D": 2, "F": 1, None: 0}  # 63.75, 65 and 52.5


def test_a_student_unenrolled_while_the_chart_is_counted_and_enrolled_again_is_counted(world):
    course = world["course"]
    grades.letter_distribution(course)
    _score(world, "ng", "exam", "100")  # Ng's and Okafor's letters are to be computed again
    _record(world, "okafor", "q2", "10")
    left = []

    def meanwhile(execute, sql, params, many, context):
        answer = execute(sql, params, many, context)
        if not left and "AS digest" in sql and "ranked AS" not in sql:  # the students' digests were read
            left.append(_unenroll(world, "ng"))
        return answer

    with connection.execute_wrapper(meanwhile):
        grades.letter_distribution(course)
    course_services.enroll(user=world["ng"], course=course, role=Role.STUDENT)

    assert left == [None]
    assert grades.letter_distribution(course) == counted(course)
    assert chart(course) == {"A": 1, "B": 2, "C": 0, "D": 0, "F": 0, None: 0}


def _score(world, who, test, points):
    result = result_of(world, who, test)
    services.result_update(result=result, score=Decimal(points), by=world["teacher"])


def _record(world, who, test, points):
    services.result_record(test=world[test], student=world[who], score=Decimal(points), by=world["teacher"])


def _delete(world, who, test):
    services.result_delete(result=result_of(world, who, test), by=world["teacher"])


def _excuse(world, who, test):
    services.result_update(result=result_of(world, who, test), score=None, excused=True, by=world["teacher"])


def _test(world, test, **changes):
    services.test_update(test=Test.objects.get(pk=world[test].pk), **changes)


def _category(world, category, **changes):
    services.category_update(category=world[category], **changes)


def _course(world, **changes):
    course_services.course_update(course=Course.objects.get(pk=world["course"].pk), **changes)


def _unenroll(world, who):
    course_services.unenroll(enrollment=Enrollment.objects.get(user=world[who], course=world["course"]))


def _enroll_someone(world):
    course_services.enroll(user=world["make_user"](), course=world["course"], role=Role.STUDENT)


CHANGES = {
    "a score changes": lambda w: _score(w, "devi", "exam", "50"),  # 65: D
    "a result is recorded": lambda w: _record(w, "okafor", "q2", "10"),  # 85: B
    "a result is deleted": lambda w: _delete(w, "devi", "q1"),  # 72.5: C
    "a result is excused": lambda w: _excuse(w, "devi", "q1"),  # 72.5: C
    "a test's max score changes": lambda w: _test(w, "exam", max_score=Decimal("200")),  # 63.75: D
    "a test is never dropped": lambda w: _test(w, "q2", never_drop=True),  # 72.5: C
    "a test moves to another category": lambda w: _test(w, "exam", category=w["quizzes"]),  # 93.64: A
    "a test is deleted with its results": lambda w: services.test_delete(test=w["q1"], force=True, by=w["teacher"]),
    "a category's weight changes": lambda w: _category(w, "exams", weight=Decimal("150")),  # 91.25: A
    "a category's drop rules change": lambda w: _category(w, "quizzes", drop_lowest=0, drop_highest=1),  # C
    "the weighting changes": lambda w: _course(w, weighting="points"),  # 103 / 110: A
    "the grading scheme changes": lambda w: _course(
        w, grading_scheme=[{"letter": "Pass", "min_percent": 75}, {"letter": "Fail", "min_percent": 0}]
    ),
    "a student is enrolled": _enroll_someone,  # no letter yet
    "a student is unenrolled": lambda w: _unenroll(w, "okafor"),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
def test_the_chart_counts_again_after_a_change_to_what_it_is_computed_from(world, change):
    course = world["course"]
    before = chart(course)  # now in the cache

    change(world)

    after = chart(course)
    assert after != before
    assert after == {row["letter"]: row["count"] for row in counted(Course.objects.get(pk=course.pk))}


def test_two_scores_swapped_between_tests_are_counted_again(course, teacher, student):
    """The same scores on other tests: a student's results are told apart by test, not only by score."""
    course_services.course_update(course=course, weighting="categories")
    major = services.category_update(category=first_category(course), weight=Decimal("90"))
    minor = services.category_create(course=course, name="Minor", weight=Decimal("10"))
    tests = [
        Test.objects.create(course=course, category=c, name=c.name, date=date(2026, 11, 1), max_score=10)
        for c in (major, minor)
    ]
    for test, score in zip(tests, ["10", "0"], strict=True):
        services.result_record(test=test, student=student, score=Decimal(score), by=teacher)
    before = chart(course)

    for test, score in zip(tests, ["0", "10"], strict=True):
        result = TestResult.objects.select_related("test").get(test=test, student=student)
        services.result_update(result=result, score=Decimal(score), by=teacher)

    assert (before["A"], chart(course)["F"]) == (1, 1)
    assert grades.letter_distribution(course) == counted(course)


def test_each_course_has_its_own_chart(world, other_course, teacher):
    assert chart(world["course"]) != chart(other_course)
    assert chart(other_course) == {"A": 0, "B": 0, "C": 0, "D": 0, "F": 0, None: 0}


# Any sequence of changes ---------------------------------------------------------------------------

KINDS = ["score", "score", "delete", "excuse", "max", "never_drop", "move", "drops", "weight", "enroll", "unenroll"]


def _result(test, student):
    return TestResult.objects.select_related("test").filter(test=test, student=student).first()


def _apply(kind: str, a: int, b: int, course, teacher, categories, tests, students):
    test, student, category = tests[a % len(tests)], students[b % len(students)], categories[a % len(categories)]
    enrolled = Enrollment.objects.filter(user=student, course=course, role=Role.STUDENT).exists()
    result = _result(test, student)
    if kind in ("score", "excuse") and enrolled:
        score = None if kind == "excuse" else Decimal(b % 11) * test.max_score / 10
        if result is None:
            services.result_record(test=test, student=student, score=score, excused=score is None, by=teacher)
        else:
            services.result_update(result=result, score=score, excused=score is None, by=teacher)
    elif kind == "delete" and result is not None:
        services.result_delete(result=result, by=teacher)
    elif kind == "max":
        services.test_update(test=Test.objects.get(pk=test.pk), max_score=test.max_score + b)
        test.refresh_from_db()
    elif kind == "never_drop":
        services.test_update(test=Test.objects.get(pk=test.pk), never_drop=not test.never_drop)
        test.refresh_from_db()
    elif kind == "move":
        services.test_update(test=Test.objects.get(pk=test.pk), category=categories[b % len(categories)])
    elif kind == "drops":
        services.category_update(category=category, drop_lowest=b % 3, drop_highest=b // 3 % 2)
    elif kind == "weight":
        services.category_update(category=category, weight=Decimal(b * 10))
    elif kind == "enroll" and not enrolled:
        course_services.enroll(user=student, course=course, role=Role.STUDENT)
    elif kind == "unenroll" and enrolled:
        course_services.unenroll(enrollment=Enrollment.objects.get(user=student, course=course))


@pytest.mark.django_db
@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    weighting=st.sampled_from(["points", "categories"]),
    changes=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 5), st.integers(0, 10)), min_size=1, max_size=10),
)
def test_after_any_sequence_of_changes_the_chart_counts_the_course_grades(weighting, changes):
    # Each example in a savepoint rolled back at its end, with a course of its own.
    with transaction.atomic():
        teacher = User.objects.create_user(f"t{next(_ids)}@example.com")
        course = course_services.course_create(name="Changes", by=teacher, weighting=weighting)
        categories = [
            services.category_update(category=first_category(course), drop_lowest=1),
            services.category_create(course=course, name="Quizzes", weight=Decimal("30")),
        ]
        tests = [
            Test.objects.create(
                course=course, category=categories[n % 2], name=f"T{n}", date=date(2026, 11, 1 + n), max_score=10
            )
            for n in range(3)
        ]
        students = [User.objects.create_user(f"s{next(_ids)}@example.com") for _ in range(3)]
        for student in students[:2]:
            course_services.enroll(user=student, course=course, role=Role.STUDENT)
        assert grades.letter_distribution(course) == counted(course)
        for kind, a, b in changes:
            _apply(kind, a, b, course, teacher, categories, tests, students)
            course = Course.objects.get(pk=course.pk)
            assert grades.letter_distribution(course) == counted(course), (kind, a, b)
        transaction.set_rollback(True)


_ids = iter(range(1, 10**9))
