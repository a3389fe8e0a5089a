from django.contrib import admin
from django.urls import include, path

from gradingsite import views

urlpatterns = [
    path("", views.status, name="status"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include("gradingsite.api.urls")),
]
