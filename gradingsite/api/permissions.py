"""DRF permission classes shared by the API's views; each asks ``courses.policy``."""

from rest_framework import permissions

from courses import policy


class IsAdmin(permissions.BasePermission):
    """Admins only."""

    def has_permission(self, request, view):
        return policy.is_admin(request.user)
