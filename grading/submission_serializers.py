"""Input and output shapes of submissions, extensions and comments.

The output serializers are the one declaration of each representation: the schema reads them, and so
does the fast path (``Output``: ``SUBMISSION``, ``EXTENSION``, ``COMMENT``).
"""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from grading.models import Extension, Submission
from grading.submissions import BODY_MAX
from gradingsite.api.serializers import (
    Output,
    StrictCharField,
    StrictDateTimeField,
    StrictInputMixin,
    StrictIntegerField,
)

COMMENT_MAX = 10_000


class SubmissionSerializer(serializers.Serializer):
    """An attempt a student handed in."""

    id = serializers.IntegerField(read_only=True)
    test = serializers.IntegerField(source="test_id", read_only=True)
    student = serializers.IntegerField(source="student_id", read_only=True)
    attempt = serializers.IntegerField(read_only=True, help_text="From 1, per student and test.")
    submitted_at = serializers.DateTimeField(read_only=True, help_text="The server's clock.")
    body = serializers.CharField(read_only=True)
    late = serializers.BooleanField(read_only=True, help_text="seconds_late > 0.")
    seconds_late = serializers.IntegerField(
        read_only=True,
        help_text="Whole seconds past the student's effective due_at (their extension's, else the test's); "
        "0 without one, never negative. Follows extensions granted later.",
    )


SUBMISSION = Output(SubmissionSerializer, model=Submission)


@extend_schema_serializer(component_name="SubmissionInput")
class SubmissionInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "test", "student", "attempt", "submitted_at", "late", "seconds_late")

    body = StrictCharField(max_length=BODY_MAX, help_text=f"The work: 1 to {BODY_MAX} characters after trimming.")


class ExtensionSerializer(serializers.Serializer):
    """One student's own due and lock times (null: the test's) and extra attempts on a test."""

    student = serializers.IntegerField(source="student_id", read_only=True)
    due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    lock_at = serializers.DateTimeField(read_only=True, allow_null=True)
    extra_attempts = serializers.IntegerField(read_only=True)


EXTENSION = Output(ExtensionSerializer, model=Extension)


@extend_schema_serializer(component_name="ExtensionInput")
class ExtensionInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("student",)

    due_at = StrictDateTimeField(required=False, allow_null=True, help_text="null or left out: the test's.")
    lock_at = StrictDateTimeField(required=False, allow_null=True, help_text="null or left out: the test's.")
    extra_attempts = StrictIntegerField(
        required=False, min_value=0, max_value=1_000_000, help_text="Added to allowed_attempts; default 0."
    )


class CommentSerializer(serializers.Serializer):
    """A comment on one student's work on a test."""

    id = serializers.IntegerField(read_only=True)
    author = UserSummarySerializer(read_only=True, allow_null=True, help_text="null once the account is deleted.")
    body = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="CommentInput")
class CommentInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "author", "created_at")

    body = StrictCharField(max_length=COMMENT_MAX, help_text=f"1 to {COMMENT_MAX} characters after trimming.")
