"""A course's gradebook: as JSON, as CSV (streamed), and its CSV import.

``/api/courses/{id}/gradebook/``, ``/api/courses/{id}/gradebook.csv`` and
``/api/courses/{id}/gradebook/import/``: a teacher of the course, or an admin. Anonymous → 401;
another authenticated user → 403; an unknown id → 404. Errors are JSON even where CSV was asked for.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import parsers, renderers, serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from courses import policy
from courses.models import Course
from grading import csv_io, reports
from grading.serializers import GradebookSerializer, ImportCountsSerializer, ImportErrorsSerializer
from grading.views import TEACHERS_ONLY
from gradingsite.api.negotiation import OnlyRepresentation
from gradingsite.api.parsers import MultiPartParser, refuse_declared_over
from gradingsite.api.permissions import Rule
from gradingsite.api.renderers import FastJSONRenderer
from gradingsite.api.serializers import query_flag
from gradingsite.api.viewsets import ApiViewSet


class CSVRenderer(renderers.BaseRenderer):
    """Lets content negotiation choose CSV; the view answers it with a streamed response."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else str(data).encode()


CSV_DESCRIPTION = (
    "Header `email,first_name,last_name,<test name> (#<test id>),...,average_percent,current_percent,"
    "final_percent,letter`, one row a student, an empty cell for no result and `EX` where the student is "
    "excused; UTF-8. Cells starting with `=`, `+`, `-`, `@` (or a tab or carriage return) "
    "are prefixed with a single quote `'` so a spreadsheet doesn't run them as formulas. Streamed."
)


class CSVParser(parsers.BaseParser):
    """A raw ``text/csv`` body, as bytes, up to ``csv_io.IMPORT_MAX_BYTES`` (413 beyond, before reading
    when the declared length says so)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        refuse_declared_over(parser_context, csv_io.IMPORT_MAX_BYTES)
        if stream is None:
            return b""
        data = stream.read(csv_io.IMPORT_MAX_BYTES + 1)
        if len(data) > csv_io.IMPORT_MAX_BYTES:
            raise RequestDataTooBig("The CSV file is too large.")
        return data


class CSVUploadParser(MultiPartParser):
    """The CSV file as a multipart upload: the file's limit, and room for the parts' headers."""

    max_bytes = csv_io.IMPORT_MAX_BYTES + 64 * 1024


class GradebookViewSet(ApiViewSet):
    """The gradebook routes of a course (registered beside ``courses.views.CourseViewSet``)."""

    rule = {
        ("gradebook", "gradebook_csv", "gradebook_import"): Rule(
            read=policy.can_manage_course, write=policy.can_manage_course, message=TEACHERS_ONLY
        )
    }
    queryset = Course.objects.all()
    replica_actions = frozenset({"gradebook", "gradebook_csv"})

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON even when the client asked for CSV.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = FastJSONRenderer()
            request.accepted_media_type = FastJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    def options(self, request, *args, **kwargs):
        # The description of an endpoint is JSON like everywhere else, also where the route gives CSV.
        return JsonResponse(self.metadata_class().determine_metadata(request, self))

    @extend_schema(
        operation_id="courses_gradebook",
        summary="A course's gradebook",
        description="Every student of the course (ordered by last name, first name, email) with a score or null "
        "per test, and each test's statistics. With `Accept: text/csv`, the CSV export: " + CSV_DESCRIPTION,
        # The CSV is asked for with the Accept header (or the .csv path), not DRF's ?format=.
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={
            (200, "application/json"): GradebookSerializer,
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description=CSV_DESCRIPTION),
        },
        tags=["reports"],
    )
    @action(detail=True, renderer_classes=[FastJSONRenderer, CSVRenderer])
    def gradebook(self, request, pk):
        course = self.get_object()
        if request.accepted_renderer.format == CSVRenderer.format:
            return csv_io.gradebook_csv_response(course)
        return Response(reports.gradebook(course))

    @extend_schema(
        operation_id="courses_gradebook_csv",
        summary="A course's gradebook as CSV",
        description=CSV_DESCRIPTION,
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description=CSV_DESCRIPTION)},
        tags=["reports"],
    )
    @action(
        detail=True,
        url_path=r"gradebook\.csv",
        url_name="gradebook-csv",
        renderer_classes=[CSVRenderer],
        content_negotiation_class=OnlyRepresentation,  # CSV whatever the Accept header says
    )
    def gradebook_csv(self, request, pk):
        return csv_io.gradebook_csv_response(self.get_object())

    @extend_schema(
        operation_id="courses_gradebook_import",
        summary="Import grades from a gradebook CSV",
        description="The export's own format back, as a raw `text/csv` body or a multipart upload (field `file`). "
        "Rows are matched by `email`, test columns by the `(#id)` in their header; `first_name`, `last_name`, "
        "`average_percent`, `current_percent`, `final_percent` and `letter` are ignored; an empty cell changes "
        "nothing and `EX` (any case) excuses the student. All or nothing: any error is a 400 listing "
        "every bad row and column (the first 100), and nothing is written. A file is read no further than "
        "3 + tests + 4 + 20 columns, the course's students + 100 rows after the header (blank lines included), "
        "and 1,000 characters a row per column allowed: past one, a 400 names it. Every change is in the history "
        "with `via: import`.",
        parameters=[
            OpenApiParameter(
                "dry_run", OpenApiTypes.BOOL, OpenApiParameter.QUERY, description="Check and count; write nothing."
            ),
        ],
        request={
            "text/csv": {"type": "string", "minLength": 1, "description": "The CSV file's text, header first."},
            "multipart/form-data": inline_serializer("GradebookUpload", fields={"file": serializers.FileField()}),
        },
        responses={
            200: ImportCountsSerializer,
            400: OpenApiResponse(ImportErrorsSerializer, description="The file's errors; nothing was written."),
        },
        tags=["reports"],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="gradebook/import",
        url_name="gradebook-import",
        parser_classes=[CSVParser, CSVUploadParser],
    )
    def gradebook_import(self, request, pk):
        course = self.get_object()
        counts = csv_io.gradebook_import(
            course=course, data=self._file(request), by=request.user, dry_run=query_flag(request, "dry_run")
        )
        return Response(counts)

    def _file(self, request) -> bytes:
        data = request.data
        if isinstance(data, bytes):
            return data
        upload = request.FILES.get("file")
        if upload is None:
            return b""
        if upload.size > csv_io.IMPORT_MAX_BYTES:
            raise RequestDataTooBig("The CSV file is too large.")
        return upload.read()
