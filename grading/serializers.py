"""Input and output shapes of tests and results.

Output serializers list exactly the contract's fields, and are the one declaration of them: the
schema reads them, and so does the fast path of results (``RESULT``, read by ``result_data``, and
by ``grading.views``, whose results page the database writes in its keys and order); the reports
are built by theirs
(``ReportSerializer.build``, in ``grading.reports``, ``grading.grades`` and ``grading.csv_io``). The
bulk upsert's items are parsed by ``parse_bulk_items``, not by a serializer per item: 5,000 items go
through a plain loop with no query.
"""

import re
from decimal import Decimal

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from accounts.serializers import UserSummarySerializer
from courses import policy
from grading import services, uploads
from grading.models import (
    ATTEMPTS_MAX,
    CATEGORY_MAX_POSITION,
    DEFAULT_MAX_FILES,
    MAX_FILES_LIMIT,
    SCORE_DIGITS,
    SCORE_PLACES,
    WEIGHT_DIGITS,
    WEIGHT_PLACES,
    GradeCategory,
    GradeChange,
    Notice,
    SubmissionType,
    Test,
    TestResult,
    results_version,
)
from gradingsite.api.serializers import (
    MAX_ID,
    NameField,
    Output,
    ReportSerializer,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictDecimalField,
    StrictInputMixin,
    StrictIntegerField,
    StrictPrimaryKeyRelatedField,
)
from gradingsite.errors import Invalid

User = get_user_model()

BULK_MAX_ITEMS = 5000


def _score_field(**kwargs):
    return StrictDecimalField(
        max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, min_value=Decimal(0), coerce_to_string=False, **kwargs
    )


class TestSerializer(StrictInputMixin, serializers.ModelSerializer):
    """A test of a course. ``course`` comes from the URL on create and never changes."""

    ignored_fields = ("id", "course", "updated_at")
    name = NameField(max_length=200)
    max_score = StrictDecimalField(
        max_digits=SCORE_DIGITS,
        decimal_places=SCORE_PLACES,
        min_value=Decimal("0.01"),
        coerce_to_string=False,
        required=False,
        help_text="Positive, at most 2 decimals; default 100.",
    )
    results_published = StrictBooleanField(
        required=False, help_text="While false, students don't see their results for this test."
    )
    category = StrictPrimaryKeyRelatedField(
        queryset=GradeCategory.objects.all(),
        required=False,
        help_text="A grade category of the test's course; default: the course's first.",
    )
    never_drop = StrictBooleanField(required=False, help_text="Drop rules never drop this test.")
    submission_type = serializers.ChoiceField(
        choices=SubmissionType.choices,
        required=False,
        help_text='"none" (default): results only; "online": students submit through the API. Back to "none" '
        "while submissions exist is a 409.",
    )
    unlock_at = StrictDateTimeField(required=False, allow_null=True, help_text="Submissions open; null: at once.")
    due_at = StrictDateTimeField(
        required=False, allow_null=True, help_text="Later submissions are late; null: never late."
    )
    lock_at = StrictDateTimeField(required=False, allow_null=True, help_text="Submissions close; null: never.")
    allowed_attempts = StrictIntegerField(
        min_value=1,
        max_value=ATTEMPTS_MAX,
        required=False,
        allow_null=True,
        help_text="Attempts per student (plus an extension's extra ones); null: unlimited. Default 1.",
    )
    max_files = StrictIntegerField(
        min_value=1,
        max_value=MAX_FILES_LIMIT,
        required=False,
        help_text=f"Files one submission may carry, 1 to {MAX_FILES_LIMIT}; default {DEFAULT_MAX_FILES}.",
    )
    allowed_extensions = serializers.ListField(
        child=StrictCharField(max_length=64),
        required=False,
        allow_null=True,
        help_text='The endings a file\'s name may have (`["pdf", "docx"]`; stored lower case, without the '
        "dot); null (default): any file.",
    )
    results_version = serializers.SerializerMethodField(
        help_text="The test's own count of changes to its results (0 before any grade): If-Match for the bulk "
        "upsert (PUT results). Null for a caller who can't read the test's results (a student while they are "
        "not published, anyone outside the course)."
    )

    class Meta:
        model = Test
        fields = [
            "id",
            "course",
            "name",
            "date",
            "max_score",
            "results_published",
            "category",
            "never_drop",
            "submission_type",
            "unlock_at",
            "due_at",
            "lock_at",
            "allowed_attempts",
            "max_files",
            "allowed_extensions",
            "updated_at",
            "version",
            "results_version",
        ]
        read_only_fields = ["id", "course", "updated_at", "version", "results_version"]

    def validate_allowed_extensions(self, value):
        return uploads.normalize_extensions(value)

    def get_results_version(self, test) -> int | None:
        request = self.context.get("request")
        if request is None or not policy.sees_results_version(request.user, test):
            return None
        annotated = getattr(test, "results_version", None)
        if annotated is not None:
            return annotated
        return Test.objects.filter(pk=test.pk).values_list(results_version(), flat=True).get()


