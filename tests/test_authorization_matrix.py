"""Who may call what: every route of the URLconf, every method, every role: the expected status.

The routes are enumerated from the API's routers, so a new endpoint without an entry here fails
``test_matrix_covers_every_route_and_method``; a route under /api/ that no router made fails
``test_every_api_route_comes_from_a_router``. The roles are the contract's: anonymous, a
stranger (enrolled nowhere), a student of the course, a teacher of another course, the course's
teacher, an admin. Every refused write (any 4xx to POST/PUT/PATCH/DELETE) must leave the
database exactly as it was.

The paths name the standing world below: ``{user}`` is the student, ``{course}`` the course,
``{test}`` its test (online), ``{result}`` the student's result on it, ``{submission}`` their attempt,
``{file}`` a file of that attempt (on the local disk).
"""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import User
from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment, Feedback, Role
from grading import services as grading
from grading.models import Comment, Extension, GradeCategory, GradeChange, Submission, Test, TestResult, Upload
from gradingsite import files
from tests.api_routes import METHODS, NOT_OPERATIONS, api_routes, api_url_names

ROLES = ("anonymous", "stranger", "student", "other_teacher", "teacher", "admin")
OPEN = "open"  # an endpoint anyone may call: its own status, never 401/403 for lack of a role


def by_role(anonymous, stranger, student, other_teacher, teacher, admin):
    return dict(zip(ROLES, (anonymous, stranger, student, other_teacher, teacher, admin), strict=True))


def everyone(status):
    return by_role(status, status, status, status, status, status)


def signed_in(status):
    return by_role(401, status, status, status, status, status)


ADMIN_ONLY = by_role(401, 403, 403, 403, 403, 200)
SELF_OR_ADMIN = by_role(401, 403, 200, 403, 403, 200)
MEMBERS = by_role(401, 403, 200, 403, 200, 200)


def course_staff(status):
    """The course's teacher and admins get ``status``; everyone else is refused."""
    return by_role(401, 403, 403, 403, status, status)


CSV_IMPORT = "email,first_name,last_name,{test_name} (#{test}),average_percent\r\n{email},,,77,\r\n"

