from django_filters import rest_framework as filters

from courses.models import Course, Enrollment, Feedback, Role


class CourseFilter(filters.FilterSet):
    role = filters.ChoiceFilter(
        choices=Role.choices, method="filter_role", help_text="Only the courses where the caller has this role."
    )

    class Meta:
        model = Course
        fields = ["role"]

    def filter_role(self, queryset, name, value):
        return queryset.filter(
            pk__in=Enrollment.objects.filter(user_id=self.request.user.pk, role=value).values("course_id")
        )


class EnrollmentFilter(filters.FilterSet):
    role = filters.ChoiceFilter(choices=Role.choices)

    class Meta:
        model = Enrollment
        fields = ["role"]


class FeedbackFilter(filters.FilterSet):
    student = filters.NumberFilter(field_name="student_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = Feedback
        fields = ["student"]
