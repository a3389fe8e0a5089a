"""The routes of ``courses``: /api/courses/… (courses, members, feedback) and /api/users/{id}/courses/…"""

from courses import views
from gradingsite.api.routers import Router

router = Router()
router.register("courses", views.CourseViewSet, basename="course")
router.register(r"courses/(?P<pk>[^/]+)/feedback", views.FeedbackViewSet, basename="course-feedback")
router.register("users", views.UserEnrollmentViewSet, basename="user")

routers = [router]
