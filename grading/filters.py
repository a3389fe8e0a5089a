from django import forms
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from grading.models import TestResult


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(filters.NumberFilter):
    """An integer id: ``?student=abc`` and ``?student=1.5`` are 400s, not empty lists."""

    field_class = forms.IntegerField


class TestResultFilter(filters.FilterSet):
    student = IdFilter(field_name="student_id", help_text="Only this student's result.")

    class Meta:
        model = TestResult
        fields = ["student"]
