"""The instructors' grading tool: tests, results and their history in the admin.

A test's page shows its fields, how many of its course's students are graded, excused and
ungraded, its statistics and a histogram of percents drawn by the server as SVG, and its result
notices; its grades are entered on a page of their own (``grading.admin_grades``, linked from
there), a page of the class at a time. Every grade write goes through the grade service
(``via="admin"``), which writes the history in the same transaction; the ORM is never written
directly.

A result may be **excused** (a checkbox; an excused result has no score): excusing, like grading,
goes through the grade service, so the history records it.

History (``GradeChange``) is read-only for everyone, superusers included. A course's page
(``courses.admin.CourseAdmin``: its name, details and how many teachers and students it has, linked
to its enrollments) gains here, for its teachers and admins: its grade categories
(edited inline, through the grade service: a category holding tests, or the course's last one, is
not deleted), how its grade is computed (weighting, grading scheme, time zone), its tests, its
gradebook (CSV), and its grades, read-only: a bar chart of every student's letter (SVG drawn by the
server) and the students' current and final percent and letter, 100 to a page.
"""

import json
from functools import cache, cached_property
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.forms.utils import flatatt
from django.http import Http404, HttpResponseRedirect, QueryDict
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from rest_framework.exceptions import ValidationError as DrfValidationError

from accounts.serializers import USER_SUMMARY
from courses import policy
from courses import services as course_services
from courses.admin import CourseAdmin, CourseListFilter, CourseScopedAdmin, ReadOnlyForTeachersInline, enrollments_url
from courses.models import Course, Enrollment, check_late_policy, late_policy_problem
from courses.serializers import check_grading_scheme
from grading import admin_grades, admin_submissions, csv_io, grades, notices, reports, services, submissions
from grading.admin_grades import SCORE_AND_EXCUSED, ScoreField
from grading.models import (
    ATTEMPTS_MAX,
    CATEGORIES_PER_COURSE,
    GradeCategory,
    GradeChange,
    Notice,
    Submission,
    SubmissionType,
    Test,
    TestResult,
)
from gradingsite.admin_site import ReadOnlyAdmin, asked_once
from gradingsite.errors import Conflict, DomainError, Invalid
from gradingsite.validators import time_zone_names

VIA = GradeChange.Via.ADMIN


def _score_problem(score, test) -> str | None:
    return None if score is None or test is None else services.score_error(score, test.max_score)


NO_SCORE = "Enter a score, or check excused."


def _check_score_or_excused(form, *, required: bool) -> None:
    """A result has a score or is excused, never both; ``required``: this form will be saved."""
    score, excused = form.cleaned_data.get("score"), form.cleaned_data.get("excused")
    if "score" not in form.cleaned_data:
        return  # the score itself is invalid: that error says enough
    if excused and score is not None:
        form.add_error("score", SCORE_AND_EXCUSED)
    elif required and not excused and score is None:
        form.add_error("score", NO_SCORE)


def _rendered(response):
    """The response drawn now (a ``TemplateResponse`` is drawn after the view returns): in the time
    zone the view set."""
    if hasattr(response, "render") and not response.is_rendered:
        response.render()
    return response


def _percent_cell(result) -> str:
    """A result's percent as its row shows it; "-" while it has none (a form being corrected)."""
    if not result.pk:
        return "-"
    if result.excused:
        return "excused"
    percent = result.percent
    return "-" if percent is None else f"{percent:.1f} %"


