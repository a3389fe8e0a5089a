"""Load the demo data, and optionally bulk data for load tests. Running it twice changes nothing."""

import random
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from courses.models import Course, Enrollment, Feedback, Role
from grading import services
from grading.models import GradeChange, Test

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


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = "Load the demo course (idempotent); with --students/--tests/--courses, bulk data for load tests too."

    def add_arguments(self, parser):
        parser.add_argument("--students", type=_non_negative, default=0, help="students in every bulk course")
        parser.add_argument("--tests", type=_non_negative, default=0, help="tests in every bulk course")
        parser.add_argument("--courses", type=_non_negative, default=None, help="bulk courses (default 1)")

    def handle(self, *args, students, tests, courses, **options):
        seed_demo()
        self.stdout.write(f"Demo data ready: course {DEMO_COURSE!r}.")
        if students or tests or courses:
            courses = 1 if courses is None else courses
            if not courses:
                raise CommandError("--courses must be at least 1 with --students or --tests")
            counts = seed_bulk(students=students, tests=tests, courses=courses)
            self.stdout.write(
                "Bulk data ready: {courses} courses, {students} students, {tests} tests, {results} results.".format(
                    **counts
                )
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
    outcome = services.results_upsert(test=test, items=items, by=by, via=GradeChange.Via.IMPORT)
    if outcome.errors:
        raise CommandError(f"Could not seed results of {test}: {outcome.errors[:3]}")
    return outcome


@transaction.atomic
def seed_bulk(*, students: int, tests: int, courses: int) -> dict[str, int]:
    """Bulk data with stable names and scores: every student takes every test of every bulk course."""
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
    results = 0
    for k in range(1, courses + 1):
        teacher = _user(email=f"teacher{k:03d}@bulk.example.com", first_name="Teacher", last_name=f"{k:03d}")
        course, _ = Course.objects.get_or_create(name=f"Bulk course {k:03d}", defaults={"details": "Load-test data."})
        Enrollment.objects.get_or_create(user=teacher, course=course, defaults={"role": Role.TEACHER})
        Enrollment.objects.bulk_create(
            [Enrollment(user_id=pk, course=course, role=Role.STUDENT) for pk in student_ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
        for m in range(1, tests + 1):
            test, _ = Test.objects.get_or_create(
                course=course, name=f"Test {m:02d}", defaults={"date": date(2026, 1, 1) + timedelta(days=7 * m)}
            )
            rng = random.Random(k * 100_000 + m)
            items = [(pk, Decimal(rng.randint(0, 10_000)) / 100) for pk in student_ids]
            _upsert(test, items, by=teacher)
            results += len(items)
    return {"courses": courses, "students": len(student_ids), "tests": tests * courses, "results": results}
