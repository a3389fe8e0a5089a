"""The admin site: the instructors' grading tool.

Teachers sign in without being made staff by hand: who may enter is the policy's decision
(``courses.policy.can_use_admin``). The login page offers sign-in by emailed code.
"""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from courses import policy


def asked_once(request, rule, *args):
    """``rule(request.user, *args)`` (a predicate of ``courses.policy``), asked of the database once
    per request.

    One admin page asks the same question many times: the index asks every model whether the caller
    may use the admin, a change form asks it of every inline and of every button. The answer stands
    for the rest of the request."""
    answers = request.__dict__.setdefault("_policy_answers", {})
    key = (rule, request.user.pk, *args)  # a sign-in during the request asks again
    if key not in answers:
        answers[key] = rule(request.user, *args)
    return answers[key]


class ReadOnlyAdmin:
    """A ModelAdmin or inline of records kept by the software (history, notices): whoever may view
    them reads them; nobody adds, changes or deletes them in the admin, superusers included. Put it
    before the admin class it restricts."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GradingAdminSite(admin.AdminSite):
    site_header = "Grading administration"
    site_title = "Grading admin"
    index_title = "Courses and grades"

    @method_decorator(never_cache)
    @login_not_required
    def login(self, request, extra_context=None):
        """Sign-in by emailed code, or by password for a superuser who has one (accounts.admin_login)."""
        from accounts import admin_login  # imported late: this module loads before the apps are ready

        return admin_login.login(request, self, extra_context)

    def password_change(self, request, extra_context=None):
        """Someone who signs in by emailed code has no password to change: back to the index, saying so."""
        if not request.user.has_usable_password():
            from django.contrib import messages
            from django.shortcuts import redirect

            messages.info(request, "You sign in with emailed codes: there is no password to change.")
            return redirect("admin:index")
        return super().password_change(request, extra_context)

    def may_enter(self, user) -> bool:
        """Whether this user may sign in here (asked by the sign-in page before it emails a code)."""
        return policy.can_use_admin(user)

    def has_permission(self, request):
        return asked_once(request, policy.can_use_admin)
