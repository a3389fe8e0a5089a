"""The routes of ``accounts``: /api/auth/…, /api/profile/, /api/users/ and /api/users/{id}/."""

from accounts import views
from gradingsite.api.routers import Router, SingletonRouter

router = Router()
router.register("auth", views.AuthViewSet, basename="auth")
router.register("users", views.UserViewSet, basename="user")

singletons = SingletonRouter()
singletons.register("profile", views.ProfileViewSet, basename="profile")

routers = [router, singletons]
