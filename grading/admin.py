"""The instructors' grading tool: tests, results and their history in the admin.

A teacher opens a test of one of their courses and grades its students inline: one row per
student of the course (existing results first, then a blank row for each student without one),
student choices limited to the course's students, each score checked against the test's
``max_score``. Every save goes through the grade service (``via="admin"``), which writes the
history in the same transaction; the ORM is never written directly. The test's page also shows
its statistics and a histogram of percents drawn by the server as SVG.

History (``GradeChange``) is read-only for everyone, superusers included. A course's page
(``courses.admin.CourseAdmin``) gains its tests and its gradebook (CSV) here.
"""

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from courses import policy
from courses.admin import CourseAdmin, CourseScopedAdmin, ReadOnlyForTeachersInline
from courses.models import Course
from grading import csv_io, reports, services
from grading.models import GradeChange, Test, TestResult
from gradingsite.errors import DomainError

VIA = GradeChange.Via.ADMIN
# Blank rows offered for students without a result, at most: a larger course is graded by CSV.
MAX_BLANK_ROWS = 150


def _score_problem(score, test) -> str | None:
    return None if score is None or test is None else services.score_error(score, test.max_score)


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


# Results, inline on the test's page -------------------------------------------------------------


class FixedStudentWidget(forms.HiddenInput):
    """A row's student, shown as a name: the row is that student's (a hidden input carries the id).

    A select of every student on every row would make a page of n rows hold n² options.
    """

    def __init__(self, label: str):
        super().__init__()
        self.label = label

    @property
    def is_hidden(self):
        return False  # the admin would hide the whole column otherwise

    def render(self, name, value, attrs=None, renderer=None):
        hidden = super().render(name, value, attrs, renderer)
        return format_html('{}<span class="student-name">{}</span>', hidden, self.label)


class ResultInlineForm(forms.ModelForm):
    class Meta:
        model = TestResult
        fields = ["student", "score"]

    def __init__(self, *args, test=None, student_choices=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.test = test
        student = self.fields["student"]
        if student_choices is not None:
            student.choices = student_choices  # read once per page, not once per row
        fixed = self.instance.student_id if self.instance.pk else self.initial.get("student")
        if fixed is not None:
            labels = dict(student_choices or [])
            student.widget = FixedStudentWidget(labels.get(fixed, str(fixed)))
        if self.instance.pk:
            student.disabled = True  # a result's student never changes; delete it and grade anew

    def clean_score(self):
        score = self.cleaned_data.get("score")
        problem = _score_problem(score, self.test)
        if problem:
            raise forms.ValidationError(problem)
        return score


class ResultInlineFormSet(forms.BaseInlineFormSet):
    student_choices: list = []
    ungraded: list = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial_extra = [{"student": pk} for pk in self.ungraded]

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "test": self.instance, "student_choices": self.student_choices}


