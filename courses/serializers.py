"""The API's input and output shapes of courses, enrollments and feedback.

Output serializers declare the representations: the schema reads them, and so do the views' fast
paths (``Output`` below builds the ``values_list()`` columns and the dicts from them).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from accounts.models import User
from accounts.serializers import UserSummarySerializer
from courses import policy
from courses.embeds import embeds
from courses.models import LATE_INTERVALS, Course, Enrollment, Feedback, Role, Weighting, check_late_policy
from gradingsite.api.serializers import (
    FreeTextField,
    NameField,
    Output,
    StrictCharField,
    StrictEmailField,
    StrictInputMixin,
    StrictPrimaryKeyRelatedField,
    TimeZoneField,
)
from gradingsite.errors import NotAllowed


class SchemeRowSerializer(serializers.Serializer):
    letter = serializers.CharField(max_length=20)
    min_percent = serializers.DecimalField(max_digits=5, decimal_places=2, coerce_to_string=False)


class LatePolicySerializer(serializers.Serializer):
    """What late work loses: ``deduction_percent`` of the max score per started ``interval`` late, never
    below ``minimum_percent`` of the max score."""

    deduction_percent = serializers.FloatField(help_text="0 < p ≤ 100, at most 2 decimals.")
    interval = serializers.ChoiceField(choices=[(i, i) for i in LATE_INTERVALS])
    minimum_percent = serializers.FloatField(help_text="0 ≤ m ≤ 100, at most 2 decimals.")


class CourseSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    details = serializers.CharField(read_only=True)
    teachers = UserSummarySerializer(many=True, read_only=True)
    my_role = serializers.ChoiceField(choices=Role.choices, allow_null=True, read_only=True)
    weighting = serializers.ChoiceField(choices=Weighting.choices, read_only=True)
    grading_scheme = SchemeRowSerializer(many=True, allow_null=True, read_only=True)
    time_zone = serializers.CharField(read_only=True)
    late_policy = LatePolicySerializer(read_only=True, allow_null=True)
    version = serializers.IntegerField(
        read_only=True, help_text="One more with every change; the ETag of the resource."
    )

    def get_fields(self):
        # After the teachers, each list an app above embeds (``courses.embeds``), as its serializer declares it.
        fields = list(super().get_fields().items())
        at = [key for key, _ in fields].index("teachers") + 1
        embedded = [(e.key, e.serializer(many=True, read_only=True)) for e in embeds.values() if e.serializer]
        return dict(fields[:at] + embedded + fields[at:])


SCHEME_MAX_ROWS = 50


def check_grading_scheme(value) -> list[dict] | None:
    """A grading scheme as a course stores it, or ``ValidationError`` saying what is wrong.

    ``null`` (no letters) or a list of ``{"letter", "min_percent"}``: letters non-empty and unique,
    ``min_percent`` numbers from 0 to 999.99 with at most 2 decimals, strictly descending, the last 0.
    """
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise serializers.ValidationError("Expected a non-empty list of {letter, min_percent} objects, or null.")
    if len(value) > SCHEME_MAX_ROWS:
        raise serializers.ValidationError(f"At most {SCHEME_MAX_ROWS} rows.")
    rows = []
    for index, row in enumerate(value):
        if not isinstance(row, dict) or set(row) != {"letter", "min_percent"}:
            raise serializers.ValidationError(f"Row {index}: expected exactly the keys letter and min_percent.")
        letter, minimum = row["letter"], row["min_percent"]
        if not isinstance(letter, str) or not letter.strip() or len(letter) > 20:
            raise serializers.ValidationError(
                f"Row {index}: letter must be a non-empty string of at most 20 characters."
            )
        if not letter.isprintable():
            raise serializers.ValidationError(f"Row {index}: letter must not contain control characters.")
        if isinstance(minimum, bool) or not isinstance(minimum, int | float):
            raise serializers.ValidationError(f"Row {index}: min_percent must be a number.")
        number = Decimal(str(minimum))
        if not number.is_finite() or number < 0 or number >= 1000 or number != number.quantize(Decimal("0.01")):
            raise serializers.ValidationError(f"Row {index}: min_percent must be from 0 to 999.99, at most 2 decimals.")
        if rows and number >= Decimal(str(rows[-1]["min_percent"])):
            raise serializers.ValidationError(
                f"Row {index}: min_percent must be lower than the row before (descending)."
            )
        if any(r["letter"] == letter.strip() for r in rows):
            raise serializers.ValidationError(f"Row {index}: the letter {letter.strip()!r} appears more than once.")
        rows.append(
            {"letter": letter.strip(), "min_percent": int(number) if number == number.to_integral() else float(number)}
        )
    if rows[-1]["min_percent"] != 0:
        raise serializers.ValidationError("The last row's min_percent must be 0, so every percent has a letter.")
    return rows


@extend_schema_field(
    {
        "type": "array",
        "nullable": True,
        "minItems": 1,
        "maxItems": SCHEME_MAX_ROWS,
        "items": {
            "type": "object",
            "properties": {
                "letter": {"type": "string", "minLength": 1, "maxLength": 20},
                "min_percent": {"type": "number", "minimum": 0, "maximum": 999.99},
            },
            "required": ["letter", "min_percent"],
            "additionalProperties": False,
        },
    }
)
class GradingSchemeField(serializers.JSONField):
    """A grading scheme (see ``check_grading_scheme``), or null for no letters."""

    def to_internal_value(self, data):
        return check_grading_scheme(data)


@extend_schema_field(
    {
        "type": "object",
        "nullable": True,
        "properties": {
            "deduction_percent": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 100},
            "interval": {"type": "string", "enum": list(LATE_INTERVALS)},
            "minimum_percent": {"type": "number", "minimum": 0, "maximum": 100},
        },
        "required": ["deduction_percent", "interval", "minimum_percent"],
        "additionalProperties": False,
    }
)
class LatePolicyField(serializers.JSONField):
    """A late policy (``courses.models.check_late_policy``), or null for no deduction."""

    def to_internal_value(self, data):
        try:
            return check_late_policy(data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None


@extend_schema_serializer(component_name="CourseInput")
class CourseInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "teachers", "tests", "my_role", "version")

    name = NameField(max_length=200)
    details = FreeTextField(required=False, allow_blank=True, max_length=100_000)
    weighting = serializers.ChoiceField(
        choices=Weighting.choices,
        required=False,
        help_text='"points": total points over total max points; "categories": the weighted mean of category percents.',
    )
    grading_scheme = GradingSchemeField(
        required=False,
        allow_null=True,
        help_text="Letters by minimum percent, descending, the last 0; null for no letters.",
    )
    time_zone = TimeZoneField(
        required=False, help_text="An IANA time zone: a test is due once its date is before today there."
    )
    late_policy = LatePolicyField(
        required=False,
        allow_null=True,
        help_text="null: no deduction; else {deduction_percent, interval, minimum_percent}.",
    )


class CourseSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    details = serializers.CharField(read_only=True)


class EnrollmentSerializer(serializers.Serializer):
    user = UserSummarySerializer(read_only=True)
    course = serializers.IntegerField(source="course_id", read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class UserEnrollmentSerializer(serializers.Serializer):
    """One of a user's enrollments, with its course."""

    user = UserSummarySerializer(read_only=True)
    course = CourseSummarySerializer(read_only=True)
    role = serializers.ChoiceField(choices=Role.choices, read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="UserEnrollmentInput")
