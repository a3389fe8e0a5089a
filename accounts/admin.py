"""Users in the admin: for superusers only.

Teachers sign in to the admin to grade, and see the people of their courses where they grade
them (a test's page, a course's enrollments). The list of every account, and the power to change
anyone's email or admin flag, stay with superusers, as ``PATCH /api/users/{id}/`` keeps them.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts import policy, user_services
from accounts.models import User


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_superuser", "is_active", "date_joined"]
    list_filter = ["is_superuser", "is_staff", "is_active"]
    search_fields = ["email", "first_name", "last_name"]
    # The user's own choice: shown, changed only by them (through the API).
    readonly_fields = ["date_joined", "last_login", "tokens_valid_after", "notify_by_email"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Personal info", {"fields": ["first_name", "last_name", "social", "notify_by_email"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined", "tokens_valid_after"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "first_name", "last_name"]})]

    def has_module_permission(self, request):
        return policy.is_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def has_add_permission(self, request):
        return policy.is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def delete_model(self, request, obj):
        user_services.user_delete(user=obj, by=request.user, via="admin")

    def delete_queryset(self, request, queryset):
        for user in queryset:
            user_services.user_delete(user=user, by=request.user, via="admin")
