from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from gradingsite.validators import validate_name, validate_text, validate_time_zone
from gradingsite.versions import Versioned

LATE_INTERVALS = ("hour", "day")
LATE_KEYS = ("deduction_percent", "interval", "minimum_percent")


def late_policy_problem(value) -> tuple[str | None, str] | None:
    """What is wrong with a late policy, as ``(key, message)`` (``key`` None: the whole value), or None.

    ``null`` (no deduction) or exactly ``{"deduction_percent": 0 < p ≤ 100, "interval": "hour" |
    "day", "minimum_percent": 0 ≤ m ≤ 100}``, numbers with at most 2 decimals.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != set(LATE_KEYS):
        return None, "Expected null or exactly the keys deduction_percent, interval and minimum_percent."
    if value["interval"] not in LATE_INTERVALS:
        return "interval", 'interval must be "hour" or "day".'
    for key, low_open in (("deduction_percent", True), ("minimum_percent", False)):
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int | float | Decimal):
            return key, f"{key} must be a number."
        exact = Decimal(str(number))
        too_low = exact <= 0 if low_open else exact < 0
        if not exact.is_finite() or too_low or exact > 100 or exact != exact.quantize(Decimal("0.01")):
            bounds = "0 < deduction_percent ≤ 100" if low_open else "0 ≤ minimum_percent ≤ 100"
            return key, f"{key} must be a number with {bounds}, at most 2 decimals."
    return None


def check_late_policy(value) -> dict | None:
    """A late policy as a course stores it (``late_policy_problem``'s rules), or ``ValidationError``
    saying what is wrong. Numbers are stored as JSON numbers: whole ones as integers."""
    problem = late_policy_problem(value)
    if problem is not None:
        raise ValidationError(problem[1], code="invalid")
    if value is None:
        return None
    policy = {"interval": value["interval"]}
    for key in ("deduction_percent", "minimum_percent"):
        exact = Decimal(str(value[key]))
        policy[key] = int(exact) if exact == exact.to_integral() else float(exact)
    return {key: policy[key] for key in LATE_KEYS}


def validate_late_policy(value) -> None:
    check_late_policy(value)


def default_grading_scheme() -> list[dict]:
    """Letters by percent: A from 90, B from 80, C from 70, D from 60, F below."""
    return [
        {"letter": "A", "min_percent": 90},
        {"letter": "B", "min_percent": 80},
        {"letter": "C", "min_percent": 70},
        {"letter": "D", "min_percent": 60},
        {"letter": "F", "min_percent": 0},
    ]


class Weighting(models.TextChoices):
    POINTS = "points", "Total points"
    CATEGORIES = "categories", "Weighted categories"


class Role(models.TextChoices):
    STUDENT = "STUDENT", "Student"
    TEACHER = "TEACHER", "Teacher"


class CourseQuerySet(models.QuerySet):
    def taught_by(self, user):
        return self.filter(enrollments__user=user, enrollments__role=Role.TEACHER)

    def studied_by(self, user):
        return self.filter(enrollments__user=user, enrollments__role=Role.STUDENT)


class Course(Versioned):
    name = models.CharField(max_length=200, validators=[validate_name])
    details = models.TextField(blank=True, default="", validators=[validate_text])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Enrollment", related_name="courses")
    # How the course grade is computed (grading.grades): the categories' weights or the total points,
    # the letters by percent (null: no letters), and the time zone in which a test's date falls due.
    weighting = models.CharField(max_length=10, choices=Weighting.choices, default=Weighting.POINTS)
    grading_scheme = models.JSONField(null=True, blank=True, default=default_grading_scheme)
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    # What late work loses (``grading.submissions``): null, no deduction; else ``{"deduction_percent",
    # "interval", "minimum_percent"}`` (``check_late_policy``).
    late_policy = models.JSONField(null=True, blank=True, default=None, validators=[validate_late_policy])

    objects = CourseQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weighting__in=Weighting.values), name="course_weighting_valid"),
        ]

    def __str__(self):
        return self.name


class Enrollment(models.Model):
    """A user's role in a course: one enrollment per user and course."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="enrollments")
    role = models.CharField(max_length=7, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "course"], name="enrollment_one_per_user_course"),
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="enrollment_role_valid"),
        ]
        indexes = [
            # "Which courses does this user teach / study?" — asked on every authorization check.
            models.Index(fields=["user", "role", "course"], name="enrollment_user_role"),
            models.Index(fields=["course", "role"], name="enrollment_course_role"),
        ]

    def __str__(self):
        return f"{self.user} — {self.course} ({self.role})"


class Feedback(models.Model):
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="feedback")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="feedback")
    feedback = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "feedback"

    def __str__(self):
        return f"{self.student} on {self.course}"