class DomainErrorsAsMessages:
    """A grade service refusal during a save (a race the form couldn't see) becomes a message, not a 500.

    Django runs the whole change form in one transaction, so nothing of the refused save is kept.
    """

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            self.message_user(request, f"Nothing was saved: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())


# Shared by the pages below --------------------------------------------------------------------


def _changes_as_stored(obj, form) -> dict:
    """The changes ``form`` makes to ``obj``, with ``obj``'s changed fields as they are stored.

    A ModelForm sets its values on its instance while it validates; the services write only what
    differs from the instance they are given (``gradingsite.services.model_update``), so they get
    it back as it was read."""
    stored = {field.name for field in obj._meta.concrete_fields}
    changes = {name: form.cleaned_data[name] for name in form.changed_data if name in stored & set(form.cleaned_data)}
    obj.refresh_from_db(fields=list(changes))
    return changes


class _TeachersOfTheCourseInline(admin.TabularInline):
    """An inline that the teachers of its page's course (and admins) may edit."""

    def _course_id(self, obj) -> int:
        """The course of the page's object (the course itself by default)."""
        return obj.pk

    def _teaches(self, request, obj):
        # Without an object (Django asks that too) the page's own scope decides.
        if obj is None:
            return asked_once(request, policy.can_use_admin)
        return asked_once(request, policy.can_manage_course, self._course_id(obj))

    def has_view_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._teaches(request, obj)


class _ReadOnlyForTheCourseInline(ReadOnlyAdmin, _TeachersOfTheCourseInline):
    """A record kept by the software (history, notices): the course's teachers and admins read it,
    nobody adds, changes or deletes it here."""

    extra = 0
    can_delete = False


# Tests ------------------------------------------------------------------------------------------


class CategoryChoiceField(forms.ModelChoiceField):
    """A grade category, named with its course where the choices span several courses (the add page)."""

    with_course = False

    def label_from_instance(self, obj):
        return f"{obj.course.name}: {obj.name}" if self.with_course else obj.name


TEST_FIELDS = ["course", "name", "date", "max_score", "category", "never_drop", "results_published"]
SUBMISSION_SETTINGS = ["submission_type", "unlock_at", "due_at", "lock_at", "allowed_attempts"]
_EMPTY_TIME = {"unlock_at": "open at once", "due_at": "never late", "lock_at": "never closes"}


class TestAdminForm(forms.ModelForm):
    """A test's fields and its submission settings, checked by the grade service's rules
    (``services.check_settings``) as the API checks them. Times are typed and shown in the
    course's time zone: ``TestAdmin`` sets it while the page is read, saved and drawn."""

    allowed_attempts = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=ATTEMPTS_MAX,
        help_text="Attempts per student (an extension may add some). Empty: unlimited.",
    )

    class Meta:
        model = Test
        fields = [*TEST_FIELDS, *SUBMISSION_SETTINGS]
        field_classes = {"category": CategoryChoiceField, "max_score": ScoreField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            zone = f"In the course's time zone ({timezone.get_current_timezone_name()})."
        else:
            zone = "In the time zone of the course chosen above."
        for name, empty in _EMPTY_TIME.items():
            if name in self.fields:
                self.fields[name].help_text += f" {zone} Empty: {empty}."
        category = self.fields.get("category")
        if category is None:
            return
        if self.instance.pk:
            # A test stays in its course: only that course's categories.
            category.queryset = GradeCategory.objects.filter(course_id=self.instance.course_id).order_by(
                "position", "id"
            )
        else:
            # The course is chosen on the same page: the categories of every course the caller
            # teaches (``TestAdmin.formfield_for_foreignkey``), named with it; blank: the course's first.
            category.with_course = True
            category.required = False
            category.help_text = "Blank: the course's first category."

    def clean_max_score(self):
        max_score = self.cleaned_data.get("max_score")
        if self.instance.pk and max_score is not None:
            highest = services.max_recorded_score(self.instance)
            if highest is not None and max_score < highest:
                raise forms.ValidationError(f"A score of {highest:f} is already recorded; max_score can't be lower.")
        return max_score

    def clean(self):
        cleaned = super().clean()
        category = cleaned.get("category")
        course_id = self.instance.course_id if self.instance.pk else getattr(cleaned.get("course"), "pk", None)
        if category is not None and course_id is not None and category.course_id != course_id:
            self.add_error("category", "This category belongs to another course.")
        self._check_settings(cleaned)
        return cleaned

    def _check_settings(self, cleaned):
        """The submission settings by ``services.check_settings``: every field in error gets its message
        (the service names one at a time: a field named is set aside and the rest checked again)."""
        names = [name for name in SUBMISSION_SETTINGS if name in self.fields]
        if any(name in self.errors for name in names):
            return  # a setting that isn't a value at all: its own error says enough
        new = self.instance.pk is None
        changes = {name: cleaned[name] for name in names if new or name in self.changed_data}
        stored = self.instance if not new else Test()
        for _ in range(len(names)):
            try:
                services.check_settings(stored, changes)
                return
            except Invalid as exc:
                for name, problems in exc.detail.items():
                    self.add_error(name, problems)
                    changes[name] = None
            except Conflict as exc:
                self.add_error("submission_type", exc.detail)
                changes.pop("submission_type")


class TestListFilter(admin.RelatedFieldListFilter):
    """A list's filter by test offering the tests of the caller's courses, or of the course chosen in
    the list's course filter (``course_parameter``), read from the tests: not gathered from every row
    of the list (every result, every line of history) as ``RelatedOnlyFieldListFilter`` would."""

    course_parameter = "test__course__id__exact"

    def field_choices(self, field, request, model_admin):
        tests = Test.objects.filter(course__in=policy.courses_taught_by(request.user))
        course = request.GET.get(self.course_parameter, "")
        if course.isdigit():
            tests = tests.filter(course_id=int(course))
        tests = tests.order_by("course__name", "course_id", "date", "id").values_list("pk", "name", "course__name")
        return [(pk, f"{course_name}: {name}") for pk, name, course_name in tests]


# Result notices: read-only, for the course's teachers and admins ---------------------------------

_NOTICE_FIELDS = ["created_at", "kind", "state", "send_after", "recipients", "sent", "failed", "reason"]


class _NoticeCounts:
    """The per-notice counts (``grading.notices.with_counts``) as admin columns."""

    @admin.display(description="Recipients")
    def recipients(self, notice):
        return notice.recipients_count

    @admin.display(description="Sent")
    def sent(self, notice):
        return notice.sent_count

    @admin.display(description="Failed")
    def failed(self, notice):
        return notice.failed_count


class NoticeInline(_NoticeCounts, _ReadOnlyForTheCourseInline):
    """The emails telling the test's students about their results, newest first."""

    model = Notice
    fields = _NOTICE_FIELDS
    readonly_fields = fields
    verbose_name_plural = "Emails to students about their results"

    def _course_id(self, test) -> int:
        return test.course_id

    def get_queryset(self, request):
        return notices.with_counts(super().get_queryset(request))


@admin.register(Notice)
class NoticeAdmin(_NoticeCounts, ReadOnlyAdmin, CourseScopedAdmin):
    """Every result notice of the caller's courses: what the worker sent, is sending or will send."""

    course_field = "test__course_id"
    list_display = ["created_at", "test", "kind", "state", "send_after", "recipients", "sent", "failed", "reason"]
    list_filter = ["state", "kind", ("test__course", CourseListFilter)]
    search_fields = ["test__name", "test__course__name"]
    list_select_related = ["test"]
    fields = ["test", *_NOTICE_FIELDS, "finished_at"]
    readonly_fields = fields
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return notices.with_counts(super().get_queryset(request))


# Submissions: read-only, for the course's teachers and admins --------------------------------------


class _YesNoFilter(admin.SimpleListFilter):
    """A filter of ``options`` "yes" and "no" (``keep`` applies one); any other value filters nothing."""

    options: tuple = ()

    def lookups(self, request, model_admin):
        return self.options

    def queryset(self, request, queryset):
        value = self.value()
        if value not in ("yes", "no"):
            return None
        return self.keep(queryset, value == "yes")

    def keep(self, queryset, flag: bool):
        raise NotImplementedError


class LateFilter(_YesNoFilter):
    """Attempts late as they are now (``submissions.with_lateness``: extensions count)."""

    title = "late"
    parameter_name = "late"
    options = (("yes", "Late"), ("no", "On time"))

    def keep(self, queryset, flag):
        return queryset.filter(late=flag)


class GradedFilter(_YesNoFilter):
    """The API's ``?graded=``: graded when the student's result (or excuse) was written at or after
    the attempt was handed in (``submissions.graded_filter``)."""

    title = "graded"
    parameter_name = "graded"
    options = (("no", "To grade"), ("yes", "Graded"))

    def keep(self, queryset, flag):
        return queryset.filter(submissions.graded_filter(flag))


class LatestFilter(_YesNoFilter):
    """The API's ``?latest=true``: each student's latest attempt only."""

    title = "attempts"
    parameter_name = "latest"
    options = (("yes", "Each student's latest"),)

    def keep(self, queryset, flag):
        return submissions.latest_only(queryset) if flag else queryset


@admin.register(Submission)
class SubmissionAdmin(ReadOnlyAdmin, CourseScopedAdmin):
    """Every attempt handed in to the tests of the caller's courses, newest first; nobody changes
    them here. Filters: course, test, late, graded ("To grade" with "Each student's latest" is the
    grading queue). Each row links to the grading page of its student on its test."""

    course_field = "test__course_id"
    list_display = ["submitted", "test", "student", "attempt", "lateness", "graded", "grade_link"]
    list_filter = [("test__course", CourseListFilter), ("test", TestListFilter), LateFilter, GradedFilter, LatestFilter]
    search_fields = ["student__email", "student__last_name", "student__first_name", "test__name"]
    show_full_result_count = False  # a count of every attempt of the caller's courses, on each page
    ordering = ["-submitted_at", "-id"]
    fields = ["test", "student", "attempt", "submitted", "lateness", "graded", "grade_link", "text"]
    readonly_fields = fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("test__course", "student")
        return submissions.with_lateness(queryset).annotate(is_graded=submissions.graded_filter(True))

    @admin.display(description="Submitted", ordering="submitted_at")
    def submitted(self, submission):
        """In the course's time zone, with its abbreviation."""
        zone = ZoneInfo(submission.test.course.time_zone)
        return date_format(timezone.localtime(submission.submitted_at, zone), "Y-m-d H:i:s T")

    @admin.display(description="Late", ordering="seconds_late")
    def lateness(self, submission):
        if not submission.seconds_late:
            return "on time"
        return format_html('<span class="late">{} late</span>', admin_submissions.late_text(submission.seconds_late))

    @admin.display(description="Graded", boolean=True)
    def graded(self, submission):
        return submission.is_graded

    @admin.display(description="Grade")
    def grade_link(self, submission):
        url = admin_submissions.grade_url(submission.test, submission.student_id)
        return format_html('<a href="{}" class="grade-link">Grade</a>', url)

    @admin.display(description="Text")
    def text(self, submission):
        return format_html('<div class="submission-body" style="white-space: pre-wrap">{}</div>', submission.body)


@admin.register(Test)
class TestAdmin(DomainErrorsAsMessages, CourseScopedAdmin):
    form = TestAdminForm
    teachers_may_add = teachers_may_change = teachers_may_delete = True
    list_display = ["name", "course", "category", "date", "max_score", "submission_type", "results_published"]
    list_filter = ["results_published", "submission_type", ("course", CourseListFilter)]
    fieldsets = [
        (None, {"fields": TEST_FIELDS}),
        (
            "Submissions",
            {
                "fields": SUBMISSION_SETTINGS,
                "description": "Online: students hand in work through the API before the due time; late work loses "
                "the course's late deduction. Times are in the course's time zone.",
            },
        ),
    ]
    search_fields = ["name", "course__name"]
    list_select_related = ["course", "category"]
    date_hierarchy = "date"
    ordering = ["-date", "id"]
    inlines = [NoticeInline]
    actions = ["publish_results", "hide_results"]
    change_form_template = "admin/grading/test/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return ["course"] if obj is not None else []  # a test stays in its course

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = policy.courses_taught_by(request.user).order_by("name")
        elif db_field.name == "category":
            # Narrowed to the test's own course by the form once the test exists.
            taught = policy.courses_taught_by(request.user)
            kwargs["queryset"] = (
                GradeCategory.objects.filter(course__in=taught)
                .select_related("course")
                .order_by("course__name", "course_id", "position", "id")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_inlines(self, request, obj):
        # A new test has no notices yet.
        return self.inlines if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("course", "category")  # the list shows both

    def add_view(self, request, form_url="", extra_context=None):
        # Times are typed in the time zone of the course the test is for (UTC until one is chosen).
        course = request.POST.get("course", request.GET.get("course", ""))
        zone = None
        if course.isascii() and course.isdigit() and len(course) < 19:
            taught = policy.courses_taught_by(request.user).filter(pk=int(course))
            zone = taught.values_list("time_zone", flat=True).first()
        with timezone.override(ZoneInfo(zone or "UTC")):
            return _rendered(super().add_view(request, form_url, extra_context))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        test = self.get_object(request, object_id)
        # The page reads, takes and shows times in the course's time zone.
        with timezone.override(admin_submissions.course_zone(test)):
            return _rendered(self._change_view(request, test, object_id, form_url, extra_context))

    def _change_view(self, request, test, object_id, form_url, extra_context):
        stats = reports.test_stats(test)
        history_url = reverse("admin:grading_gradechange_changelist") + f"?test__id__exact={test.pk}"
        context = {
            **(extra_context or {}),
            "stats": stats,
            "chart": reports.histogram_bars(stats["histogram"]),
            "history_url": history_url,
            # Whoever sees the test's page manages its course (``CourseScopedAdmin``): its grades are
            # entered on a page of their own, a page of students at a time.
            "grade_counts": admin_grades.grade_counts(test),
            "grades_url": reverse("admin:grading_test_grades", args=[test.pk]),
        }
        if test.submission_type == SubmissionType.ONLINE:
            context["submission_counts"] = admin_submissions.submission_counts(test)
            context["submission_links"] = {
                "submitted": admin_submissions.submissions_url(test, latest="yes"),
                "late": admin_submissions.submissions_url(test, latest="yes", late="yes"),
                "to_grade": admin_submissions.submissions_url(test, latest="yes", graded="no"),
                "missing": reverse("admin:grading_test_grades", args=[test.pk]) + "?show=missing",
            }
            first = admin_submissions.next_in_queue(test)
            if first is not None:
                context["grade_next_url"] = admin_submissions.grade_url(test, first)
        return super().change_view(request, object_id, form_url, context)

    # The grade-entry page -----------------------------------------------------------------------

    def get_urls(self):
        grades = self.admin_site.admin_view(self.grades_view)
        grade_student = self.admin_site.admin_view(self.grade_student_view)
        file = self.admin_site.admin_view(self.file_view)
        return [
            path("<path:object_id>/grades/", grades, name="grading_test_grades"),
            path("<path:object_id>/grade/<str:student_id>/", grade_student, name="grading_test_grade_student"),
            path("<path:object_id>/files/<str:file_id>/", file, name="grading_test_file"),
            *super().get_urls(),
        ]

    def grades_view(self, request, object_id):
        return admin_grades.grades_view(self, request, object_id)

    def grade_student_view(self, request, object_id, student_id):
        return admin_submissions.grade_student_view(self, request, object_id, student_id)

    def file_view(self, request, object_id, file_id):
        return admin_submissions.file_view(self, request, object_id, file_id)

    # Every write through the grade service ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()  # a new test holds no grades
            return
        changes = _changes_as_stored(obj, form)
        services.test_update(test=obj, by=request.user, **changes)

    def delete_model(self, request, obj):
        services.test_delete(test=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for test in queryset:
            services.test_delete(test=test, by=request.user)

    # Actions ------------------------------------------------------------------------------------

    def _publish(self, request, queryset, published: bool):
        count = 0
        for test in queryset:
            if test.results_published != published:
                services.test_update(test=test, results_published=published)
                count += 1
        state = "published" if published else "hidden"
        self.message_user(request, f"Results of {count} test(s) are now {state}.", messages.SUCCESS)

    @admin.action(description="Publish the results of the selected tests", permissions=["change"])
    def publish_results(self, request, queryset):
        self._publish(request, queryset, True)

    @admin.action(description="Hide the results of the selected tests from students", permissions=["change"])
    def hide_results(self, request, queryset):
        self._publish(request, queryset, False)


# Results on their own, and history --------------------------------------------------------------


class HistoryInline(_ReadOnlyForTheCourseInline):
    model = GradeChange
    fk_name = "result"
    fields = ["changed_at", "action", "old_score", "new_score", "excused", "changed_by", "via"]
    readonly_fields = fields
    ordering = ["changed_at", "id"]
    verbose_name_plural = "History"

    def _course_id(self, result) -> int:
        return result.test.course_id

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


class ResultForm(forms.ModelForm):
    """A result's score as the teacher entered it (the late deduction, if any, is taken off it again
    when saved), excused, and the late waiver."""

    class Meta:
        model = TestResult
        fields = ["score", "excused", "late_waived"]
        field_classes = {"score": ScoreField}
        labels = {"score": "Score as entered"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["score"] = self.instance.entered_score

    def clean_score(self):
        score = self.cleaned_data.get("score")
        problem = _score_problem(score, self.instance.test)
        if problem:
            raise forms.ValidationError(problem)
        return score

    def clean(self):
        cleaned = super().clean()
        _check_score_or_excused(self, required=True)
        return cleaned


@admin.register(TestResult)
class TestResultAdmin(DomainErrorsAsMessages, CourseScopedAdmin):
    """Results one by one: change a score or delete it. New results are graded on the test's page."""

    course_field = "test__course_id"
    teachers_may_change = teachers_may_delete = True
    form = ResultForm
    list_display = ["test", "student", "score", "excused", "late_deduction", "percent", "grader", "updated_at"]
    list_filter = [("test__course", CourseListFilter), ("test", TestListFilter), "excused"]
    show_full_result_count = False  # a count of every result of the caller's courses, on each page
    search_fields = ["student__email", "student__last_name", "test__name"]
    list_select_related = ["test", "student", "grader"]
    ordering = ["test", "student__last_name", "student__first_name", "student__email"]
    fields = [
        "test",
        "student",
        "score",
        "excused",
        "late_waived",
        "kept",
        "percent",
        "grader",
        "created_at",
        "updated_at",
    ]
    readonly_fields = ["test", "student", "kept", "percent", "grader", "created_at", "updated_at"]
    inlines = [HistoryInline]

    @admin.display(description="Percent")
    def percent(self, result):
        return _percent_cell(result)

    @admin.display(description="Score kept")
    def kept(self, result):
        """The stored score: the entered one less the late deduction."""
        if not result.pk or result.excused:
            return "-"
        stored = TestResult.objects.filter(pk=result.pk).values_list("score", "late_deduction").first()
        if stored is None or stored[0] is None:
            return "-"
        score, deduction = stored
        if not deduction:
            return admin_grades.score_text(score)
        return format_html(
            "{} (entered {} &minus; {} late)",
            admin_grades.score_text(score),
            admin_grades.score_text(score + deduction),
            admin_grades.score_text(deduction),
        )

    def has_add_permission(self, request, *args):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        services.result_update(
            result=obj,
            score=data["score"],
            excused=data["excused"],
            late_waived=data["late_waived"],
            by=request.user,
            via=VIA,
        )

    def save_formset(self, request, form, formset, change):
        # The only inline is the read-only history: nothing to save.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.result_delete(result=obj, by=request.user, via=VIA)

    def delete_queryset(self, request, queryset):
        for result in queryset.select_related("test"):
            services.result_delete(result=result, by=request.user, via=VIA)


@admin.register(GradeChange)
class GradeChangeAdmin(ReadOnlyAdmin, CourseScopedAdmin):
    """The grade history: read-only for everyone, superusers included."""

    course_field = "test__course_id"
    list_display = [
        "changed_at",
        "test",
        "student",
        "action",
        "old_score",
        "new_score",
        "excused",
        "changed_by",
        "via",
        "result_link",
    ]
    list_filter = ["via", "action", "excused", ("test__course", CourseListFilter), ("test", TestListFilter)]
    show_full_result_count = False  # a count of the whole history of the caller's courses, on each page
    search_fields = ["student__email", "student__last_name", "test__name"]
    list_select_related = ["test", "student", "changed_by"]
    ordering = ["-changed_at", "-id"]
    date_hierarchy = "changed_at"

    @admin.display(description="Result")
    def result_link(self, change):
        if change.result_id is None:
            return "-"
        url = reverse("admin:grading_testresult_change", args=[change.result_id])
        return format_html('<a href="{}">#{}</a>', url, change.result_id)


# A course's page: its categories, grading settings, tests, gradebook and grades ------------------


class GradeCategoryForm(forms.ModelForm):
    class Meta:
        model = GradeCategory
        fields = ["name", "weight", "drop_lowest", "drop_highest", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance.pk:
            # A new category goes after the others unless given a position.
            position = self.fields["position"]
            position.required, position.initial, position.help_text = False, None, "Blank: after the others."
            self.initial.pop("position", None)

    def clean_weight(self):
        weight = self.cleaned_data.get("weight")
        if weight is not None and weight < 0:
            raise forms.ValidationError("Ensure this value is greater than or equal to 0.")
        return weight


KEEP_ONE_CATEGORY = "A course keeps at least one grade category; add another one first."


class GradeCategoryFormSet(forms.BaseInlineFormSet):
    """Refuses, as the grade service would, to delete a category holding tests or the course's last one,
    and to add categories past ``CATEGORIES_PER_COURSE`` (counting those deleted in the same save).

    The service has the last word when saving (``category_delete`` raises ``Conflict``, which
    ``DomainErrorsAsMessages`` shows); checking here keeps the rest of what was typed on the page.
    """

    def clean(self):
        # Before the base class's checks: they would refuse a category holding tests in Django's words
        # ("protected related objects"), and these are the grade service's.
        if not any(self.errors):
            self._check_deletions()
            self._check_count()
        super().clean()

    def _check_count(self):
        added = [f for f in self.extra_forms if f.has_changed() and f not in self.deleted_forms]
        if not added:
            return
        deleted = [form.instance.pk for form in self.initial_forms if form in self.deleted_forms and form.instance.pk]
        kept = GradeCategory.objects.filter(course_id=self.instance.pk).exclude(pk__in=deleted).count()
        if kept + len(added) > CATEGORIES_PER_COURSE:
            raise forms.ValidationError(services.TOO_MANY_CATEGORIES)

    def _check_deletions(self):
        deleted = [form.instance for form in self.initial_forms if form in self.deleted_forms and form.instance.pk]
        if not deleted:
            return
        holding = sorted(
            {
                category.name
                for category in GradeCategory.objects.filter(pk__in=[c.pk for c in deleted], tests__isnull=False)
            }
        )
        problems = [
            f"Category {name!r} holds tests; move them to another category first (nothing was deleted)."
            for name in holding
        ]
        added = [f for f in self.extra_forms if f.has_changed() and f not in self.deleted_forms]
        kept = GradeCategory.objects.filter(course_id=self.instance.pk).exclude(pk__in=[c.pk for c in deleted])
        if not added and not kept.exists():
            problems.append(KEEP_ONE_CATEGORY)
        if problems:
            raise forms.ValidationError(problems)


class GradeCategoryInline(_TeachersOfTheCourseInline):
    model = GradeCategory
    form = GradeCategoryForm
    formset = GradeCategoryFormSet
    fields = ["name", "weight", "drop_lowest", "drop_highest", "position"]
    ordering = ["position", "id"]
    extra = 1
    verbose_name_plural = (
        "Grade categories (weights count with weighting by categories; a category holding tests can't be deleted)"
    )


class TestInline(ReadOnlyForTeachersInline):
    model = Test
    fields = ["name", "date", "max_score", "category", "never_drop", "results_published"]
    # A test's category is changed on the test's page, where the choices are its course's categories.
    readonly_fields = ["category"]
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("category")

    def has_add_permission(self, request, obj=None):
        return False


@cache
def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", "---------"), *((name, name) for name in sorted(time_zone_names()))]


@cache
def _time_zone_options() -> tuple[tuple[str, str], ...]:
    """Each zone's value and its ``<option>``, escaped once."""
    return tuple(
        (str(value), format_html('<option value="{}">{}</option>', value, label))
        for value, label in _time_zone_choices()
    )


class TimeZoneSelect(forms.Select):
    """The ~600 time zones as a select written in Python: Django renders a template per option,
    a tenth of the course page's time."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = "" if value is None else str(value)
        options = [
            format_html('<option value="{}" selected>{}</option>', zone, zone) if zone and zone == selected else html
            for zone, html in _time_zone_options()
        ]
        attrs = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select{}>{}</select>", flatatt(attrs), mark_safe("".join(options)))  # noqa: S308


class GradingSchemeField(forms.JSONField):
    """A grading scheme as JSON, one row a line; empty: no letters (null)."""

    def prepare_value(self, value):
        if value is None:
            return ""
        if isinstance(value, list) and all(isinstance(row, dict) for row in value):
            rows = ",\n".join(f"  {json.dumps(row, ensure_ascii=False)}" for row in value)
            return f"[\n{rows}\n]" if rows else "[]"
        return super().prepare_value(value)


def _course_default(name: str):
    return Course._meta.get_field(name).default  # a declared form field doesn't take it from the model


# The course form's late policy boxes, by the policy's keys.
_LATE_FIELDS = {
    "interval": "late_interval",
    "deduction_percent": "late_deduction_percent",
    "minimum_percent": "late_minimum_percent",
}


class GradingCourseForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=_time_zone_choices,
        widget=TimeZoneSelect,
        initial=_course_default("time_zone"),
        help_text="An IANA time zone: a test is due once its date is before today there.",
    )
    grading_scheme = GradingSchemeField(
        required=False,
        initial=_course_default("grading_scheme"),
        widget=forms.Textarea(attrs={"rows": 8, "cols": 48}),
        help_text='Letters by percent, highest first, the last from 0: [{"letter": "A", "min_percent": 90}, …, '
        '{"letter": "F", "min_percent": 0}]. Empty: no letters.',
    )

    late_interval = forms.ChoiceField(
        label="Late policy",
        choices=[("", "No late deduction"), ("hour", "A deduction per hour late"), ("day", "A deduction per day late")],
        required=False,
        help_text="Work handed in online after its due time loses points: an hour or a day started counts whole.",
    )
    late_deduction_percent = ScoreField(
        label="Late deduction (%)",
        required=False,
        help_text="Of the test's max score, per hour or day late: more than 0, at most 100, at most 2 decimals.",
    )
    late_minimum_percent = ScoreField(
        label="Late minimum (%)",
        required=False,
        help_text="A late score goes no lower than this percent of the max score (a score entered below it is kept): "
        "0 to 100, at most 2 decimals.",
    )

    class Meta:
        model = Course
        fields = ["name", "details", "weighting", "grading_scheme", "time_zone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance.late_policy
        if policy is not None:
            self.initial.setdefault("late_interval", policy["interval"])
            self.initial.setdefault("late_deduction_percent", policy["deduction_percent"])
            self.initial.setdefault("late_minimum_percent", policy["minimum_percent"])

    def clean(self):
        cleaned = super().clean()
        self._clean_late_policy(cleaned)
        return cleaned

    def _clean_late_policy(self, cleaned):
        """The three boxes as one ``late_policy``, checked by the course's own rule
        (``courses.models.late_policy_problem``); with no deduction chosen, null (the numbers unread)."""
        if any(name in self.errors for name in _LATE_FIELDS.values()):
            return
        interval = cleaned.get("late_interval")
        if not interval:
            cleaned["late_policy"] = None
            return
        missing = [name for name in ("late_deduction_percent", "late_minimum_percent") if cleaned.get(name) is None]
        for name in missing:
            self.add_error(name, "Required with a late deduction.")
        if missing:
            return
        value = {key: cleaned[name] for key, name in _LATE_FIELDS.items() if key != "interval"}
        value["interval"] = interval
        problem = late_policy_problem(value)
        if problem is not None:
            key, message = problem
            self.add_error(_LATE_FIELDS.get(key), message)
            return
        cleaned["late_policy"] = check_late_policy(value)

    def late_policy_changed(self) -> bool:
        return "late_policy" in self.cleaned_data and self.cleaned_data["late_policy"] != self.instance.late_policy

    def clean_grading_scheme(self):
        value = self.cleaned_data.get("grading_scheme")
        try:
            return check_grading_scheme(value)
        except DrfValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            raise forms.ValidationError([str(message) for message in detail]) from None


# Students per page of the course page's table of grades (``?grades_page=N``): the chart counts them all.
GRADE_ROWS_PER_PAGE = 100
GRADES_PAGE = "grades_page"


class CourseGradeReport:
    """A course's grades as its page shows them, computed only if the page is drawn (not on a save):
    every student's letter in the chart (``grades.letter_distribution``, which keeps each letter in
    the cache until that student's results, or the course's tests or categories, change), and the
    grades of a page of ``GRADE_ROWS_PER_PAGE`` students in the table, computed for those only.

    ``params``: the page's query string (a ``QueryDict``), kept in the links to the table's other pages.
    """

    def __init__(self, course: Course, params=None):
        self.course = course
        self.params = params if params is not None else QueryDict()

    @cached_property
    def page(self):
        """The table's page of students, as ``USER_SUMMARY`` columns (a number out of range or not a
        number: the nearest page, the first)."""
        students = reports.course_students(self.course.pk).values_list(*USER_SUMMARY.columns)
        return Paginator(students, GRADE_ROWS_PER_PAGE).get_page(self.params.get(GRADES_PAGE))

    @cached_property
    def rows(self) -> list[dict]:
        """The grades of the page's students, in their order."""
        students = USER_SUMMARY.rows(self.page.object_list)
        if not students:
            return []
        return grades.course_grades(
            self.course, students=students, student_ids=[s["id"] for s in students], with_categories=False
        )

    @cached_property
    def page_links(self) -> list[dict]:
        """The table's pages as links (``url`` None: the page shown, or an ellipsis)."""
        if self.page.paginator.num_pages < 2:
            return []
        links = []
        for number in self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1):
            if number == self.page.number or number == Paginator.ELLIPSIS:
                links.append({"label": number, "url": None})
                continue
            query = self.params.copy()
            query[GRADES_PAGE] = number
            links.append({"label": number, "url": f"?{query.urlencode()}#course-grade-report"})
        return links

    @cached_property
    def has_scheme(self) -> bool:
        return bool(self.course.grading_scheme)

    @cached_property
    def distribution(self) -> list[dict]:
        return grades.letter_distribution(self.course)

    @cached_property
    def chart(self) -> dict:
        return letter_bars(self.distribution)


NO_LETTER = "none"


def letter_bars(distribution: list[dict]) -> dict:
    """The geometry of a bar chart of letters, as the test histogram's (``reports.histogram_bars``)."""
    buckets = [{"from": 0, "to": 0, "count": row["count"]} for row in distribution]
    chart = reports.histogram_bars(buckets, width=max(420, 48 * len(buckets)))
    for bar, row in zip(chart["bars"], distribution, strict=True):
        bar["label"] = row["letter"] if row["letter"] is not None else NO_LETTER
    return chart


class GradingCourseAdmin(DomainErrorsAsMessages, CourseAdmin):
    """The course's page with what grading adds to it: its grade categories and grading settings, its
    tests, its gradebook as CSV, and its grades (read-only)."""

    form = GradingCourseForm
    fields = [
        *CourseAdmin.fields,
        "weighting",
        "grading_scheme",
        "time_zone",
        *_LATE_FIELDS.values(),
        "gradebook_link",
    ]
    readonly_fields = [*CourseAdmin.readonly_fields, "gradebook_link"]
    inlines = [GradeCategoryInline, TestInline]
    actions = ["download_gradebook"]
    change_form_template = "admin/grading/course/change_form.html"

    @admin.display(description="Gradebook")
    def gradebook_link(self, course):
        if not course.pk:
            return "-"
        url = reverse("admin:courses_course_gradebook", args=[course.pk])
        return format_html('<a href="{}">Download the gradebook (CSV)</a>', url)

    def enrollment_admin(self, request):
        return self.admin_site.get_model_admin(Enrollment)

    def get_inlines(self, request, obj):
        # A new course gets its first category ("Tests") when it is created; edit them afterwards.
        return self.inlines if obj is not None else [i for i in self.inlines if i is not GradeCategoryInline]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        course = self.get_object(request, object_id)  # a 404 outside the caller's courses
        context = {**(extra_context or {}), "enrollments_url": enrollments_url(course)}
        if self.enrollment_admin(request).has_add_permission(request):
            context["enroll_url"] = reverse("admin:courses_enrollment_add") + f"?course={course.pk}"
        if asked_once(request, policy.can_manage_course, course.pk):
            context["grade_report"] = CourseGradeReport(course, request.GET)
        return super().change_view(request, object_id, form_url, context)

    # Writes through the services ----------------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            obj.late_policy = form.cleaned_data.get("late_policy")
            return super().save_model(request, obj, form, change)
        changes = _changes_as_stored(obj, form)
        if form.late_policy_changed():
            # Through the service the API uses: the online tests' results follow, each change with
            # its history line (``via: "policy"``).
            changes["late_policy"] = form.cleaned_data["late_policy"]
        course_services.course_update(course=obj, by=request.user, **changes)
        return None

    def save_formset(self, request, form, formset, change):
        if formset.model is not GradeCategory:
            return super().save_formset(request, form, formset, change)
        course = form.instance
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        kept = [f for f in formset.initial_forms if f not in formset.deleted_forms]
        # Deletions first, so that a course at its cap may replace a category in one save; but when
        # every existing one goes, the new ones come first (a course keeps at least one category).
        if kept:
            self._delete_categories(formset)
        for category_form in formset.extra_forms:
            if not category_form.has_changed() or category_form in formset.deleted_forms:
                continue
            data = {name: category_form.cleaned_data[name] for name in GradeCategoryInline.fields}
            formset.new_objects.append(services.category_create(course=course, **data))
        for category_form in kept:
            if category_form.has_changed():
                category = category_form.instance
                changes = _changes_as_stored(category, category_form)
                services.category_update(category=category, **changes)
                formset.changed_objects.append((category, category_form.changed_data))
        if not kept:
            self._delete_categories(formset)
        return None

    @staticmethod
    def _delete_categories(formset):
        for category_form in formset.deleted_forms:
            category = category_form.instance
            if category.pk is None:
                continue
            services.category_delete(category=category)  # Conflict: shown as a message, nothing saved
            formset.deleted_objects.append(category)

    # The gradebook ------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view(self.gradebook_view)
        return [path("<path:object_id>/gradebook.csv", view, name="courses_course_gradebook"), *super().get_urls()]

    def gradebook_view(self, request, object_id):
        course = self.get_object(request, object_id)
        if not self.has_view_permission(request, course):
            raise Http404
        return csv_io.gradebook_csv_response(course)

    @admin.action(description="Download the gradebook (CSV) of the selected course")
    def download_gradebook(self, request, queryset):
        courses = list(queryset[:2])
        if len(courses) != 1:
            self.message_user(request, "Select exactly one course to download its gradebook.", messages.WARNING)
            return None
        course = courses[0]
        if not policy.can_manage_course(request.user, course):
            raise Http404
        return csv_io.gradebook_csv_response(course)


admin.site.unregister(Course)
admin.site.register(Course, GradingCourseAdmin)
