"""``grades.course_grades`` agrees with the plain-Python reference (tests/grades_reference.py) on random
small courses: categories with weights (0 too) and drops, tests around today, published or not, never
dropped or not, and for each student and test no result, an excused one or a score; also for some of
the students only (a page of them). The letter chart (``grades.letter_distribution``) counts the
reference's letters of every student.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from courses.models import Course, Enrollment, Role, default_grading_scheme
from grading import grades
from grading.models import GradeCategory, Test, TestResult
from tests import grades_reference as reference
from tests.conftest import first_category

TODAY = date(2026, 12, 5)

EXCUSED = "excused"


def hundredths(low: int, high: int):
    """Decimals with 2 places from ``low``/100 to ``high``/100."""
    return st.integers(low, high).map(lambda n: Decimal(n).scaleb(-2))


@dataclass(frozen=True)
class CategorySpec:
    weight: Decimal
    drop_lowest: int
    drop_highest: int
    position: int


@dataclass(frozen=True)
class TestSpec:
    category: int  # index into the course's categories
    days_from_today: int
    max_score: Decimal
    results_published: bool
    never_drop: bool


@dataclass(frozen=True)
class CourseSpec:
    weighting: str
    grading_scheme: list[dict] | None
    categories: list[CategorySpec]
    tests: list[TestSpec]
    students: list[tuple[str, str]]  # (first name, last name); emails s1@…, s2@…
    cells: dict[tuple[int, int], Decimal | str]  # (student index, test index) → score or EXCUSED; absent: none
    published_only: bool
    one_student: bool


categories_ = st.builds(
    CategorySpec,
    weight=st.one_of(st.sampled_from([Decimal("0.00"), Decimal("50.00"), Decimal("100.00")]), hundredths(0, 99999)),
    drop_lowest=st.integers(0, 3),
    drop_highest=st.integers(0, 3),
    position=st.integers(0, 2),
)

# Small round max scores make equal percents (and so the tie rules) common.
max_scores = st.one_of(st.sampled_from([Decimal("10.00"), Decimal("20.00"), Decimal("100.00")]), hundredths(1, 9999999))


@st.composite
def schemes(draw):
    kind = draw(st.sampled_from(["none", "default", "random"]))
    if kind == "none":
        return None
    if kind == "default":
        return default_grading_scheme()
    cutoffs = sorted(draw(st.sets(st.integers(1, 10000), max_size=3)), reverse=True)
    return [{"letter": f"L{n}", "min_percent": c / 100} for n, c in enumerate([*cutoffs, 0])]


@st.composite
def course_specs(draw):
    categories = draw(st.lists(categories_, min_size=1, max_size=4))
    # Counts drawn evenly (lists lean short): categories with several tests to drop from are common.
    count = draw(st.integers(0, 8))
    tests = draw(
        st.lists(
            st.builds(
                TestSpec,
                category=st.integers(0, len(categories) - 1),
                days_from_today=st.integers(-2, 1),
                max_score=max_scores,
                results_published=st.booleans(),
                never_drop=st.sampled_from([False, False, True]),
            ),
            min_size=count,
            max_size=count,
        )
    )
    names = st.tuples(st.sampled_from(["Ann", "Bob"]), st.sampled_from(["Adams", "Baker"]))
    students = draw(st.lists(names, min_size=draw(st.integers(1, 5)), max_size=5))
    cells = {}
    for s in range(len(students)):
        for t, test in enumerate(tests):
            top = int(test.max_score * 100)
            # Whole, half and no marks often, for equal percents.
            kind = draw(st.sampled_from(["none", "excused", "round", "round", "round", "any"]))
            if kind == "excused":
                cell = EXCUSED
            elif kind == "round":
                cell = Decimal(draw(st.sampled_from([0, top // 2, top]))).scaleb(-2)
            elif kind == "any":
                cell = draw(hundredths(0, top))
            else:
                cell = None
            if cell is not None:
                cells[s, t] = cell
    return CourseSpec(
        weighting=draw(st.sampled_from(["points", "categories"])),
        grading_scheme=draw(schemes()),
        categories=categories,
        tests=tests,
        students=students,
        cells=cells,
        published_only=draw(st.booleans()),
        one_student=draw(st.booleans()),
    )


def build(spec: CourseSpec):
    """The course in the database, and the reference's arguments for it."""
    course = Course.objects.create(name="Property", weighting=spec.weighting, grading_scheme=spec.grading_scheme)
    categories = []
    for n, c in enumerate(spec.categories):
        fields = {"weight": c.weight, "drop_lowest": c.drop_lowest, "drop_highest": c.drop_highest}
        if n == 0:  # the one every new course gets
            category = first_category(course)
            GradeCategory.objects.filter(pk=category.pk).update(position=c.position, **fields)
        else:
            category = GradeCategory.objects.create(course=course, name=f"C{n}", position=c.position, **fields)
        categories.append(reference.Category(category.pk, category.name, position=c.position, **fields))

    tests = []
    for n, t in enumerate(spec.tests):
        test = Test.objects.create(
            course=course,
            category_id=categories[t.category].id,
            name=f"T{n}",
            date=TODAY + timedelta(days=t.days_from_today),
            max_score=t.max_score,
            results_published=t.results_published,
            never_drop=t.never_drop,
        )
        tests.append(
            reference.Test(test.pk, test.category_id, test.date, t.max_score, t.results_published, t.never_drop)
        )

    teacher = User.objects.create_user(email="t@example.com", first_name="Tess", last_name="Teacher")
    Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
    students = []
    for n, (first_name, last_name) in enumerate(spec.students, start=1):
        user = User.objects.create_user(email=f"s{n}@example.com", first_name=first_name, last_name=last_name)
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
        students.append({"id": user.pk, "email": user.email, "first_name": first_name, "last_name": last_name})

    results = {}
    rows = []
    for (s, t), cell in spec.cells.items():
        score = None if cell == EXCUSED else cell
        results[students[s]["id"], tests[t].id] = score
        rows.append(TestResult(test_id=tests[t].id, student_id=students[s]["id"], score=score, excused=score is None))
    TestResult.objects.bulk_create(rows)

    arguments = {
        "weighting": spec.weighting,
        "grading_scheme": spec.grading_scheme,
        "categories": categories,
        "tests": tests,
        "students": students,
        "results": results,
        "today": TODAY,
        "published_only": spec.published_only,
    }
    return course, arguments


