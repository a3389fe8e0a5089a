from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from grading.models import Submission, TestResult
from grading.submissions import graded_filter, latest_only
from gradingsite.api.serializers import MAX_ID


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An integer id: ``?student=abc`` and ``?student=1.5`` are 400s, not empty lists; an id beyond
    the database's range matches nothing."""

    field_class = forms.IntegerField

    def filter(self, qs, value):
        if value is not None and not 1 <= value <= MAX_ID:
            return qs.none()
        return super().filter(qs, value)


class TestResultFilter(filters.FilterSet):
    student = IdFilter(field_name="student_id", help_text="Only this student's result.")
    # A choice, not BooleanFilter: that one reads ?excused=maybe as "no filter" instead of a 400.
    excused = filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        help_text="true: only excused results; false: only scored ones.",
    )

    class Meta:
        model = TestResult
        fields = ["student", "excused"]


@extend_schema_field({"type": "string", "enum": ["true", "false"]})
class FlagFilter(filters.TypedChoiceFilter):
    """``?name=true|false``: anything else is a 400."""


def _flag(help_text: str, **kwargs):
    """``?name=true|false`` (anything else is a 400), as ``TestResultFilter.excused``."""
    return FlagFilter(
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
        help_text=help_text,
        **kwargs,
    )


class SubmissionFilter(filters.FilterSet):
    """A test's submissions: by student, each student's latest attempt, late or not, graded or not
    (``?latest=true&graded=false`` is the grading queue)."""

    student = IdFilter(field_name="student_id", help_text="Only this student's attempts.")
    latest = _flag("true: each student's latest attempt only.", method="filter_latest")
    late = _flag("true: only late attempts (seconds_late > 0); false: only those on time.", field_name="late")
    graded = _flag(
        "true: attempts the student's result (or its excuse) was written at or after; false: the others.",
        method="filter_graded",
    )

    class Meta:
        model = Submission
        fields = ["student", "latest", "late", "graded"]

    def filter_latest(self, queryset, name, value):
        return latest_only(queryset) if value else queryset

    def filter_graded(self, queryset, name, value):
        return queryset.filter(graded_filter(value))
