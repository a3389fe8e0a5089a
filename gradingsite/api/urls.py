"""Every route under /api/. A trailing slash is optional on each of them."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("auth/", include("accounts.urls")),
    path("", include("courses.urls")),
    path("", include("grading.urls")),
]