# The fast path of ``TestSerializer``: ``results_version`` depends on the caller, a column the query
# computes by ``get_results_version``'s rule (``grading.views.CourseTestViewSet``).
TEST = Output(TestSerializer, computed=("results_version",))

# A field's arguments only writing uses, which ModelSerializer leaves out of ``read_only_fields`` (with
# the queryset).
_WRITING = {"required", "default", "allow_blank", "min_length", "max_length", "min_value", "max_value", "validators"}


@extend_schema_serializer(component_name="CourseTest")
class CourseTestSerializer(TestSerializer):
    """A test as it appears in its course (the same shape as ``/api/tests/{id}/``)."""

    def get_fields(self):
        # TestSerializer's fields, only read (nothing is written through a course): each one a client
        # writes is rebuilt without the arguments of writing, nor its help, which speaks of writing.
        fields = super().get_fields()
        for key, field in fields.items():
            if not field.read_only:
                kwargs = {k: v for k, v in field._kwargs.items() if k not in {*_WRITING, "queryset", "help_text"}}
                if "child" in kwargs:  # a list's items: a fresh field, the declared one is bound to the list
                    kwargs["child"] = type(kwargs["child"])(*kwargs["child"]._args, **kwargs["child"]._kwargs)
                fields[key] = type(field)(*field._args, read_only=True, **kwargs)
        return fields


class TestResultSerializer(serializers.ModelSerializer):
    """A student's result. ``percent`` = 100 · score / max_score, 1 decimal; both null when excused."""

    score = _score_field(allow_null=True, help_text="The score kept: the entered score less the late deduction.")
    percent = serializers.FloatField(read_only=True, allow_null=True)
    excused = serializers.BooleanField(help_text="Excused: no score, and it counts nowhere.")
    entered_score = _score_field(allow_null=True, help_text="The score as the teacher entered it (null when excused).")
    late_deduction = _score_field(
        read_only=True, help_text="entered_score - score: what the course's late policy took off."
    )
    late_waived = serializers.BooleanField(help_text="true: no late deduction for this result.")

    class Meta:
        model = TestResult
        fields = [
            "id",
            "test",
            "student",
            "grader",
            "score",
            "percent",
            "excused",
            "entered_score",
            "late_deduction",
            "late_waived",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = fields


# What a client read and may send back: ignored, not refused.
_RESULT_READ_ONLY = ("id", "test", "percent", "entered_score", "late_deduction", "created_at", "updated_at", "version")


# The fast path of ``TestResultSerializer`` (``gradingsite.api.serializers.Output``): ``percent`` is
# ``TestResult.percent`` on an instance, a column of that name in a row.
RESULT = Output(TestResultSerializer)


def result_data(result: TestResult) -> dict:
    """``TestResultSerializer``'s representation of ``result``."""
    return RESULT.of(result)


SCORE_OR_EXCUSED = "Give a score, or excused: true (an excused result has no score)."


class _ScoreOrExcused(StrictInputMixin, serializers.Serializer):
    """A score, or ``excused: true`` (no score). Validated data: ``score`` (None when excused)."""

    score = _score_field(
        required=False, allow_null=True, help_text="0 ≤ score ≤ the test's max_score, at most 2 decimals."
    )
    excused = StrictBooleanField(
        required=False, help_text="true excuses the student (no score, counts nowhere); a score clears it."
    )
    grader = StrictPrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, help_text="Admins only: another teacher of the course."
    )
    late_waived = StrictBooleanField(
        required=False, help_text="true: no late deduction (default false on create; left out: unchanged)."
    )

    # Whether a score (or ``excused: true``) must be given: on create and on a full update.
    needs_score = True

    def to_internal_value(self, data):
        # Reported with the other fields' errors, as a required field's would be.
        missing = {}
        if (
            self.needs_score
            and isinstance(data, dict)
            and data.get("score") is None
            and data.get("excused") is not True
        ):
            missing = {"score": [SCORE_OR_EXCUSED]}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, dict):
                raise
            raise serializers.ValidationError({**missing, **exc.detail}) from None
        if missing:
            raise serializers.ValidationError(missing)
        return value

    def validate(self, attrs):
        if attrs.get("excused") and attrs.get("score") is not None:
            raise serializers.ValidationError({"excused": ["An excused result has no score: send one or the other."]})
        return attrs