def shown(value):
    """Decimals as their text, so that ``80.00`` and ``80.0`` differ."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {key: shown(v) for key, v in value.items()}
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


@pytest.mark.django_db
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=course_specs())
def test_course_grades_match_the_reference(spec):
    # Each example in a savepoint rolled back at its end: the test's transaction is not reset between examples.
    with transaction.atomic():
        course, arguments = build(spec)
        expected = reference.course_grades(**arguments)
        if spec.one_student:
            student_id = arguments["students"][0]["id"]
            expected = [row for row in expected if row["student"]["id"] == student_id]
        else:
            student_id = None
        actual = grades.course_grades(course, student_id=student_id, published_only=spec.published_only, today=TODAY)
        assert shown(actual) == shown(expected)
        some = [row["student"]["id"] for row in expected][::2]  # a page of them
        page = grades.course_grades(course, student_ids=some, published_only=spec.published_only, today=TODAY)
        assert shown(page) == shown([row for row in expected if row["student"]["id"] in some])
        letters = [row["letter"] for row in reference.course_grades(**{**arguments, "published_only": False})]
        scheme = [row["letter"] for row in spec.grading_scheme or []]
        assert grades.letter_distribution(course) == [
            {"letter": letter, "count": letters.count(letter)} for letter in dict.fromkeys([*scheme, None])
        ]
        transaction.set_rollback(True)
