"""Submissions, extensions and comments: thin viewsets over the policy and ``grading.submissions``,
``grading.comments``.

Routes (``grading/urls.py``): a test's submissions (``/api/tests/{id}/submissions/``), one
submission (``/api/submissions/{id}/``), a test's extensions (``/api/tests/{id}/extensions/`` and
``/api/tests/{id}/extensions/{student_id}/``), the comments on one student's work
(``/api/tests/{id}/students/{student_id}/comments/``). In nested collections ``pk`` is the test's id.
"""

from django.contrib.auth import get_user_model
from django.http import Http404
from django.utils.functional import cached_property
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import renderers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.serializers import USER_SUMMARY
from courses import policy
from courses.models import Enrollment, Role
from grading import archive, comments, submissions, uploads
from grading.filters import SubmissionFilter
from grading.models import Comment, Extension, Submission, Test, Upload
from grading.submission_serializers import (
    EXTENSION,
    FILE_COLUMNS,
    SUBMISSION,
    CommentInputSerializer,
    CommentSerializer,
    ExtensionInputSerializer,
    ExtensionSerializer,
    SubmissionInputSerializer,
    SubmissionSerializer,
    UploadInputSerializer,
    UploadSerializer,
)
from gradingsite import files
from gradingsite.api.negotiation import OnlyRepresentation
from gradingsite.api.permissions import Rule
from gradingsite.api.renderers import FastJSONRenderer
from gradingsite.api.viewsets import ApiViewSet, get_or_404, path_id, swagger_fake
from gradingsite.sql import JSONDateTime

User = get_user_model()

TEACHERS_ONLY = "Only a teacher of this course or an admin may do this."
STUDENTS_SUBMIT = "Only a student of this course submits work to its tests."
NOT_YOURS = "Only the student who submitted it, the course's teachers and admins may read this."
THREAD = "Only that student, the course's teachers and admins may read or write these comments."


# ``SUBMISSION``'s columns as a list of submissions reads them (``TestSubmissionViewSet.list``).
_LIST_COLUMNS = tuple("submitted_at_text" if column == "submitted_at" else column for column in SUBMISSION.columns)


class _OfTest:
    """A view under ``/api/tests/{id}/``: the test, with the caller's role in its course."""

    rule_object = "test"

    @cached_property
    def test(self) -> Test:
        return get_or_404(policy.with_caller_role(Test.objects.all(), self.request.user), self.kwargs["pk"])


@extend_schema_view(
    list=extend_schema(
        summary="List a test's submissions, newest first",
        description="Teachers and admins see every attempt of every student, a student their own. "
        "`?latest=true&graded=false` is the grading queue.",
    ),
    create=extend_schema(
        summary="Submit an attempt",
        description="By a student of the course, for themself. 409 (saying which rule) when the test is not "
        "online, not open yet, locked for the student, or their attempts are used up.",
        request=SubmissionInputSerializer,
        responses={201: SubmissionSerializer},
    ),
)
class TestSubmissionViewSet(_OfTest, ApiViewSet):
    """A test's submissions (``/api/tests/{id}/submissions/``)."""

    serializer_class = SubmissionSerializer
    rule = {
        "list": Rule(read=policy.can_read_submissions),
        "create": Rule(write=policy.can_submit, message=STUDENTS_SUBMIT),
    }
    filter_backends = [DjangoFilterBackend]
    filterset_class = SubmissionFilter
    schema_errors = {"POST": ["409"]}

    def get_queryset(self):
        if swagger_fake(self):
            return Submission.objects.none()
        queryset = Submission.objects.filter(test_id=self.test.pk)
        if policy.submissions_scope(self.request.user, self.test) == "own":
            queryset = queryset.filter(student_id=self.request.user.pk)
        return with_files(submissions.with_lateness(queryset))

    def list(self, request, pk):
        queryset = self.filter_queryset(self.get_queryset()).order_by("-submitted_at", "-id")
        # ``submitted_at`` written by the database as the API writes it: a page of 1,000 rows costs
        # half as much without Django's Python time zone loader called once a row.
        queryset = queryset.annotate(submitted_at_text=JSONDateTime("submitted_at"))
        page = self.paginate_queryset(queryset.values_list(*_LIST_COLUMNS))
        return self.get_paginated_response(SUBMISSION.rows(page))

    def create(self, request, pk):
        serializer = SubmissionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        attach = None
        if data["files"]:
            attach = uploads.Attachment(test=self.test, student=request.user, ids=data["files"])
        submission = submissions.submit(test=self.test, student=request.user, body=data["body"], attach=attach)
        if attach is None:
            submission.files_json = "[]"
        else:
            submission.files_json = (
                Submission.objects.filter(pk=submission.pk)
                .values_list(uploads.files_json(FILE_COLUMNS), flat=True)
                .get()
            )
        return Response(SUBMISSION.of(submission), status=status.HTTP_201_CREATED)