# (url name, method) → (path, body, expected statuses by role). A body may be a function of the world
# and the caller. Paths use the world's ids.
MATRIX = {
    # Auth: open to anyone (logout and logout-all need a token).
    ("auth-login", "POST"): ("/api/auth/login/", {"email": "newcomer@example.com"}, everyone(200)),
    ("auth-authenticate", "POST"): (
        "/api/auth/authenticate/",
        {"email": "stranger@example.com", "code": "00000000"},
        everyone(401),
    ),
    ("auth-refresh", "POST"): ("/api/auth/refresh/", {"refresh": "not-a-token"}, everyone(401)),
    ("auth-logout", "POST"): (
        "/api/auth/logout/",
        lambda w, user: {"refresh": issue_tokens(user)["refresh"] if user else "x"},
        signed_in(204),
    ),
    ("auth-logout-all", "POST"): ("/api/auth/logout-all/", {}, signed_in(204)),
    # Profile and users.
    ("profile", "GET"): ("/api/profile/", None, signed_in(200)),
    ("user-list", "GET"): ("/api/users/", None, ADMIN_ONLY),
    ("user-list", "POST"): (
        "/api/users/",
        {"email": "new@example.com", "first_name": "N", "last_name": "U"},
        by_role(401, 403, 403, 403, 403, 201),
    ),
    ("user-detail", "GET"): ("/api/users/{user}/", None, SELF_OR_ADMIN),
    ("user-detail", "PUT"): ("/api/users/{user}/", {"first_name": "S", "last_name": "D"}, SELF_OR_ADMIN),
    ("user-detail", "PATCH"): ("/api/users/{user}/", {"first_name": "S"}, SELF_OR_ADMIN),
    ("user-detail", "DELETE"): ("/api/users/{user}/", None, by_role(401, 403, 204, 403, 403, 204)),
    ("user-test-results", "GET"): ("/api/users/{user}/test-results/", None, SELF_OR_ADMIN),
    ("user-courses", "GET"): ("/api/users/{user}/courses/", None, SELF_OR_ADMIN),
    # Rule E: the student may enroll themself as a student; the other course's teacher may enroll them there.
    ("user-courses", "POST"): (
        "/api/users/{user}/courses/",
        lambda w, user: {"course": w["other_course"].pk, "role": "STUDENT"},
        by_role(401, 403, 201, 201, 403, 201),
    ),
    ("user-course", "DELETE"): ("/api/users/{user}/courses/{course}/", None, by_role(401, 403, 204, 403, 204, 204)),
    # Courses, members, feedback.
    ("course-list", "GET"): ("/api/courses/", None, signed_in(200)),
    ("course-list", "POST"): ("/api/courses/", {"name": "New course"}, signed_in(201)),
    ("course-detail", "GET"): ("/api/courses/{course}/", None, signed_in(200)),
    ("course-detail", "PUT"): ("/api/courses/{course}/", {"name": "Renamed", "details": ""}, course_staff(200)),
    ("course-detail", "PATCH"): ("/api/courses/{course}/", {"name": "Renamed"}, course_staff(200)),
    ("course-detail", "DELETE"): ("/api/courses/{course}/", None, course_staff(409)),  # results are recorded
    ("course-members", "GET"): ("/api/courses/{course}/members/", None, course_staff(200)),
    ("course-members", "POST"): (
        "/api/courses/{course}/members/",
        {"email": "enrollee@example.com", "role": "STUDENT"},
        course_staff(201),
    ),
    ("course-feedback-list", "GET"): ("/api/courses/{course}/feedback/", None, MEMBERS),
    ("course-feedback-list", "POST"): (
        "/api/courses/{course}/feedback/",
        {"feedback": "Lovely."},
        by_role(401, 403, 201, 403, 403, 403),
    ),
    # Tests and results.
    ("course-tests-list", "GET"): ("/api/courses/{course}/tests/", None, MEMBERS),
    ("course-tests-list", "POST"): (
        "/api/courses/{course}/tests/",
        {"name": "Quiz", "date": "2026-12-24"},
        course_staff(201),
    ),
    ("test-detail", "GET"): ("/api/tests/{test}/", None, MEMBERS),
    ("test-detail", "PUT"): (
        "/api/tests/{test}/",
        {"name": "Midterm 2", "date": "2026-12-02", "max_score": 100},
        course_staff(200),
    ),
    ("test-detail", "PATCH"): ("/api/tests/{test}/", {"name": "Midterm 2"}, course_staff(200)),
    ("test-detail", "DELETE"): ("/api/tests/{test}/", None, course_staff(409)),  # results are recorded
    ("test-results-list", "GET"): ("/api/tests/{test}/results/", None, course_staff(200)),
    ("test-results-list", "POST"): (
        "/api/tests/{test}/results/",
        lambda w, user: {"student": w["classmate"].pk, "score": 50},
        course_staff(201),
    ),
    ("test-results-list", "PUT"): (
        "/api/tests/{test}/results/",
        lambda w, user: [{"student": w["classmate"].pk, "score": 50}],
        course_staff(200),
    ),
    ("testresult-detail", "GET"): ("/api/test-results/{result}/", None, MEMBERS),  # the student is its student
    ("testresult-detail", "PUT"): ("/api/test-results/{result}/", {"score": 60}, course_staff(200)),
    ("testresult-detail", "PATCH"): ("/api/test-results/{result}/", {"score": 60}, course_staff(200)),
    ("testresult-detail", "DELETE"): ("/api/test-results/{result}/", None, course_staff(204)),
    # Reports.
    ("test-stats", "GET"): ("/api/tests/{test}/stats/", None, course_staff(200)),
    ("test-notices", "GET"): ("/api/tests/{test}/notices/", None, course_staff(200)),
    ("course-gradebook", "GET"): ("/api/courses/{course}/gradebook/", None, course_staff(200)),
    ("course-gradebook-csv", "GET"): ("/api/courses/{course}/gradebook.csv", None, course_staff(200)),
    ("course-gradebook-import", "POST"): ("/api/courses/{course}/gradebook/import/", "csv", course_staff(200)),
    ("testresult-history", "GET"): ("/api/test-results/{result}/history/", None, course_staff(200)),
    # Course grades: the course's staff read every row, a student their own.
    ("course-grades-grades", "GET"): ("/api/courses/{course}/grades/", None, MEMBERS),
    ("course-categories-list", "GET"): ("/api/courses/{course}/categories/", None, MEMBERS),
    ("course-categories-list", "POST"): (
        "/api/courses/{course}/categories/",
        {"name": "Quizzes", "weight": 20, "drop_lowest": 1},
        course_staff(201),
    ),
    ("category-detail", "GET"): ("/api/categories/{category}/", None, MEMBERS),
    ("category-detail", "PUT"): ("/api/categories/{category}/", {"name": "Exams", "weight": 60}, course_staff(200)),
    ("category-detail", "PATCH"): ("/api/categories/{category}/", {"drop_lowest": 1}, course_staff(200)),
    ("category-detail", "DELETE"): ("/api/categories/{category}/", None, course_staff(409)),  # it holds the test
    # Submissions (the test is online), extensions, comments.
    ("test-submissions-list", "GET"): ("/api/tests/{test}/submissions/", None, MEMBERS),  # a student: their own
    ("test-submissions-list", "POST"): (
        "/api/tests/{test}/submissions/",
        {"body": "My essay."},
        by_role(401, 403, 201, 403, 403, 403),
    ),
    ("submission-detail", "GET"): ("/api/submissions/{submission}/", None, MEMBERS),  # the student submitted it
    ("test-uploads-list", "POST"): (
        "/api/tests/{test}/uploads/",
        {"name": "essay.pdf", "size": 1000, "content_type": "application/pdf"},
        by_role(401, 403, 201, 403, 403, 403),
    ),
    ("file-detail", "GET"): ("/api/files/{file}/", None, MEMBERS),  # a file of the student's submission
    ("test-submissions-zip", "GET"): ("/api/tests/{test}/submissions.zip", None, course_staff(200)),
    ("test-extensions-list", "GET"): ("/api/tests/{test}/extensions/", None, course_staff(200)),
    ("test-extensions-detail", "PUT"): (
        "/api/tests/{test}/extensions/{user}/",
        {"extra_attempts": 2},
        course_staff(200),
    ),
    ("test-extensions-detail", "DELETE"): ("/api/tests/{test}/extensions/{user}/", None, course_staff(204)),
    ("test-student-comments-list", "GET"): ("/api/tests/{test}/students/{user}/comments/", None, MEMBERS),
    ("test-student-comments-list", "POST"): (
        "/api/tests/{test}/students/{user}/comments/",
        {"body": "Well argued."},
        by_role(401, 403, 201, 403, 201, 201),
    ),
}