class ResultCreateSerializer(_ScoreOrExcused):
    """Grade one student: a score, or ``excused: true``. ``grader`` (admins only) names another teacher."""

    ignored_fields = _RESULT_READ_ONLY

    student = StrictIntegerField(min_value=1, max_value=MAX_ID, help_text="A student of the test's course.")

    @classmethod
    def validated(cls, data) -> dict:
        """The validated data of ``data``, or the serializer's ``ValidationError``.

        A body as a client sends it to grade one student (``student``, a score or ``excused: true``,
        perhaps ``late_waived``) is taken as it is, without building the serializer (its fields are
        deep-copied per instance: most of the cost of a valid body). Anything else, every error
        included, goes through the serializer, which alone words the errors. What the shortcut takes
        the serializer takes too, with the same validated data (``tests/test_api_results.py``).
        """
        fast = _grade_body(data)
        if fast is not None:
            return fast
        serializer = cls(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


# A score the serializer takes as it is: a JSON number written without an exponent or a sign, with at
# most SCORE_DIGITS - SCORE_PLACES whole digits and SCORE_PLACES decimals.
_PLAIN_SCORE = re.compile(
    rf"(?:0|[1-9][0-9]{{0,{SCORE_DIGITS - SCORE_PLACES - 1}}})(?:\.[0-9]{{1,{SCORE_PLACES}}})?", re.ASCII
)
_SCORE_QUANTUM = Decimal(1).scaleb(-SCORE_PLACES)
_GRADE_KEYS = frozenset({"student", "score", "excused", "late_waived"})


def _grade_body(data) -> dict | None:
    """``ResultCreateSerializer``'s validated data of a plain, valid body; None for anything else."""
    if type(data) is not dict or not data.keys() <= _GRADE_KEYS:
        return None
    student = data.get("student")
    if type(student) is not int or not 1 <= student <= MAX_ID:
        return None
    validated: dict = {"student": student}
    for flag in ("excused", "late_waived"):
        if flag in data:
            if type(data[flag]) is not bool:
                return None
            validated[flag] = data[flag]
    excused = validated.get("excused") is True
    if "score" in data:
        score = data["score"]
        if score is None:
            if not excused:
                return None  # "give a score, or excused: true"
            validated["score"] = None
        else:
            if excused or type(score) not in (int, float):
                return None
            text = str(score)
            if not _PLAIN_SCORE.fullmatch(text):
                return None
            validated["score"] = Decimal(text).quantize(_SCORE_QUANTUM)
    elif not excused:
        return None
    return validated


class ResultUpdateSerializer(_ScoreOrExcused):
    """Change a result's score, or excuse it (and, for admins, change its grader). The student never changes.

    ``PUT`` needs a score or ``excused: true``; ``PATCH`` takes either, or only the grader.
    """

    ignored_fields = (*_RESULT_READ_ONLY, "student")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.needs_score = not self.partial


class BulkItemSerializer(serializers.Serializer):
    """One item of the bulk upsert (documentation only: items are parsed by ``parse_bulk_items``).

    A score, or ``excused: true`` instead of one.
    """

    student = StrictIntegerField(min_value=1, max_value=MAX_ID)
    score = _score_field(required=False, allow_null=True)
    excused = serializers.BooleanField(required=False)
    late_waived = serializers.BooleanField(required=False, help_text="Left out: unchanged (false for a new result).")


class BulkOutcomeSerializer(ReportSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class BulkItemErrorSerializer(ReportSerializer):
    index = serializers.IntegerField(allow_null=True, help_text="The bad item's position; null for the whole body.")
    field = serializers.CharField(
        allow_null=True, help_text='"student", "score" or "excused"; null for the whole item.'
    )
    message = serializers.CharField()


class BulkErrorSerializer(ReportSerializer):
    detail = serializers.CharField()
    errors = BulkItemErrorSerializer(many=True, required=False, help_text="Absent when the body isn't JSON at all.")


class BulkInvalid(Exception):
    """The bulk body as a whole is unusable (not a list, too long)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def parse_bulk_items(
    data,
    waived: dict | None = None,
) -> tuple[list[tuple[int, tuple[int, Decimal | None]]], list[tuple[int, str | None, str]]]:
    """Check the types of the bulk upsert's items without touching the database.

    Returns the well-typed items as ``(index, (student_id, score))`` (a score of None: excused) and the errors as
    ``(index, field, message)``. Raises ``BulkInvalid`` when the body is not a list of at most
    ``BULK_MAX_ITEMS`` items. Ids are JSON integers and scores JSON numbers, as the single endpoint
    takes them (a string is a type error); a score's range against ``max_score`` is the grade
    service's business. Each item's ``late_waived``, when given, goes into ``waived`` (student → bool).
    """
    waived = {} if waived is None else waived
    if not isinstance(data, list):
        raise BulkInvalid("Expected a JSON array of {student, score} (or {student, excused: true}) objects.")
    if len(data) > BULK_MAX_ITEMS:
        raise BulkInvalid(f"At most {BULK_MAX_ITEMS} items per request; got {len(data)}.")
    items = []
    errors = []
    waived.clear()
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            errors.append((index, None, "Expected an object with student and score."))
            continue
        errors.extend((index, str(key), "Unknown field.") for key in item if key not in _ITEM_KEYS)
        student = _parse_student(item, index, errors)
        if "late_waived" in item:
            if not isinstance(item["late_waived"], bool):
                errors.append((index, "late_waived", "Must be a valid boolean."))
            elif student is not None:
                waived[student] = item["late_waived"]
        excused = _parse_excused(item, index, errors)
        if excused is None:
            continue
        if excused:
            if item.get("score") is not None:
                errors.append((index, "excused", "An excused result has no score: send one or the other."))
            elif student is not None:
                items.append((index, (student, None)))
            continue
        score = _parse_score(item, index, errors)
        if student is not None and score is not None:
            items.append((index, (student, score)))
    return items, errors


_ITEM_KEYS = {"student", "score", "excused", "late_waived"}


def _parse_excused(item: dict, index: int, errors: list) -> bool | None:
    value = item.get("excused", False)
    if not isinstance(value, bool):
        errors.append((index, "excused", "Must be a valid boolean."))
        return None
    return value


def _parse_student(item: dict, index: int, errors: list) -> int | None:
    if "student" not in item:
        errors.append((index, "student", "This field is required."))
        return None
    value = item["student"]
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append((index, "student", "A valid integer (a user id) is required."))
        return None
    if not 1 <= value <= MAX_ID:
        errors.append((index, "student", "This user is not enrolled as a student in the test's course."))
        return None
    return value


def _parse_score(item: dict, index: int, errors: list) -> Decimal | None:
    if item.get("score") is None:
        errors.append((index, "score", SCORE_OR_EXCUSED))
        return None
    value = item["score"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append((index, "score", "A valid number is required."))
        return None
    try:
        return services.parse_score(value)
    except Invalid as exc:
        errors.append((index, "score", str(exc.detail)))
        return None


# A student's results, with their tests' names and courses.


class ResultCourseSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class StudentResultSerializer(serializers.Serializer):
    """One of a student's results, with the name of its test and its course."""

    id = serializers.IntegerField(read_only=True)
    test = serializers.IntegerField(source="test_id", read_only=True)
    student = serializers.IntegerField(source="student_id", read_only=True)
    grader = serializers.IntegerField(source="grader_id", read_only=True, allow_null=True)
    score = serializers.DecimalField(
        max_digits=7, decimal_places=2, coerce_to_string=False, read_only=True, allow_null=True
    )
    percent = serializers.FloatField(read_only=True, allow_null=True)
    excused = serializers.BooleanField(read_only=True)
    entered_score = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        allow_null=True,
        help_text="The score as the teacher entered it (null when excused).",
    )
    late_deduction = serializers.DecimalField(
        max_digits=7,
        decimal_places=2,
        coerce_to_string=False,
        read_only=True,
        help_text="entered_score - score: what the course's late policy took off.",
    )
    late_waived = serializers.BooleanField(read_only=True, help_text="true: no late deduction for this result.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)
    test_name = serializers.CharField(source="test.name", read_only=True)
    course = ResultCourseSerializer(source="test.course", read_only=True)


# The fast path of ``StudentResultSerializer``: ``percent`` is ``TestResult.percent`` on an instance,
# an annotated column in a row; the test's name and its course's columns are joined (``test__...``).
STUDENT_RESULT = Output(StudentResultSerializer, model=TestResult)


# Reports: statistics, the gradebook, its import, a result's history.


class BucketSerializer(ReportSerializer):
    to = serializers.IntegerField(help_text="Upper bound: exclusive, except 100 (the last bucket is 90-100).")
    count = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.IntegerField(help_text="Lower bound, inclusive.")
        return {"from": fields.pop("from"), **fields}


class StatsSerializer(ReportSerializer):
    count = serializers.IntegerField(help_text="Results with a score (excused results are not counted).")
    excused = serializers.IntegerField(help_text="Excused results: in no statistic.")
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

    def get_fields(self):
        fields = super().get_fields()
        return {"test": fields.pop("test"), **fields}  # the test, then its statistics


class GradebookTestSerializer(ReportSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    date = serializers.DateField()
    max_score = serializers.FloatField()
    stats = StatsSerializer()


class GradebookCellSerializer(ReportSerializer):
    submitted_at = serializers.DateTimeField(allow_null=True, help_text="The latest attempt's; null without one.")
    late = serializers.BooleanField(help_text="The latest attempt is late.")
    missing = serializers.BooleanField(help_text="The work is missing (see the missing list's rule).")


class GradebookStudentSerializer(ReportSerializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    scores = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text="Test id → score, null where there is no result or the student is excused.",
    )
    average_percent = serializers.FloatField(
        allow_null=True, help_text="Mean percent over the tests with a score, 1 decimal; null if none."
    )
    excused = serializers.ListField(
        child=serializers.IntegerField(), help_text="Tests on which the student is excused."
    )
    missing = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Due, published tests with no result (and not excused); online tests: past the student's "
        "effective due_at with no attempt, no result and no excuse.",
    )
    current_percent = serializers.FloatField(allow_null=True, help_text="The course grade over results so far.")
    final_percent = serializers.FloatField(allow_null=True, help_text="The course grade counting missing results as 0.")
    letter = serializers.CharField(allow_null=True, help_text="The scheme's letter for current_percent.")
    cells = serializers.DictField(
        child=GradebookCellSerializer(),
        help_text="Test id → the student's submission on it: every test of the course.",
    )


class GradebookCourseSerializer(ReportSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class GradebookSerializer(ReportSerializer):
    course = GradebookCourseSerializer()
    tests = GradebookTestSerializer(many=True)
    students = GradebookStudentSerializer(many=True)


class ImportCountsSerializer(ReportSerializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class ImportErrorSerializer(ReportSerializer):
    row = serializers.IntegerField(help_text="The row in the file as a spreadsheet numbers it: the header is row 1.")
    column = serializers.CharField(help_text="The column's header (`email`, a test column), or empty for a whole row.")
    message = serializers.CharField()


class ImportErrorsSerializer(ReportSerializer):
    """The file's errors; a bad query parameter (``dry_run``) is a field error like elsewhere instead."""

    detail = serializers.CharField(required=False, help_text="With `truncated`: what was checked, and what to do.")
    errors = ImportErrorSerializer(many=True, required=False, help_text="At most the first 100.")
    truncated = serializers.BooleanField(
        required=False, help_text="Present (true) when checking stopped at the 100th error: more may follow."
    )
    stopped_at_row = serializers.IntegerField(
        required=False, help_text="With `truncated`: the row checking stopped at."
    )


class GradeChangeSerializer(serializers.ModelSerializer):
    old_score = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, allow_null=True)
    new_score = serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, allow_null=True)
    excused = serializers.BooleanField(help_text="The result is excused after this change (new_score is null).")

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
            "excused",
            "changed_by",
            "changed_at",
            "via",
        ]
        read_only_fields = fields


# The fast path of ``GradeChangeSerializer`` (a result's history).
GRADE_CHANGE = Output(GradeChangeSerializer)


class NoticeSerializer(serializers.ModelSerializer):
    """A result notice: an email to a test's students about their results, sent by the worker."""

    kind = serializers.ChoiceField(
        choices=Notice.Kind.choices,
        read_only=True,
        help_text="`published`: the test's results were published; `changed`: results students could see changed.",
    )
    state = serializers.ChoiceField(
        choices=Notice.State.choices,
        read_only=True,
        help_text="`pending`: waiting until `send_after`, further changes merge into it; `sending`; `sent`; "
        "`failed` (see `reason`); `canceled`: the results were hidden again before it was sent.",
    )
    recipients = serializers.IntegerField(
        source="recipients_count",
        read_only=True,
        help_text="Students it emails: those with notifications on and a result (while pending, every student "
        "whose result it is about).",
    )
    sent = serializers.IntegerField(
        source="sent_count", read_only=True, help_text="Students whose email SendGrid accepted."
    )
    failed = serializers.IntegerField(source="failed_count", read_only=True, help_text="Students whose email failed.")
    reason = serializers.CharField(read_only=True, help_text="Why it failed or was canceled; empty otherwise.")

    class Meta:
        model = Notice
        fields = ["id", "kind", "created_at", "send_after", "state", "sent", "failed", "recipients", "reason"]
        read_only_fields = fields


# The fast path of ``NoticeSerializer``: the counts are ``grading.notices.with_counts``'s annotations.
NOTICE = Output(NoticeSerializer)


# Grade categories and course grades.

_WEIGHT = {"max_digits": WEIGHT_DIGITS, "decimal_places": WEIGHT_PLACES, "coerce_to_string": False}


class CategorySerializer(StrictInputMixin, serializers.ModelSerializer):
    """A grade category of a course: its weight (a percent) in the course grade and its drop rules."""

    ignored_fields = ("id", "course", "created_at", "updated_at")
    name = NameField(max_length=200)
    weight = StrictDecimalField(
        **_WEIGHT, min_value=Decimal(0), required=False, help_text="A percent ≥ 0, at most 2 decimals; default 100."
    )
    drop_lowest = StrictIntegerField(
        min_value=0, max_value=1000, required=False, help_text="Results with the lowest percent to drop."
    )
    drop_highest = StrictIntegerField(
        min_value=0, max_value=1000, required=False, help_text="Results with the highest percent to drop."
    )
    position = StrictIntegerField(
        min_value=0,
        max_value=CATEGORY_MAX_POSITION,
        required=False,
        help_text="Order among the course's categories; default: after the others.",
    )

    class Meta:
        model = GradeCategory
        fields = [
            "id",
            "course",
            "name",
            "weight",
            "drop_lowest",
            "drop_highest",
            "position",
            "created_at",
            "updated_at",
            "version",
        ]
        read_only_fields = ["id", "course", "created_at", "updated_at", "version"]


# The fast path of ``CategorySerializer`` (a course's categories).
CATEGORY = Output(CategorySerializer)


def _grade_percent(**kwargs):
    """A grade percent as the API shows it: a number with 2 decimals, or null where nothing counts."""
    return serializers.DecimalField(max_digits=7, decimal_places=2, coerce_to_string=False, allow_null=True, **kwargs)


class CategoryGradeSerializer(ReportSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    weight = serializers.DecimalField(**_WEIGHT)
    current_percent = _grade_percent()
    final_percent = _grade_percent()
    dropped = serializers.ListField(child=serializers.IntegerField(), help_text="Tests dropped from current_percent.")
    final_dropped = serializers.ListField(
        child=serializers.IntegerField(), help_text="Tests dropped from final_percent."
    )


class CourseGradeSerializer(ReportSerializer):
    student = UserSummarySerializer()
    current_percent = _grade_percent(
        help_text="Over the results so far (tests with no result ignored); null if nothing counts."
    )
    final_percent = _grade_percent(help_text="Counting every missing result as 0.")
    letter = serializers.CharField(allow_null=True, help_text="The scheme's letter for current_percent.")
    final_letter = serializers.CharField(allow_null=True, help_text="The scheme's letter for final_percent.")
    missing = serializers.ListField(
        child=serializers.IntegerField(), help_text="Due tests with published results and no result (not excused)."
    )
    categories = CategoryGradeSerializer(many=True)
