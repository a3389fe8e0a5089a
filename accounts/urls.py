"""Routes under /api/auth/; the trailing slash is optional."""

from django.urls import re_path

from accounts import views

urlpatterns = [
    re_path(r"^login/?$", views.LoginView.as_view(), name="auth-login"),
    re_path(r"^authenticate/?$", views.AuthenticateView.as_view(), name="auth-authenticate"),
    re_path(r"^refresh/?$", views.RefreshView.as_view(), name="auth-refresh"),
    re_path(r"^logout/?$", views.LogoutView.as_view(), name="auth-logout"),
    re_path(r"^logout-all/?$", views.LogoutAllView.as_view(), name="auth-logout-all"),
]
