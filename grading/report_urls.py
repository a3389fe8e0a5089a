"""Routes of the reports: stats, gradebook (JSON, CSV), import, history. Trailing slash optional.

Ids are matched loosely (``[^/]+``): a bad one is the view's JSON 404, for every method.
"""

from django.urls import re_path

from grading import report_views

urlpatterns = [
    re_path(r"^tests/(?P<pk>[^/]+)/stats/?$", report_views.TestStatsView.as_view(), name="test-stats"),
    re_path(r"^courses/(?P<pk>[^/]+)/gradebook/?$", report_views.GradebookView.as_view(), name="course-gradebook"),
    re_path(
        r"^courses/(?P<pk>[^/]+)/gradebook\.csv$", report_views.GradebookCSVView.as_view(), name="course-gradebook-csv"
    ),
    re_path(
        r"^courses/(?P<pk>[^/]+)/gradebook/import/?$",
        report_views.GradebookImportView.as_view(),
        name="course-gradebook-import",
    ),
    re_path(
        r"^test-results/(?P<pk>[^/]+)/history/?$", report_views.ResultHistoryView.as_view(), name="test-result-history"
    ),
]
