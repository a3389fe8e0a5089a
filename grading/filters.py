from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from grading.models import TestResult
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
