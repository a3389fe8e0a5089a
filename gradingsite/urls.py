from django.contrib import admin
from django.urls import include, path

from gradingsite import views

urlpatterns = [
    path("", views.read_only(views.status), name="status"),
    path("healthz", views.read_only(views.healthz), name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("gradingsite.api.urls")),
]

# Django's own error pages, answered as JSON everywhere but the admin (which keeps its HTML).
handler400 = "gradingsite.api.exceptions.bad_request"
handler403 = "gradingsite.api.exceptions.permission_denied"
handler404 = "gradingsite.api.exceptions.page_not_found"
handler500 = "gradingsite.api.exceptions.server_error"
