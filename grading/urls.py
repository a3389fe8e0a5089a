"""The routes of ``grading``: tests, results, reports, and the parts of courses and users that are grades."""

from grading import grade_views, report_views, views
from gradingsite.api.routers import Router

router = Router()
router.register(r"courses/(?P<pk>[^/]+)/tests", views.CourseTestViewSet, basename="course-tests")
router.register("courses", report_views.GradebookViewSet, basename="course")
router.register(r"courses/(?P<pk>[^/]+)/categories", grade_views.CourseCategoryViewSet, basename="course-categories")
router.register("courses", grade_views.CourseGradesViewSet, basename="course-grades")
router.register("categories", grade_views.CategoryViewSet, basename="category")
router.register("tests", views.TestViewSet, basename="test")
router.register(r"tests/(?P<pk>[^/]+)/results", views.TestResultViewSet, basename="test-results")
router.register("test-results", views.ResultViewSet, basename="testresult")
router.register("users", views.StudentResultViewSet, basename="user")

routers = [router]
