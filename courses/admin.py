"""The admin for courses, enrollments and feedback, scoped to the courses a teacher teaches.

Who sees what (every check calls ``courses.policy``, as the API does):

- superusers (the API's admins) see and change everything;
- a teacher sees only the courses they teach and what belongs to them. Another course's page,
  by URL or otherwise, is a 404, as if it didn't exist. A teacher may rename and describe their
  courses (``grading.admin`` adds their tests and gradebook to the course's page); enrollments
  and feedback are read-only here (a teacher
  enrolls people through the API, which applies the enrollment rules). Creating and deleting
  courses is for the API (where the creator becomes the teacher) or a superuser.
"""

from django.contrib import admin
from django.contrib.admin import helpers
from django.http import Http404
from django.utils.html import format_html
from django.utils.translation import gettext as _

from courses import policy
from courses.models import Course, Enrollment, Feedback, Role
from gradingsite.admin_site import asked_once


class CourseScopedAdmin(admin.ModelAdmin):
    """A ModelAdmin whose rows belong to a course: a teacher sees only their courses' rows.

    ``course_field`` is the lookup from the model to its course's id (``course_id``,
    ``test__course_id``); ``course_id_of`` reads it from an object. Viewing and changing need
    ``policy.can_manage_course``; writes beyond that are opted into per admin.
    """

    course_field = "course_id"
    teachers_may_change = False
    teachers_may_add = False
    teachers_may_delete = False

    def action_checkbox(self, obj):
        # Django's renders a checkbox widget through the form renderer's template, a quarter of a
        # list's time at 100 rows; the same input, written directly.
        return format_html(
            '<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
            helpers.ACTION_CHECKBOX_NAME,
            obj.pk,
            format_html(_("Select this object for an action - {}"), str(obj)),
        )

    def course_id_of(self, obj) -> int:
        value = obj
        for part in self.course_field.split("__"):
            value = getattr(value, part)
        return value

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if policy.is_admin(request.user):
            return queryset
        return queryset.filter(**{f"{self.course_field}__in": policy.taught_course_ids(request.user)})

    def get_object(self, request, object_id, from_field=None):
        # Outside the caller's scope, or not there at all: a 404 either way (no redirect, no hint).
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object, or not one of your courses'.")
        return obj

    def _allowed(self, request, obj, teachers_may: bool) -> bool:
        user = request.user
        if policy.is_admin(user):
            return True
        if not teachers_may:
            return False
        if obj is None:
            return asked_once(request, policy.can_use_admin)
        return asked_once(request, policy.can_manage_course, self.course_id_of(obj))

    def has_module_permission(self, request):
        return asked_once(request, policy.can_use_admin)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj, True)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj, self.teachers_may_change)

    def has_add_permission(self, request, *args):
        return self._allowed(request, None, self.teachers_may_add)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj, self.teachers_may_delete)


class ReadOnlyForTeachersInline(admin.TabularInline):
    extra = 0

    def has_add_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return policy.is_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return asked_once(request, policy.can_use_admin)


class CourseListFilter(admin.RelatedFieldListFilter):
    """A list's filter by course offering the courses the caller teaches (every course, for an admin),
    read from the courses: Django's ``RelatedOnlyFieldListFilter`` would gather them from every row of
    the list (every result of every course) on each page."""

    def field_choices(self, field, request, model_admin):
        courses = policy.courses_taught_by(request.user).order_by("name", "id").values_list("pk", "name")
        return list(courses)


class EnrollmentInline(ReadOnlyForTeachersInline):
    model = Enrollment
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["user"]
    ordering = ["role", "user__last_name", "user__first_name", "user__email"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Course)
class CourseAdmin(CourseScopedAdmin):
    course_field = "id"
    teachers_may_change = True
    list_display = ["name", "teacher_list", "created_at"]
    search_fields = ["name", "details"]
    ordering = ["name"]
    fields = ["name", "details"]
    inlines = [EnrollmentInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("enrollments__user")

    @admin.display(description="Teachers")
    def teacher_list(self, course):
        return ", ".join(str(e.user) for e in course.enrollments.all() if e.role == Role.TEACHER)


@admin.register(Enrollment)
class EnrollmentAdmin(CourseScopedAdmin):
    list_display = ["user", "course", "role", "created_at"]
    list_filter = ["role", ("course", CourseListFilter)]
    search_fields = ["user__email", "user__last_name", "user__first_name", "course__name"]
    list_select_related = ["user", "course"]
    autocomplete_fields = ["user", "course"]
    ordering = ["course__name", "role", "user__last_name", "user__first_name", "user__email"]


@admin.register(Feedback)
class FeedbackAdmin(CourseScopedAdmin):
    list_display = ["course", "student", "created_at"]
    list_filter = [("course", CourseListFilter)]
    search_fields = ["feedback", "student__email"]
    list_select_related = ["course", "student"]
    ordering = ["-created_at"]
