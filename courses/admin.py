from django.contrib import admin

from courses.models import Course, Enrollment, Feedback


class EnrollmentInline(admin.TabularInline):
    model = Enrollment
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name", "details"]
    ordering = ["name"]
    inlines = [EnrollmentInline]


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ["user", "course", "role", "created_at"]
    list_filter = ["role", "course"]
    search_fields = ["user__email", "user__last_name", "course__name"]
    list_select_related = ["user", "course"]
    autocomplete_fields = ["user", "course"]
    ordering = ["course__name", "role", "user__email"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = ["course", "student", "created_at"]
    list_filter = ["course"]
    search_fields = ["feedback", "student__email"]
    list_select_related = ["course", "student"]
    ordering = ["-created_at"]
