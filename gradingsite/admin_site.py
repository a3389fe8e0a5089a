"""The admin site: the instructors' grading tool.

Teachers sign in without being made staff by hand: who may enter is the policy's decision
(``courses.policy.can_use_admin``). The login page offers sign-in by emailed code.
"""

from django.contrib import admin

from courses import policy


class GradingAdminSite(admin.AdminSite):
    site_header = "Grading administration"
    site_title = "Grading admin"
    index_title = "Courses and grades"

    def has_permission(self, request):
        return policy.can_use_admin(request.user)