# Routes open to anyone: a method they don't take is a 405 even without a token.
OPEN_ROUTES = {"auth-login", "auth-authenticate", "auth-refresh"}
ROUTES = {name: (path, methods) for path, name, methods in api_routes()}


def _cases():
    for (name, method), (_, _, expected) in sorted(MATRIX.items()):
        for role in ROLES:
            yield pytest.param(name, method, role, expected[role], id=f"{name}-{method}-{role}")


def _unsupported_cases():
    for name, (_, methods) in sorted(ROUTES.items()):
        for method in METHODS:
            if method in methods:
                continue
            for role in ("anonymous", "student", "admin"):
                if role == "anonymous":
                    status = {405} if name in OPEN_ROUTES else {401}
                elif role == "admin":
                    status = {405}
                else:
                    # DRF checks a view's permissions before the method: a refused caller may get 403 first.
                    status = {403, 405}
                yield pytest.param(name, method, role, status, id=f"{name}-{method}-{role}")


def _path_of(name):
    for (route, _), (path, _, _) in MATRIX.items():
        if route == name:
            return path
    raise AssertionError(f"no matrix entry for {name}")


@pytest.fixture
def world(teacher, student, other_teacher, stranger, admin_user, course, other_course, test_, make_user, local_files):
    classmate = make_user("classmate@example.com")
    Enrollment.objects.create(user=classmate, course=course, role=Role.STUDENT)
    result = grading.result_record(test=test_, student=student, score=Decimal("42"), by=teacher)
    Test.objects.filter(pk=test_.pk).update(submission_type="online", allowed_attempts=None)
    submission = Submission.objects.create(
        test=test_, student=student, attempt=1, submitted_at=timezone.now(), body="First draft."
    )
    Extension.objects.create(test=test_, student=student, extra_attempts=1)
    handed_in = Upload.objects.create(
        test=test_,
        student=student,
        submission=submission,
        key=files.new_key(),
        name="essay.pdf",
        size=9,
        content_type="application/pdf",
        uploaded_at=submission.submitted_at,
    )
    (local_files / handed_in.key).parent.mkdir(parents=True, exist_ok=True)
    (local_files / handed_in.key).write_bytes(b"An essay.")
    Feedback.objects.create(course=course, student=student, feedback="Good course.")
    Test.objects.create(course=other_course, name="Halting", date=date(2026, 11, 30))
    return {
        "users": {
            "anonymous": None,
            "stranger": stranger,
            "student": student,
            "other_teacher": other_teacher,
            "teacher": teacher,
            "admin": admin_user,
        },
        "student": student,
        "classmate": classmate,
        "course": course,
        "other_course": other_course,
        "test": test_,
        "result": result,
        "category": test_.category,
        "submission": submission,
        "file": handed_in,
    }


