"""Reports over grades: a test's statistics, a course's gradebook (JSON and CSV), its CSV import,
and a result's history.

Who may call them: a teacher of the course, or an admin (``courses.policy.can_manage_course``).
Anonymous → 401; another authenticated user → 403; an unknown id → 404.
"""

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import filters, generics, parsers, renderers, serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from courses import policy
from courses.models import Course
from grading import csv_io, reports
from grading.models import GradeChange, Test, TestResult
from gradingsite.api.negotiation import OnlyRepresentation
from gradingsite.api.renderers import FastJSONRenderer
from gradingsite.api.serializers import MAX_ID, query_flag

ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)


def get_or_404(queryset, pk: str):
    """The row with this id; 404 for an id that is not a positive integer in bigint's range."""
    if not (pk.isascii() and pk.isdigit()) or int(pk) > MAX_ID:
        raise Http404
    pk = int(pk)
    try:
        return queryset.get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404 from None


class TeachesCourse(BasePermission):
    """A teacher of the object's course, or an admin."""

    message = "Only a teacher of this course or an admin may do this."

    def has_object_permission(self, request, view, obj):
        return policy.can_manage_course(request.user, view.course_id_of(obj))


class ReportView(APIView):
    def course_id_of(self, obj) -> int:
        raise NotImplementedError

    def permitted(self, obj):
        self.check_object_permissions(self.request, obj)
        return obj

    def get_permissions(self):
        return [*super().get_permissions(), TeachesCourse()]


# Statistics -------------------------------------------------------------------------------------


class BucketSerializer(serializers.Serializer):
    to = serializers.IntegerField(help_text="Upper bound: exclusive, except 100 (the last bucket is 90-100).")
    count = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(help_text="Lower bound, inclusive.")
        return {"from": fields.pop("from"), **fields}


class StatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Results recorded.")
    mean = serializers.FloatField(allow_null=True, help_text="Mean percent; null with no results.")
    median = serializers.FloatField(allow_null=True)
    min = serializers.FloatField(allow_null=True)
    max = serializers.FloatField(allow_null=True)
    stddev = serializers.FloatField(
        allow_null=True, help_text="Population standard deviation of the percents (0 for a single result)."
    )


class TestStatsSerializer(StatsSerializer):
    test = serializers.IntegerField()
    histogram = BucketSerializer(many=True, help_text="10 buckets of 10 points over percent.")


class TestStatsView(ReportView):
    def course_id_of(self, test):
        return test.course_id

    @extend_schema(
        operation_id="tests_stats",
        summary="A test's statistics over its results' percents",
        description="Computed by the database over each result's `percent`. `stddev` is the population "
        "standard deviation. With no results, `count` is 0, the statistics are null and the buckets empty.",
        parameters=[ID],
        responses={200: TestStatsSerializer},
        tags=["reports"],
    )
    def get(self, request, pk):
        test = self.permitted(get_or_404(Test.objects.all(), pk))
        return Response(reports.test_stats(test))


# Gradebook --------------------------------------------------------------------------------------


