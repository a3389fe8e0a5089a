"""Every route under /api/. A trailing slash is optional on each of them (``/?`` in the patterns)."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from gradingsite.api.exceptions import api_not_found
from gradingsite.views import DocsView, read_only

urlpatterns = [
    re_path(r"^schema/?$", read_only(SpectacularAPIView.as_view()), name="schema"),
    re_path(r"^docs/?$", read_only(DocsView.as_view(url_name="schema")), name="docs"),
    path("auth/", include("accounts.urls")),  # login, authenticate, refresh, logout
    path("", include("accounts.api_urls")),  # profile, users
    path("", include("courses.urls")),  # courses, members, enrollments, feedback
    path("", include("grading.urls")),  # tests, results, single results
    path("", include("grading.report_urls")),  # stats, gradebook, import, history
    # Last: any other path under /api/ is a JSON 404 whatever the method (and whatever DEBUG says).
    re_path(r"^", api_not_found, name="api-not-found"),
]
