"""Routes of the reports: stats, gradebook (JSON, CSV), import, history. Trailing slash optional."""

from django.urls import re_path

from grading import report_views

urlpatterns = [
    re_path(r"^tests/(?P<pk>\d+)/stats/?$", report_views.TestStatsView.as_view(), name="test-stats"),
    re_path(r"^courses/(?P<pk>\d+)/gradebook/?$", report_views.GradebookView.as_view(), name="course-gradebook"),
    re_path(
        r"^courses/(?P<pk>\d+)/gradebook\.csv$", report_views.GradebookCSVView.as_view(), name="course-gradebook-csv"
    ),
    re_path(
        r"^courses/(?P<pk>\d+)/gradebook/import/?$",
        report_views.GradebookImportView.as_view(),
        name="course-gradebook-import",
    ),
    re_path(
        r"^test-results/(?P<pk>\d+)/history/?$", report_views.ResultHistoryView.as_view(), name="test-result-history"
    ),
]
