"""The routes of ``grading``: tests, results, reports, and the parts of courses and users that are grades."""

from grading import grade_views, report_views, submission_views, views
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
router.register(r"tests/(?P<pk>[^/]+)/submissions", submission_views.TestSubmissionViewSet, basename="test-submissions")
router.register("submissions", submission_views.SubmissionViewSet, basename="submission")
router.register(r"tests/(?P<pk>[^/]+)/uploads", submission_views.TestUploadViewSet, basename="test-uploads")
router.register("files", submission_views.FileViewSet, basename="file")
router.register(r"tests/(?P<pk>[^/]+)/extensions", submission_views.ExtensionViewSet, basename="test-extensions")
router.register(
    r"tests/(?P<pk>[^/]+)/students/(?P<student_id>[^/]+)/comments",
    submission_views.CommentViewSet,
    basename="test-student-comments",
)

# A test's submissions as a zip, beside the test's own routes (``test-submissions-zip``): a router of
# its own, as one router takes one viewset per basename.
archives = Router()
archives.register("tests", submission_views.SubmissionZipViewSet, basename="test")

routers = [router, archives]
