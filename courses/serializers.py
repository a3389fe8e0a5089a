"""The API's input and output shapes of courses, enrollments and feedback.

Output serializers describe the representations for the schema; the views build the same dicts
from ``values()`` rows (``*_data`` functions below), which is several times faster on long lists.
"""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.models import User
from accounts.serializers import USER_SUMMARY_FIELDS, UserSummarySerializer
from courses.models import Course, Role
from gradingsite.api.serializers import (
    StrictCharField,
    StrictEmailField,
    StrictInputMixin,
    StrictPrimaryKeyRelatedField,
)


@extend_schema_serializer(component_name="CourseTest")
class CourseTestSerializer(serializers.Serializer):
    """A test as it appears in its course (the same shape as ``/api/tests/{id}/``)."""

    id = serializers.IntegerField(read_only=True)
    course = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    date = serializers.DateField(read_only=True)
    max_score = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, read_only=True)
    results_published = serializers.BooleanField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class CourseSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    details = serializers.CharField(read_only=True)
    teachers = UserSummarySerializer(many=True, read_only=True)
    tests = CourseTestSerializer(many=True, read_only=True)
    my_role = serializers.ChoiceField(choices=Role.choices, allow_null=True, read_only=True)


@extend_schema_serializer(component_name="CourseInput")
class CourseInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "teachers", "tests", "my_role")

    name = StrictCharField(max_length=200)
    details = StrictCharField(required=False, allow_blank=True, max_length=100_000)


class CourseSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    details = serializers.CharField(read_only=True)


class EnrollmentSerializer(serializers.Serializer):
    user = UserSummarySerializer(read_only=True)
    course = serializers.IntegerField(read_only=True)
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
    course = serializers.IntegerField(read_only=True)
    student = serializers.IntegerField(read_only=True)
    feedback = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="FeedbackInput")
class FeedbackInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "course", "student", "created_at")

    feedback = StrictCharField(max_length=10_000)


# Representations built from values() rows.

USER_PREFIXED = tuple(f"user__{name}" for name in USER_SUMMARY_FIELDS)


def user_summary_from(row: dict, prefix: str = "user__") -> dict:
    return {name: row[prefix + name] for name in USER_SUMMARY_FIELDS}


def enrollment_data(row: dict) -> dict:
    return {
        "user": user_summary_from(row),
        "course": row["course_id"],
        "role": row["role"],
        "created_at": row["created_at"],
    }


def feedback_data(row: dict) -> dict:
    return {
        "id": row["id"],
        "course": row["course_id"],
        "student": row["student_id"],
        "feedback": row["feedback"],
        "created_at": row["created_at"],
    }
