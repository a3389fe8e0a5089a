"""Load the demo data, and optionally bulk data for load tests. Running it twice changes nothing."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from courses.models import Course, Enrollment, Feedback, Role, Weighting
from grading import services
from grading.models import GradeCategory, GradeChange, Test
from gradingsite.services import model_update

User = get_user_model()

DEMO_COURSE = "CRUD with Prisma"
DEMO_TEACHER = {
    "email": "grace@hey.com",
    "first_name": "Grace",
    "last_name": "Bell",
    "social": {"facebook": "gracebell", "twitter": "therealgracebell"},
}
DEMO_STUDENTS = [
    {"email": "devi@prisma.io", "first_name": "Shakuntala", "last_name": "Devi"},
    {"email": "david@prisma.io", "first_name": "David", "last_name": "Deutsch"},
]
# (name, days from the first seeding, scores of Shakuntala and David), out of 1000 as in the original app.
DEMO_TESTS = [
    ("First test", 7, Decimal("800"), Decimal("650")),
    ("Second test", 14, Decimal("950"), Decimal("900")),
    ("Final exam", 28, Decimal("910"), Decimal("950")),
]
DEMO_MAX_SCORE = Decimal("1000")
DEMO_FEEDBACK = "Clear explanations and fair tests. The relations chapter was the best part."

# The bulk courses' categories with --categories N > 1: (name, weight, drop_lowest, drop_highest),
# cycled for N > 4 ("Exams 2", ...), weights scaled to sum to 100.
BULK_CATEGORIES = [("Exams", 40, 0, 0), ("Quizzes", 30, 1, 0), ("Homework", 20, 2, 0), ("Project", 10, 0, 0)]
# With categories, one result in this many is excused (deterministic: by student and test).
EXCUSED_ONE_IN = 50


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def category_specs(count: int) -> list[tuple[str, Decimal, int, int]]:
    """``count`` bulk categories: ``(name, weight, drop_lowest, drop_highest)``, the weights summing to 100.

    The first four are ``BULK_CATEGORIES``; more cycle through them with a number ("Exams 2"). The
    weights keep their proportions, in hundredths, the rounding left over going to the largest
    remainders (then the earlier categories), so they add up to exactly 100.
    """
    rows = []
    for i in range(count):
        name, weight, low, high = BULK_CATEGORIES[i % len(BULK_CATEGORIES)]
        lap = i // len(BULK_CATEGORIES)
        rows.append((name if lap == 0 else f"{name} {lap + 1}", weight, low, high))
    total = sum(weight for _, weight, _, _ in rows)
    # In hundredths of a percent: whole parts and remainders, in integers (exact).
    parts = [divmod(weight * 10_000, total) for _, weight, _, _ in rows]
    hundredths = [whole for whole, _ in parts]
    by_remainder = sorted(range(count), key=lambda i: (-parts[i][1], i))
    for i in by_remainder[: 10_000 - sum(hundredths)]:
        hundredths[i] += 1
    return [(name, Decimal(h).scaleb(-2), low, high) for (name, _, low, high), h in zip(rows, hundredths, strict=True)]


class Command(BaseCommand):
    help = "Load the demo course (idempotent); with --students/--tests/--courses, bulk data for load tests too."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=_non_negative, default=0, help="students in every bulk course")
        parser.add_argument("--tests", type=_non_negative, default=0, help="tests in every bulk course")
        parser.add_argument("--courses", type=_non_negative, default=None, help="bulk courses (default 1)")
        parser.add_argument(
            "--categories",
            type=_positive,
            default=1,
            help='grade categories of every bulk course (default 1: the course\'s own "Tests", by points). '
            "With more: Exams 40, Quizzes 30 (drop lowest 1), Homework 20 (drop lowest 2), Project 10, "
            "cycled and scaled to 100; weighting by categories, tests spread round-robin over them, "
            f"and one result in {EXCUSED_ONE_IN} excused",
        )

    def handle(self, *args, students, tests, courses, categories=1, **options):
        seed_demo()
        self.stdout.write(f"Demo data ready: course {DEMO_COURSE!r}.")
        if students or tests or courses:
            courses = 1 if courses is None else courses
            if not courses:
                raise CommandError("--courses must be at least 1 with --students or --tests")
            counts = seed_bulk(students=students, tests=tests, courses=courses, categories=categories)
            self.stdout.write(
                "Bulk data ready: {courses} courses, {students} students, {tests} tests, {results} results"
                " ({excused} excused), {categories} categories per course.".format(**counts)
            )


@transaction.atomic
def seed_demo() -> Course:
    grace = _user(**DEMO_TEACHER)
    students = [_user(**fields) for fields in DEMO_STUDENTS]
    course, _ = Course.objects.get_or_create(
        name=DEMO_COURSE, defaults={"details": "Learn to create, read, update and delete data with an ORM."}
    )
    Enrollment.objects.get_or_create(user=grace, course=course, defaults={"role": Role.TEACHER})
    for student in students:
        Enrollment.objects.get_or_create(user=student, course=course, defaults={"role": Role.STUDENT})
    today = date.today()
    for name, days, *scores in DEMO_TESTS:
        test, _ = Test.objects.get_or_create(
            course=course, name=name, defaults={"date": today + timedelta(days=days), "max_score": DEMO_MAX_SCORE}
        )
        items = [(student.pk, score) for student, score in zip(students, scores, strict=True)]
        _upsert(test, items, by=grace)
    Feedback.objects.get_or_create(course=course, student=students[0], defaults={"feedback": DEMO_FEEDBACK})
    return course


def _user(*, email, first_name, last_name, social=None):
    user, _ = User.objects.get_or_create(
        email=email, defaults={"first_name": first_name, "last_name": last_name, "social": social or {}}
    )
    return user


def _upsert(test, items, *, by):
    outcome = services.results_upsert(test=test, items=items, by=by, via=GradeChange.Via.IMPORT, notify=False)
    if outcome.errors:
        raise CommandError(f"Could not seed results of {test}: {outcome.errors[:3]}")
    return outcome


@transaction.atomic
def seed_bulk(*, students: int, tests: int, courses: int, categories: int = 1) -> dict[str, int]:
    """Bulk data with stable names and scores: every student takes every test of every bulk course.

    With ``categories`` > 1 every course is weighted by ``category_specs(categories)``, test ``m``
    goes to category ``(m - 1) % categories``, and one result in ``EXCUSED_ONE_IN`` is excused
    (the others keep the scores they have with one category).
    """
    emails = [f"student{i:05d}@bulk.example.com" for i in range(1, students + 1)]
    User.objects.bulk_create(
        [
            User(email=email, first_name="Student", last_name=f"{i:05d}", password=make_password(None))
            for i, email in enumerate(emails, start=1)
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    student_ids = list(User.objects.filter(email__in=emails).order_by("email").values_list("pk", flat=True))
    results = excused = 0
    for k in range(1, courses + 1):
        teacher = _user(email=f"teacher{k:03d}@bulk.example.com", first_name="Teacher", last_name=f"{k:03d}")
        course, _ = Course.objects.get_or_create(name=f"Bulk course {k:03d}", defaults={"details": "Load-test data."})
        Enrollment.objects.get_or_create(user=teacher, course=course, defaults={"role": Role.TEACHER})
        Enrollment.objects.bulk_create(
            [Enrollment(user_id=pk, course=course, role=Role.STUDENT) for pk in student_ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
        spread = _bulk_categories(course, categories) if categories > 1 else None
        for m in range(1, tests + 1):
            defaults = {"date": date(2026, 1, 1) + timedelta(days=7 * m)}
            if spread:
                defaults["category"] = spread[(m - 1) % len(spread)]
            test, _ = Test.objects.get_or_create(course=course, name=f"Test {m:02d}", defaults=defaults)
            if spread:  # a test seeded before with other categories moves to its own
                model_update(instance=test, fields=["category"], data=defaults)
            rng = random.Random(k * 100_000 + m)
            items = [(pk, Decimal(rng.randint(0, 10_000)) / 100) for pk in student_ids]
            if spread:
                # The same draws as with one category; a few of them then excused.
                items = [
                    (pk, None if (7 * i + m) % EXCUSED_ONE_IN == 0 else score) for i, (pk, score) in enumerate(items)
                ]
                excused += sum(score is None for _, score in items)
            _upsert(test, items, by=teacher)
            results += len(items)
        if spread:
            # The course's own "Tests" (and any other category of an earlier seeding), once empty.
            others = GradeCategory.objects.filter(course=course, tests__isnull=True)
            others.exclude(pk__in=[c.pk for c in spread]).delete()
    return {
        "courses": courses,
        "students": len(student_ids),
        "tests": tests * courses,
        "results": results,
        "excused": excused,
        "categories": categories,
    }


def _bulk_categories(course: Course, count: int) -> list[GradeCategory]:
    """The course's ``count`` bulk categories, made or brought to ``category_specs(count)``, and
    its weighting by categories. Nothing is written when they are so already."""
    made = []
    for position, (name, weight, low, high) in enumerate(category_specs(count)):
        wanted = {"weight": weight, "drop_lowest": low, "drop_highest": high, "position": position}
        category, created = GradeCategory.objects.get_or_create(course=course, name=name, defaults=wanted)
        if not created:
            model_update(instance=category, fields=wanted, data=wanted)
        made.append(category)
    model_update(instance=course, fields=["weighting"], data={"weighting": Weighting.CATEGORIES})
    return made