@extend_schema_view(retrieve=extend_schema(summary="Read a submission"))
class SubmissionViewSet(ApiViewSet):
    """One submission (``/api/submissions/{id}/``): the student who submitted it, the course's teachers, admins."""

    serializer_class = SubmissionSerializer
    rule = Rule(read=policy.can_view_submission, message=NOT_YOURS)

    def get_queryset(self):
        if swagger_fake(self):
            return Submission.objects.none()
        queryset = with_files(submissions.with_lateness(Submission.objects.select_related("test")))
        return policy.with_caller_role(queryset, self.request.user, "test__course_id")

    def retrieve(self, request, pk):
        return Response(SUBMISSION.of(self.get_object()))


class ZipRenderer(renderers.BaseRenderer):
    """Lets content negotiation answer a zip; the view streams it itself."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b""


ZIP_DESCRIPTION = (
    "Every student's latest attempt, as `Lastname_Firstname_<student id>/attempt-<N>/` holding the attempt's "
    "files under their names (two of one name: `name (2).ext`) and its text as `body.txt` (none when empty); "
    "students by last name, first name. Names are cleaned (no path separators, `..` or control characters), so "
    "nothing unpacks outside its folder. Streamed as it is built: no Content-Length."
)


class SubmissionZipViewSet(ApiViewSet):
    """A test's submissions as a zip (``/api/tests/{id}/submissions.zip``; registered beside
    ``grading.views.TestViewSet``): its course's teachers and admins."""

    rule = {"submissions_zip": Rule(read=policy.can_download_submissions, message=TEACHERS_ONLY)}

    def get_queryset(self):
        if swagger_fake(self):
            return Test.objects.none()
        return policy.with_caller_role(Test.objects.all(), self.request.user)

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON, as everywhere in the API.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = FastJSONRenderer()
            request.accepted_media_type = FastJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="tests_submissions_zip",
        summary="Download a test's submissions as one zip",
        description=ZIP_DESCRIPTION,
        responses={
            (200, "application/zip"): OpenApiResponse(response=OpenApiTypes.BINARY, description=ZIP_DESCRIPTION)
        },
    )
    @action(
        detail=True,
        url_path=r"submissions\.zip",
        url_name="submissions-zip",
        renderer_classes=[ZipRenderer],
        content_negotiation_class=OnlyRepresentation,
    )
    def submissions_zip(self, request, pk):
        return archive.zip_response(self.get_object())


def with_files(queryset):
    """Submissions with their files as JSON text (``files_json``), for ``SUBMISSION``."""
    return queryset.annotate(files_json=uploads.files_json(FILE_COLUMNS))


@extend_schema_view(
    create=extend_schema(
        summary="Ask to upload a file for a submission",
        description="By a student who may submit now (409 naming the rule otherwise, as submitting). The answer "
        "says where to send the file: a multipart POST of `upload_fields`, then the file as the field `file`, to "
        "`upload_url` (the bucket, or this app without one) within 15 minutes; then submit with "
        "`files: [id, ...]`. A 400 names the limit a file is over: `size` (FILE_MAX_BYTES), `name` "
        "(allowed_extensions), or max_files uploads asked for in the last 15 minutes and not submitted yet.",
        request=UploadInputSerializer,
        responses={201: UploadSerializer},
    ),
)
class TestUploadViewSet(_OfTest, ApiViewSet):
    """A test's uploads (``/api/tests/{id}/uploads/``): a student asks where to send a file."""

    serializer_class = UploadSerializer
    rule = {"create": Rule(write=policy.can_submit, message=STUDENTS_SUBMIT)}
    filter_backends = []
    schema_errors = {"POST": ["409"]}

    def get_queryset(self):
        return Upload.objects.none()

    def create(self, request, pk):
        serializer = UploadInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        new = uploads.upload_create(test=self.test, student=request.user, request=request, **serializer.validated_data)
        target = new.target
        body = {
            "id": new.upload.pk,
            "upload_url": target.url,
            "upload_fields": target.fields,
            "expires_at": target.expires_at,
        }
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    retrieve=extend_schema(
        summary="Download a file of a submission",
        description="The student who handed it in, the course's teachers and admins. With object storage: 302 to "
        "a signed URL of the store, valid for 5 minutes, that serves the file as an attachment under its name. "
        "Without: the file itself, as an attachment, with `X-Content-Type-Options: nosniff`.",
        responses={
            (200, "*/*"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The file, of its own content type (local storage)."
            ),
            302: OpenApiResponse(description="To the store's signed URL, in `Location`."),
        },
    ),
)
class FileViewSet(ApiViewSet):
    """A file of a submission (``/api/files/{id}/``): its student, the course's teachers, admins."""

    rule = Rule(read=policy.can_read_file, message=NOT_YOURS)
    content_negotiation_class = OnlyRepresentation  # a file whatever Accept says; errors are JSON
    filter_backends = []

    def get_queryset(self):
        if swagger_fake(self):
            return Upload.objects.none()
        queryset = Upload.objects.filter(submission__isnull=False).select_related("test")
        return policy.with_caller_role(queryset, self.request.user, "test__course_id")

    def retrieve(self, request, pk):
        upload = self.get_object()
        return files.store().download(upload.key, name=upload.name, content_type=upload.content_type)


