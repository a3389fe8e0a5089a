from django.contrib import admin
from django.urls import include, path

import accounts.urls
import courses.urls
import grading.urls
from gradingsite import files, views
from gradingsite.api.urls import urlpatterns_for

# Every router of the API, the apps in their dependency order: ``accounts`` (people, sign-in) ←
# ``courses`` (courses, enrollments, feedback) ← ``grading`` (tests, results, reports).
API_ROUTERS = [*accounts.urls.routers, *courses.urls.routers, *grading.urls.routers]

urlpatterns = [
    path("", views.read_only(views.status), name="status"),
    path("healthz", views.read_only(views.healthz), name="healthz"),
    path("admin/", admin.site.urls),
    # Where a client sends a file when there is no bucket (gradingsite.files.LocalStore).
    path("api/uploads/local/", files.local_upload, name="files-local-upload"),
    path("api/", include(urlpatterns_for(API_ROUTERS))),
]

# Django's own error pages, answered as JSON everywhere but the admin (which keeps its HTML).
handler400 = "gradingsite.api.exceptions.bad_request"
handler403 = "gradingsite.api.exceptions.permission_denied"
handler404 = "gradingsite.api.exceptions.page_not_found"
handler500 = "gradingsite.api.exceptions.server_error"