class UserEnrollmentInputSerializer(StrictInputMixin, serializers.Serializer):
    """``POST /api/users/{id}/courses/``: enroll that user in a course."""

    course = StrictPrimaryKeyRelatedField(queryset=Course.objects.all())
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs):
        """Rule E (``policy.can_enroll``), asked here because it depends on the course and role in the
        body: a 403 when it refuses. The context names the caller (``actor``) and the ``user`` to enroll."""
        if not policy.can_enroll(self.context["actor"], self.context["user"], attrs["course"], attrs["role"]):
            raise NotAllowed(ENROLL_REFUSED)
        return attrs


ENROLL_REFUSED = "Only a teacher of the course or an admin may enroll someone else, or anyone as a teacher."


@extend_schema_serializer(component_name="MemberInput")
class MemberInputSerializer(StrictInputMixin, serializers.Serializer):
    """``POST /api/courses/{id}/members/``: a user by ``user`` (id) or by ``email``, and a role.

    An email nobody has yet creates that user.
    """

    user = StrictPrimaryKeyRelatedField(queryset=User.objects.all(), required=False)
    email = StrictEmailField(max_length=254, required=False)
    role = serializers.ChoiceField(choices=Role.choices)

    def validate(self, attrs):
        if ("user" in attrs) == ("email" in attrs):
            raise serializers.ValidationError("Give either user (an id) or email, not both.")
        return attrs


class FeedbackSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    course = serializers.IntegerField(source="course_id", read_only=True)
    student = serializers.IntegerField(source="student_id", read_only=True)
    feedback = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="FeedbackInput")
class FeedbackInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "course", "student", "created_at")

    feedback = StrictCharField(max_length=10_000)


# The fast path of the output serializers above (``gradingsite.api.serializers.Output``).

ENROLLMENT = Output(EnrollmentSerializer, model=Enrollment)
USER_ENROLLMENT = Output(UserEnrollmentSerializer, model=Enrollment)
FEEDBACK = Output(FeedbackSerializer, model=Feedback)
