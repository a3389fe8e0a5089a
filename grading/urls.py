"""Tests and results. Ids are matched loosely (``[^/]+``) so a bad one is the views' JSON 404."""

from django.urls import re_path

from grading import views

urlpatterns = [
    re_path(r"^courses/(?P<id>[^/]+)/tests/?$", views.CourseTestsView.as_view(), name="course-tests"),
    re_path(r"^tests/(?P<id>[^/]+)/?$", views.TestDetailView.as_view(), name="test-detail"),
    re_path(r"^tests/(?P<id>[^/]+)/results/?$", views.TestResultsView.as_view(), name="test-results"),
    re_path(r"^test-results/(?P<id>[^/]+)/?$", views.TestResultDetailView.as_view(), name="testresult-detail"),
]