class TestResultInline(admin.TabularInline):
    model = TestResult
    form = ResultInlineForm
    formset = ResultInlineFormSet
    fields = ["student", "score", "percent", "graded_by", "updated_at"]
    readonly_fields = ["percent", "graded_by", "updated_at"]
    verbose_name = "result"
    verbose_name_plural = "Results (grade here: a blank score leaves a student ungraded)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("student", "grader", "test")

    def get_formset(self, request, obj=None, **kwargs):
        request._grading_test = obj  # for formfield_for_foreignkey, called while the form class is built
        formset = super().get_formset(request, obj, **kwargs)
        students = reports.course_students(obj.course_id) if obj is not None else []
        choices = [("", "---------"), *((s.pk, f"{s.full_name} <{s.email}>".strip()) for s in students)]
        graded = set(TestResult.objects.filter(test=obj).values_list("student_id", flat=True)) if obj else set()
        # One blank row per ungraded student (capped); Django's "add another" adds more.
        ungraded = [pk for pk, _ in choices[1:] if pk not in graded][:MAX_BLANK_ROWS]
        attrs = {"student_choices": choices, "ungraded": ungraded, "extra": len(ungraded)}
        return type(formset.__name__, (formset,), attrs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "student":
            # Validation: only the course's students (rendering uses the cached choices above).
            test = getattr(request, "_grading_test", None)
            kwargs["queryset"] = reports.course_students(test.course_id) if test else TestResult.objects.none()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description="Percent")
    def percent(self, result):
        return f"{result.percent:.1f} %" if result.pk else "-"

    @admin.display(description="Grader")
    def graded_by(self, result):
        return str(result.grader) if result.grader_id else "-"

    def _teaches(self, request, obj):
        # ``obj`` is the test; without one (Django asks that too) the page's own scope decides.
        if obj is None:
            return policy.can_use_admin(request.user)
        return policy.can_manage_course(request.user, obj.course_id)

    def has_view_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._teaches(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._teaches(request, obj)


# Tests ------------------------------------------------------------------------------------------


class TestAdminForm(forms.ModelForm):
    class Meta:
        model = Test
        fields = ["course", "name", "date", "max_score", "results_published"]

    def clean_max_score(self):
        max_score = self.cleaned_data.get("max_score")
        if self.instance.pk and max_score is not None:
            highest = services.max_recorded_score(self.instance)
            if highest is not None and max_score < highest:
                raise forms.ValidationError(f"A score of {highest:f} is already recorded; max_score can't be lower.")
        return max_score


@admin.register(Test)
class TestAdmin(DomainErrorsAsMessages, CourseScopedAdmin):
    form = TestAdminForm
    teachers_may_add = teachers_may_change = teachers_may_delete = True
    list_display = ["name", "course", "date", "max_score", "results_published"]
    list_filter = ["results_published", ("course", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "course__name"]
    list_select_related = ["course"]
    date_hierarchy = "date"
    ordering = ["-date", "id"]
    inlines = [TestResultInline]
    actions = ["publish_results", "hide_results"]
    change_form_template = "admin/grading/test/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return ["course"] if obj is not None else []  # a test stays in its course

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "course":
            kwargs["queryset"] = policy.courses_taught_by(request.user).order_by("name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_inlines(self, request, obj):
        # On the add page there is no course yet, so no students to grade.
        return self.inlines if obj is not None else []

    def change_view(self, request, object_id, form_url="", extra_context=None):
        test = self.get_object(request, object_id)
        stats = reports.test_stats(test)
        history_url = reverse("admin:grading_gradechange_changelist") + f"?test__id__exact={test.pk}"
        context = {
            **(extra_context or {}),
            "stats": stats,
            "chart": reports.histogram_bars(stats["histogram"]),
            "history_url": history_url,
        }
        return super().change_view(request, object_id, form_url, context)

    # Every write through the grade service ------------------------------------------------------

    def save_model(self, request, obj, form, change):
        if not change:
            obj.save()  # a new test holds no grades
            return
        changes = {name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data}
        services.test_update(test=obj, **changes)

    def delete_model(self, request, obj):
        services.test_delete(test=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for test in queryset:
            services.test_delete(test=test, by=request.user)

    def save_formset(self, request, form, formset, change):
        if formset.model is not TestResult:
            return super().save_formset(request, form, formset, change)
        test = form.instance
        by = request.user
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.initial_forms:
            result = inline_form.instance
            if inline_form in formset.deleted_forms:
                current = TestResult.objects.select_related("test").get(pk=result.pk)
                services.result_delete(result=current, by=by, via=VIA)
                formset.deleted_objects.append(current)
            elif inline_form.has_changed():
                services.result_update(result=result, score=inline_form.cleaned_data["score"], by=by, via=VIA)
                formset.changed_objects.append((result, ["score"]))
        for inline_form in formset.extra_forms:
            if not inline_form.has_changed() or inline_form in formset.deleted_forms:
                continue
            data = inline_form.cleaned_data
            result = services.result_record(test=test, student=data["student"], score=data["score"], by=by, via=VIA)
            formset.new_objects.append(result)
        return None

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


class HistoryInline(admin.TabularInline):
    model = GradeChange
    fk_name = "result"
    fields = ["changed_at", "action", "old_score", "new_score", "changed_by", "via"]
    readonly_fields = fields
    ordering = ["changed_at", "id"]
    extra = 0
    can_delete = False
    verbose_name_plural = "History"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        if obj is None:
            return policy.can_use_admin(request.user)
        return policy.can_manage_course(request.user, obj.test.course_id)


class ResultForm(forms.ModelForm):
    class Meta:
        model = TestResult
        fields = ["score"]

    def clean_score(self):
        score = self.cleaned_data.get("score")
        problem = _score_problem(score, self.instance.test)
        if problem:
            raise forms.ValidationError(problem)
        return score


@admin.register(TestResult)
class TestResultAdmin(DomainErrorsAsMessages, CourseScopedAdmin):
    """Results one by one: change a score or delete it. New results are graded on the test's page."""

    course_field = "test__course_id"
    teachers_may_change = teachers_may_delete = True
    form = ResultForm
    list_display = ["test", "student", "score", "percent", "grader", "updated_at"]
    list_filter = [("test__course", admin.RelatedOnlyFieldListFilter), ("test", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["student__email", "student__last_name", "test__name"]
    list_select_related = ["test", "student", "grader"]
    ordering = ["test", "student__last_name", "student__first_name", "student__email"]
    fields = ["test", "student", "score", "percent", "grader", "created_at", "updated_at"]
    readonly_fields = ["test", "student", "percent", "grader", "created_at", "updated_at"]
    inlines = [HistoryInline]

    @admin.display(description="Percent")
    def percent(self, result):
        return f"{result.percent:.1f} %"

    def has_add_permission(self, request, *args):
        return False

    def save_model(self, request, obj, form, change):
        services.result_update(result=obj, score=form.cleaned_data["score"], by=request.user, via=VIA)

    def save_formset(self, request, form, formset, change):
        # The only inline is the read-only history: nothing to save.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_model(self, request, obj):
        services.result_delete(result=obj, by=request.user, via=VIA)

    def delete_queryset(self, request, queryset):
        for result in queryset.select_related("test"):
            services.result_delete(result=result, by=request.user, via=VIA)


@admin.register(GradeChange)
class GradeChangeAdmin(CourseScopedAdmin):
    """The grade history: read-only for everyone, superusers included."""

    course_field = "test__course_id"
    list_display = [
        "changed_at",
        "test",
        "student",
        "action",
        "old_score",
        "new_score",
        "changed_by",
        "via",
        "result_link",
    ]
    list_filter = ["via", "action", ("test", admin.RelatedOnlyFieldListFilter)]
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

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# A course's page: its tests and its gradebook --------------------------------------------------


class TestInline(ReadOnlyForTeachersInline):
    model = Test
    fields = ["name", "date", "max_score", "results_published"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


class GradingCourseAdmin(CourseAdmin):
    """The course's page with what grading adds to it: its tests, and its gradebook as CSV."""

    fields = [*CourseAdmin.fields, "gradebook_link"]
    readonly_fields = ["gradebook_link"]
    inlines = [TestInline, *CourseAdmin.inlines]
    actions = ["download_gradebook"]

    @admin.display(description="Gradebook")
    def gradebook_link(self, course):
        if not course.pk:
            return "-"
        url = reverse("admin:courses_course_gradebook", args=[course.pk])
        return format_html('<a href="{}">Download the gradebook (CSV)</a>', url)

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
