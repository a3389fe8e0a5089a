"""The admin for courses, enrollments and feedback, scoped to the courses a teacher teaches.

Who sees what (every check calls ``courses.policy``, as the API does):

- superusers (the API's admins) see and change everything;
- a teacher sees only the courses they teach and what belongs to them. Another course's page,
  by URL or otherwise, is a 404, as if it didn't exist. A teacher may rename and describe their
  courses (``grading.admin`` adds their tests and gradebook to the course's page); enrollments
  and feedback are read-only here (a teacher enrolls people through the API). Superusers enroll,
  unenroll and change roles here through the same rules (``courses.services``: a course keeps a
  teacher). Creating and deleting courses is for the API (where the creator becomes the teacher)
  or a superuser.

Every page takes as many queries for a class of 1,000 as for a class of 10: a course's page shows
how many teachers and students it has, with a link to its enrollments (a paginated list), not a
row per member; the lists' course filters offer the caller's courses, read from the courses, not
gathered from every row of the list.
"""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.widgets import AutocompleteSelect
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from courses import policy, services
from courses.models import Course, Enrollment, Feedback, Role
from gradingsite.admin_site import asked_once
from gradingsite.errors import Conflict


class IdAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete select, which shows a form sent back with text in an id field with its
    error: Django's looks the text up as an id, and the ValueError is a 500."""

    def optgroups(self, name, value, attr=None):
        return super().optgroups(name, [v for v in value if str(v).isdecimal()], attr)


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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = IdAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

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


def _member_count(role: str):
    """How many members of this role the course has: a count on the enrollments' (course, role) index."""
    enrollments = Enrollment.objects.filter(course_id=OuterRef("pk"), role=role).order_by()
    count = enrollments.values("course_id").annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), 0)


def enrollments_url(course) -> str:
    """The list of the course's enrollments."""
    return reverse("admin:courses_enrollment_changelist") + f"?course__id__exact={course.pk}"


@admin.register(Course)
class CourseAdmin(CourseScopedAdmin):
    course_field = "id"
    teachers_may_change = True
    list_display = ["name", "teacher_list", "student_count", "created_at"]
    search_fields = ["name", "details"]
    ordering = ["name"]
    fields = ["name", "details", "member_counts"]
    readonly_fields = ["member_counts"]
    inlines = []

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        return fields if obj is not None else [name for name in fields if name != "member_counts"]

    def get_queryset(self, request):
        teachers = Enrollment.objects.filter(role=Role.TEACHER).select_related("user").order_by("id")
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("enrollments", queryset=teachers, to_attr="teacher_enrollments"))
            .annotate(teacher_count=_member_count(Role.TEACHER), student_count=_member_count(Role.STUDENT))
        )

    @admin.display(description="Teachers")
    def teacher_list(self, course):
        return ", ".join(str(e.user) for e in course.teacher_enrollments)

    @admin.display(description="Students", ordering="student_count")
    def student_count(self, course):
        return course.student_count

    @admin.display(description="Members")
    def member_counts(self, course):
        if not course.pk:
            return "-"
        return format_html(
            '<a href="{}" id="course-members">{} teacher{}, {} student{}: the list of enrollments</a>',
            enrollments_url(course),
            course.teacher_count,
            "" if course.teacher_count == 1 else "s",
            course.student_count,
            "" if course.student_count == 1 else "s",
        )


@admin.register(Enrollment)
class EnrollmentAdmin(CourseScopedAdmin):
    """Enrollments through the enrollment rules of ``courses.services``, as the API applies them: one
    per user and course, and a course keeps a teacher (unenrolling or demoting its last one is
    refused with a message). An enrollment stays its user's in its course; its role changes."""

    list_display = ["user", "course", "role", "created_at"]
    list_filter = ["role", ("course", CourseListFilter)]
    search_fields = ["user__email", "user__last_name", "user__first_name", "course__name"]
    list_select_related = ["user", "course"]
    autocomplete_fields = ["user", "course"]
    ordering = ["course__name", "role", "user__last_name", "user__first_name", "user__email"]

    def get_readonly_fields(self, request, obj=None):
        return ["user", "course", "created_at"] if obj is not None else []

    def save_model(self, request, obj, form, change):
        if change:
            obj.refresh_from_db(fields=["role"])  # the service compares with the role as stored
            services.change_role(enrollment=obj, role=form.cleaned_data["role"])
            return
        enrolled = services.enroll(user=obj.user, course=obj.course, role=obj.role)
        obj.pk, obj.created_at = enrolled.pk, enrolled.created_at

    def delete_model(self, request, obj):
        services.unenroll(enrollment=obj)

    def delete_queryset(self, request, queryset):
        for enrollment in queryset.select_related("user", "course"):
            try:
                services.unenroll(enrollment=enrollment)
            except Conflict as exc:
                self.message_user(request, f"{enrollment} was kept: {exc.detail}", messages.ERROR)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Conflict as exc:  # the form ran in one transaction: nothing of it was saved
            self.message_user(request, f"Nothing was saved: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except Conflict as exc:
            self.message_user(request, f"Nothing was deleted: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:courses_enrollment_change", args=[object_id]))


@admin.register(Feedback)
class FeedbackAdmin(CourseScopedAdmin):
    list_display = ["course", "student", "created_at"]
    list_filter = [("course", CourseListFilter)]
    search_fields = ["feedback", "student__email"]
    list_select_related = ["course", "student"]
    ordering = ["-created_at"]
