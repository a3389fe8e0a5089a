"""/api/courses/… (courses, members, feedback) and /api/users/{id}/courses/… (a user's enrollments)."""

from django.urls import re_path

from courses import views

urlpatterns = [
    re_path(r"^courses/?$", views.CourseListView.as_view(), name="course-list"),
    re_path(r"^courses/(?P<pk>[0-9]+)/?$", views.CourseDetailView.as_view(), name="course-detail"),
    re_path(r"^courses/(?P<pk>[0-9]+)/members/?$", views.CourseMembersView.as_view(), name="course-members"),
    re_path(r"^courses/(?P<pk>[0-9]+)/feedback/?$", views.CourseFeedbackView.as_view(), name="course-feedback"),
    re_path(r"^users/(?P<pk>[0-9]+)/courses/?$", views.UserCoursesView.as_view(), name="user-courses"),
    re_path(
        r"^users/(?P<pk>[0-9]+)/courses/(?P<course_id>[0-9]+)/?$", views.UserCourseView.as_view(), name="user-course"
    ),
]
