"""Input and output shapes of submissions, extensions and comments.

The output serializers are the one declaration of each representation: the schema reads them, and so
does the fast path (``Output``: ``SUBMISSION``, ``EXTENSION``, ``COMMENT``).
"""

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from grading.comments import COMMENT_MAX
from grading.models import ATTEMPTS_MAX, MAX_FILES_LIMIT, Extension, Submission, Upload
from grading.submissions import BODY_MAX
from grading.uploads import CONTENT_TYPE
from gradingsite.api.serializers import (
    MAX_ID,
    Output,
    StrictCharField,
    StrictDateTimeField,
    StrictInputMixin,
    StrictIntegerField,
)


class FileSerializer(serializers.Serializer):
    """A file a student handed in with a submission (``GET /api/files/{id}/`` downloads it)."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(
        read_only=True,
        help_text="The name the student gave it, cleaned for display: its last path component, no control "
        "characters, at most 255 bytes.",
    )
    size = serializers.IntegerField(read_only=True, help_text="Bytes.")
    content_type = serializers.CharField(read_only=True)
    uploaded_at = serializers.DateTimeField(read_only=True, help_text="When it was checked in storage and attached.")


FILE = Output(FileSerializer, model=Upload)


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
    files = FileSerializer(many=True, read_only=True, help_text="In the order the student gave them.")


# ``files`` is written by the database as JSON text: ``uploads.files_json(FILE_COLUMNS)`` as ``files_json``.
SUBMISSION = Output(SubmissionSerializer, model=Submission, json_lists=("files",))
FILE_COLUMNS = dict(zip(FILE.keys, FILE.columns, strict=True))


@extend_schema_serializer(component_name="SubmissionInput")
class SubmissionInputSerializer(StrictInputMixin, serializers.Serializer):
    ignored_fields = ("id", "test", "student", "attempt", "submitted_at", "late", "seconds_late")

    body = StrictCharField(
        max_length=BODY_MAX,
        required=False,
        allow_blank=True,
        help_text=f"The work: 1 to {BODY_MAX} characters after trimming; may be left out or blank when files "
        "are given.",
    )
    files = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID),
        required=False,
        max_length=MAX_FILES_LIMIT,
        help_text="Ids of the caller's uploads on this test (POST /api/tests/{id}/uploads/), each sent to its "
        "upload_url; each upload is attached once. At most the test's max_files.",
    )

    def validate(self, data):
        data.setdefault("files", [])
        data["body"] = data.get("body", "").strip()
        if not data["body"] and not data["files"]:
            message = "This field may not be blank." if "body" in self.initial_data else "This field is required."
            raise serializers.ValidationError({"body": [message]})
        return data


@extend_schema_serializer(component_name="UploadInput")
class UploadInputSerializer(StrictInputMixin, serializers.Serializer):
    """What a student declares of a file before sending it: the store takes exactly that."""

    name = StrictCharField(
        max_length=1000,
        trim_whitespace=False,
        help_text="The file's name, shown to teachers and used when it is downloaded (cleaned: path separators, "
        "control characters and leading dots go, cut to 255 bytes); its ending must be one of the test's "
        "allowed_extensions.",
    )
    size = StrictIntegerField(
        min_value=1, max_value=MAX_ID, help_text="Its exact size in bytes: at most FILE_MAX_BYTES (50 MB by default)."
    )
    content_type = StrictCharField(
        max_length=255, help_text="Its media type, as `type/subtype` (`application/pdf`); sent with the file."
    )

    def validate_content_type(self, value):
        if not CONTENT_TYPE.fullmatch(value):
            raise serializers.ValidationError("Not a media type such as 'application/pdf'.")
        return value.lower()


class UploadSerializer(serializers.Serializer):
    """Where and how to send a file: a multipart POST of ``upload_fields``, then the file as the field
    ``file`` (last), to ``upload_url``, before ``expires_at``."""

    id = serializers.IntegerField(read_only=True, help_text="The upload's id, for the submission's files.")
    upload_url = serializers.URLField(read_only=True, help_text="Where to POST the file: the bucket, or this app.")
    upload_fields = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Form fields to send, in this order, before the file (the field `file`). They pin the key, "
        "the exact size and the content type.",
    )
    expires_at = serializers.DateTimeField(read_only=True, help_text="15 minutes from now.")


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
        required=False, min_value=0, max_value=ATTEMPTS_MAX, help_text="Added to allowed_attempts; default 0."
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