def snapshot():
    """Every row a request could change, in a comparable form."""
    return {
        "users": list(
            User.objects.order_by("pk").values_list("pk", "email", "first_name", "last_name", "is_superuser")
        ),
        "courses": list(
            Course.objects.order_by("pk").values_list(
                "pk", "name", "details", "weighting", "grading_scheme", "time_zone"
            )
        ),
        "categories": list(
            GradeCategory.objects.order_by("pk").values_list("pk", "name", "weight", "drop_lowest", "drop_highest")
        ),
        "enrollments": list(Enrollment.objects.order_by("pk").values_list("pk", "user_id", "course_id", "role")),
        "feedback": list(Feedback.objects.order_by("pk").values_list("pk", "course_id", "student_id", "feedback")),
        "tests": list(
            Test.objects.order_by("pk").values_list(
                "pk", "name", "date", "max_score", "results_published", "category_id", "never_drop"
            )
        ),
        "results": list(
            TestResult.objects.order_by("pk").values_list("pk", "test_id", "student_id", "score", "excused")
        ),
        "history": GradeChange.objects.count(),
        "submissions": list(Submission.objects.order_by("pk").values_list("pk", "student_id", "attempt", "body")),
        "extensions": list(
            Extension.objects.order_by("pk").values_list("pk", "student_id", "due_at", "lock_at", "extra_attempts")
        ),
        "comments": list(Comment.objects.order_by("pk").values_list("pk", "student_id", "author_id", "body")),
        "uploads": list(Upload.objects.order_by("pk").values_list("pk", "student_id", "submission_id", "key")),
    }


def _call(client, method, path, body, world, user):
    if callable(body):
        body = body(world, user)
    if body == "csv":
        payload = CSV_IMPORT.format(test_name=world["test"].name, test=world["test"].pk, email=world["student"].email)
        return client.generic(method, path, payload.encode(), content_type="text/csv")
    if body is None:
        return client.generic(method, path)
    return getattr(client, method.lower())(path, body, format="json")


def _fill(path, world):
    return path.format(
        user=world["student"].pk,
        course=world["course"].pk,
        test=world["test"].pk,
        result=world["result"].pk,
        category=world["category"].pk,
        submission=world["submission"].pk,
        file=world["file"].pk,
    )


def _check(client_for, world, name, method, role, expected, path):
    user = world["users"][role]
    client = client_for(user)
    before = snapshot()
    body = MATRIX.get((name, method), (None, None, None))[1]
    response = _call(client, method, _fill(path, world), body, world, user)
    expected = expected if isinstance(expected, set) else {expected}
    assert response.status_code in expected, (
        f"{method} {path} as {role}: {response.status_code} {response.content[:300]!r}"
    )
    assert response.status_code < 500
    if method != "GET" and response.status_code >= 400:
        assert snapshot() == before, f"a refused {method} {path} as {role} changed the database"
    if response.status_code >= 400 and response.get("Content-Type", "").startswith("application/json"):
        assert "detail" in response.json() or response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role", "expected"), list(_cases()))
def test_matrix(client_for, world, name, method, role, expected):
    _check(client_for, world, name, method, role, expected, MATRIX[(name, method)][0])


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role", "expected"), list(_unsupported_cases()))
def test_methods_a_route_does_not_take(client_for, world, name, method, role, expected):
    _check(client_for, world, name, method, role, expected, _path_of(name))


def test_matrix_covers_every_route_and_method():
    routes = {(name, method) for name, (_, methods) in ROUTES.items() for method in methods}
    assert sorted(routes - set(MATRIX)) == [], "routes without an entry in the authorization matrix"
    assert sorted(set(MATRIX) - routes) == [], "matrix entries for routes the URLconf doesn't have"


def test_every_api_route_comes_from_a_router():
    assert api_url_names() - NOT_OPERATIONS == set(ROUTES)


def test_matrix_paths_match_the_urlconf():
    from django.urls import resolve

    for (name, _), (path, _, _) in MATRIX.items():
        filled = path.format(user=1, course=2, test=3, result=4, category=5, submission=6, file=7)
        assert resolve(filled).url_name == name, path


def _slashless_cases():
    for (name, method), (path, _, expected) in sorted(MATRIX.items()):
        if path.endswith("/"):
            for role in ("teacher", "admin"):
                yield pytest.param(name, method, role, expected[role], id=f"{name}-{method}-{role}")


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role", "expected"), list(_slashless_cases()))
def test_every_path_works_without_its_trailing_slash(client_for, world, name, method, role, expected):
    """The same answer without the slash, for every method: no redirect (which would drop a body)."""
    _check(client_for, world, name, method, role, expected, MATRIX[(name, method)][0].removesuffix("/"))