class CSVRenderer(renderers.BaseRenderer):
    """Lets content negotiation choose CSV; the view answers it with a streamed response."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else str(data).encode()


class GradebookTestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    date = serializers.DateField()
    max_score = serializers.FloatField()
    stats = StatsSerializer()


class GradebookStudentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    scores = serializers.DictField(
        child=serializers.FloatField(allow_null=True), help_text="Test id → score, null where there is no result."
    )
    average_percent = serializers.FloatField(
        allow_null=True, help_text="Mean percent over the tests with a result, 1 decimal; null if none."
    )


class GradebookSerializer(serializers.Serializer):
    course = inline_serializer(
        "GradebookCourse", fields={"id": serializers.IntegerField(), "name": serializers.CharField()}
    )
    tests = GradebookTestSerializer(many=True)
    students = GradebookStudentSerializer(many=True)


CSV_DESCRIPTION = (
    "Header `email,first_name,last_name,<test name> (#<test id>),...,average_percent`, one row a student, "
    "an empty cell for no result; UTF-8. Cells starting with `=`, `+`, `-`, `@` (or a tab or carriage return) "
    "are prefixed with a single quote `'` so a spreadsheet doesn't run them as formulas. Streamed."
)


class GradebookMixin(ReportView):
    def course_id_of(self, course):
        return course.pk

    def course(self, pk):
        return self.permitted(get_or_404(Course.objects.all(), pk))

    def finalize_response(self, request, response, *args, **kwargs):
        # Errors are JSON even when the client asked for CSV.
        if isinstance(response, Response) and response.status_code >= 400:
            request.accepted_renderer = FastJSONRenderer()
            request.accepted_media_type = FastJSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


class GradebookView(GradebookMixin):
    renderer_classes = [FastJSONRenderer, CSVRenderer]

    @extend_schema(
        operation_id="courses_gradebook",
        summary="A course's gradebook",
        description="Every student of the course (ordered by last name, first name, email) with a score or null "
        "per test, and each test's statistics. With `Accept: text/csv`, the CSV export: " + CSV_DESCRIPTION,
        # The CSV is asked for with the Accept header (or the .csv path), not DRF's ?format=.
        parameters=[ID, OpenApiParameter("format", exclude=True)],
        responses={
            (200, "application/json"): GradebookSerializer,
            (200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description=CSV_DESCRIPTION),
        },
        tags=["reports"],
    )
    def get(self, request, pk):
        course = self.course(pk)
        if request.accepted_renderer.format == CSVRenderer.format:
            return csv_io.gradebook_csv_response(course)
        return Response(reports.gradebook(course))


class GradebookCSVView(GradebookMixin):
    renderer_classes = [CSVRenderer]
    content_negotiation_class = OnlyRepresentation  # CSV whatever the Accept header says

    @extend_schema(
        operation_id="courses_gradebook_csv",
        summary="A course's gradebook as CSV",
        description=CSV_DESCRIPTION,
        parameters=[ID],
        responses={(200, "text/csv"): OpenApiResponse(response=OpenApiTypes.STR, description=CSV_DESCRIPTION)},
        tags=["reports"],
    )
    def get(self, request, pk):
        return csv_io.gradebook_csv_response(self.course(pk))

    def options(self, request, *args, **kwargs):
        # The description of an endpoint is JSON like everywhere else, not CSV.
        return JsonResponse(self.metadata_class().determine_metadata(request, self))


class CSVParser(parsers.BaseParser):
    """A raw ``text/csv`` body, as bytes, up to ``csv_io.IMPORT_MAX_BYTES`` (413 beyond)."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None):
        if stream is None:
            return b""
        data = stream.read(csv_io.IMPORT_MAX_BYTES + 1)
        if len(data) > csv_io.IMPORT_MAX_BYTES:
            raise RequestDataTooBig("The CSV file is too large.")
        return data


class ImportCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class ImportErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The row in the file as a spreadsheet numbers it: the header is row 1.")
    column = serializers.CharField(help_text="The column's header (`email`, a test column), or empty for a whole row.")
    message = serializers.CharField()


class ImportErrorsSerializer(serializers.Serializer):
    """The file's errors; a bad query parameter (``dry_run``) is a field error like elsewhere instead."""

    errors = ImportErrorSerializer(many=True, required=False)


class GradebookImportView(GradebookMixin):
    parser_classes = [CSVParser, parsers.MultiPartParser]

    @extend_schema(
        operation_id="courses_gradebook_import",
        summary="Import grades from a gradebook CSV",
        description="The export's own format back, as a raw `text/csv` body or a multipart upload (field `file`). "
        "Rows are matched by `email`, test columns by the `(#id)` in their header; `first_name`, `last_name` and "
        "`average_percent` are ignored; an empty cell changes nothing. All or nothing: any error is a 400 listing "
        "every bad row and column, and nothing is written. Every change is in the history with `via: import`.",
        parameters=[
            ID,
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
    def post(self, request, pk):
        course = self.course(pk)
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


# History ----------------------------------------------------------------------------------------


class GradeChangeSerializer(serializers.ModelSerializer):
    old_score = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, allow_null=True)
    new_score = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, allow_null=True)

    class Meta:
        model = GradeChange
        fields = [
            "id",
            "result",
            "test",
            "student",
            "action",
            "old_score",
            "new_score",
            "changed_by",
            "changed_at",
            "via",
        ]
        read_only_fields = fields


class ResultHistoryView(generics.ListAPIView):
    """A result's history, oldest first: one line per create, update and delete."""

    serializer_class = GradeChangeSerializer
    filter_backends = [filters.OrderingFilter]
    ordering_fields = ["changed_at", "id"]
    ordering = ["changed_at", "id"]

    def get_permissions(self):
        return [*super().get_permissions(), TeachesCourse()]

    def course_id_of(self, result):
        return result.test.course_id

    def get_queryset(self):
        result = get_or_404(TestResult.objects.select_related("test"), self.kwargs["pk"])
        self.check_object_permissions(self.request, result)
        return GradeChange.objects.filter(result_id=result.pk)

    @extend_schema(
        operation_id="test_results_history",
        summary="A result's grade history, oldest first",
        parameters=[ID],
        tags=["reports"],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
