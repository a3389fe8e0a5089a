"""Every route under /api/: each app's router, the schema and its docs, and a JSON 404 for the rest.

Apps are listed in their dependency order: ``accounts`` (people, sign-in) ← ``courses`` (courses,
enrollments, feedback) ← ``grading`` (tests, results, reports). Each registers its viewsets on a
router of ``gradingsite.api.routers``, where every path takes an optional trailing slash.
"""

from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView

import accounts.urls
import courses.urls
import grading.urls
from gradingsite.api.exceptions import api_not_found
from gradingsite.views import DocsView, read_only

ROUTERS = [*accounts.urls.routers, *courses.urls.routers, *grading.urls.routers]

urlpatterns = [
    re_path(r"^schema/?$", read_only(SpectacularAPIView.as_view()), name="schema"),
    re_path(r"^docs/?$", read_only(DocsView.as_view(url_name="schema")), name="docs"),
    *(pattern for router in ROUTERS for pattern in router.urls),
    # Last: any other path under /api/ is a JSON 404 whatever the method (and whatever DEBUG says).
    re_path(r"^", api_not_found, name="api-not-found"),
]
