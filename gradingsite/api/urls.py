"""The routes under /api/ around the apps' routers: the schema, its docs, and a JSON 404 for the rest.

The project's URLconf (``gradingsite.urls``) hands in the apps' routers; this module knows no app.
Each app registers its viewsets on a router of ``gradingsite.api.routers``, where every path takes
an optional trailing slash.
"""

from django.urls import re_path
from drf_spectacular.views import SpectacularAPIView

from gradingsite.api.exceptions import api_not_found
from gradingsite.views import DocsView, read_only


def urlpatterns_for(routers) -> list:
    return [
        re_path(r"^schema/?$", read_only(SpectacularAPIView.as_view()), name="schema"),
        re_path(r"^docs/?$", read_only(DocsView.as_view(url_name="schema")), name="docs"),
        *(pattern for router in routers for pattern in router.urls),
        # Last: any other path under /api/ is a JSON 404 whatever the method (and whatever DEBUG says).
        re_path(r"^", api_not_found, name="api-not-found"),
    ]