@extend_schema_view(
    list=extend_schema(summary="List a test's extensions"),
    update=extend_schema(
        summary="Give a student an extension",
        description="Replaces any earlier extension of that student. The student must be a student of the course "
        "(400 otherwise). Times: null for the test's own; the student's effective times keep "
        "`unlock_at ≤ due_at ≤ lock_at`.",
        request=ExtensionInputSerializer,
        responses={200: ExtensionSerializer},
    ),
    destroy=extend_schema(summary="Remove a student's extension"),
)
class ExtensionViewSet(_OfTest, ApiViewSet):
    """A test's extensions (``/api/tests/{id}/extensions/{student_id}/``): its course's teachers and admins."""

    serializer_class = ExtensionSerializer
    rule = Rule(read=policy.can_manage_test, write=policy.can_manage_test, message=TEACHERS_ONLY)
    lookup_url_kwarg = "student_id"
    filter_backends = []

    def get_queryset(self):
        if swagger_fake(self):
            return Extension.objects.none()
        return Extension.objects.filter(test_id=self.test.pk).order_by("id")

    def get_object(self):
        return self.test

    def list(self, request, pk):
        page = self.paginate_queryset(self.get_queryset().values_list(*EXTENSION.columns))
        return self.get_paginated_response(EXTENSION.rows(page))

    def update(self, request, pk, student_id):
        student = self._student(student_id)
        serializer = ExtensionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        extension = submissions.extension_set(
            test=self.test, student_id=student.pk, by=request.user, **serializer.validated_data
        )
        return Response(EXTENSION.of(extension))

    def destroy(self, request, pk, student_id):
        student = self._student(student_id)
        if not submissions.extension_delete(test=self.test, student_id=student.pk, by=request.user):
            raise Http404
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _student(self, raw) -> User:
        return get_or_404(User.objects.only("pk"), raw)


class Thread:
    """The comments on one student's work on one test: what the path names and the policy is asked about."""

    def __init__(self, test: Test, student_id: int):
        self.test = test
        self.student_id = student_id


def comment_rows(rows) -> list[dict]:
    """``CommentSerializer``'s representation of rows of ``_COMMENT_COLUMNS``."""
    width = len(USER_SUMMARY.columns)
    return [
        {
            "id": row[0],
            "author": None if row[1] is None else dict(zip(USER_SUMMARY.keys, row[1 : 1 + width], strict=True)),
            "body": row[1 + width],
            "created_at": row[2 + width],
        }
        for row in rows
    ]


_COMMENT_COLUMNS = ("id", *(f"author__{column}" for column in USER_SUMMARY.columns), "body", "created_at")
if tuple(CommentSerializer().fields) != ("id", "author", "body", "created_at"):
    raise TypeError("comment_rows writes CommentSerializer's keys: update it with them")


@extend_schema_view(
    list=extend_schema(
        summary="The comments on a student's work on a test, oldest first",
        description="That student, the course's teachers and admins. While the test's results are hidden, the "
        "student doesn't see the others' comments.",
    ),
    create=extend_schema(
        summary="Comment on a student's work",
        description="A comment by someone else than the student is emailed to them by the worker (held while the "
        "test's results are hidden).",
        request=CommentInputSerializer,
        responses={201: CommentSerializer},
    ),
)
class CommentViewSet(ApiViewSet):
    """The comments on one student's work (``/api/tests/{id}/students/{student_id}/comments/``)."""

    serializer_class = CommentSerializer
    rule = Rule(read=policy.can_comment, write=policy.can_comment, message=THREAD)
    rule_object = "thread"
    filter_backends = []

    @cached_property
    def thread(self) -> Thread:
        test = get_or_404(policy.with_caller_role(Test.objects.all(), self.request.user), self.kwargs["pk"])
        student_id = path_id(self.kwargs["student_id"])
        if not Enrollment.objects.filter(course_id=test.course_id, user_id=student_id, role=Role.STUDENT).exists():
            raise Http404
        return Thread(test, student_id)

    def get_queryset(self):
        if swagger_fake(self):
            return Comment.objects.none()
        thread = self.thread
        queryset = Comment.objects.filter(test_id=thread.test.pk, student_id=thread.student_id)
        if not policy.sees_held_comments(self.request.user, thread):
            queryset = queryset.filter(comments.visible_to_student_filter(thread.test))
        return queryset.order_by("created_at", "id")

    def list(self, request, pk, student_id):
        page = self.paginate_queryset(self.get_queryset().values_list(*_COMMENT_COLUMNS))
        return self.get_paginated_response(comment_rows(page))

    def create(self, request, pk, student_id):
        serializer = CommentInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = self.thread
        comment = comments.comment_create(
            test=thread.test, student_id=thread.student_id, author=request.user, body=serializer.validated_data["body"]
        )
        author = request.user
        row = (comment.pk, *(getattr(author, column) for column in USER_SUMMARY.columns), comment.body)
        return Response(comment_rows([(*row, comment.created_at)])[0], status=status.HTTP_201_CREATED)
