from django.contrib import admin

from grading.models import GradeChange, Test, TestResult


@admin.register(Test)
class TestAdmin(admin.ModelAdmin):
    list_display = ["name", "course", "date", "max_score", "results_published"]
    list_filter = ["results_published", "course"]
    search_fields = ["name", "course__name"]
    list_select_related = ["course"]
    date_hierarchy = "date"
    ordering = ["-date"]


@admin.register(TestResult)
class TestResultAdmin(admin.ModelAdmin):
    list_display = ["test", "student", "score", "grader", "updated_at"]
    list_filter = ["test__course"]
    search_fields = ["student__email", "test__name"]
    list_select_related = ["test", "student", "grader"]
    ordering = ["test", "student__email"]


@admin.register(GradeChange)
class GradeChangeAdmin(admin.ModelAdmin):
    list_display = ["changed_at", "test", "student", "action", "old_score", "new_score", "changed_by", "via"]
    list_filter = ["via", "action"]
    list_select_related = ["test", "student", "changed_by"]
    ordering = ["-changed_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
