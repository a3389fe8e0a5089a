"""/api/profile/ and /api/users/… (a user's enrollments are in courses/urls.py)."""

from django.urls import re_path

from accounts import api

urlpatterns = [
    re_path(r"^profile/?$", api.ProfileView.as_view(), name="profile"),
    re_path(r"^users/?$", api.UserListView.as_view(), name="user-list"),
    re_path(r"^users/(?P<pk>[0-9]+)/?$", api.UserDetailView.as_view(), name="user-detail"),
    re_path(r"^users/(?P<pk>[0-9]+)/test-results/?$", api.UserTestResultsView.as_view(), name="user-test-results"),
]
