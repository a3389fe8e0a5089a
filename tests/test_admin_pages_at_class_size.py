"""Every admin page a teacher uses takes as many queries for a class of 1,000 students as for a class
of 10, for the course's teacher and for a superuser: no page grows a query (or an inline row) per
student, result or line of history.

Two classes are built in bulk, each with its own teacher, two grade categories, tests, a result per
student and test (one in ten excused), each result's history, a sent notice per test and a piece of
feedback per student; the first test takes submissions online, in a course with a late policy: every
student handed in an attempt (two in three late, still to grade), one in ten has an extension and
each has a comment. Every page is read once to warm Django's caches, then counted with Django's
cache framework emptied first (so the course page computes its letter chart), and the course page
once more with its letters kept in the cache. The superuser's lists that span every course are
counted with only the small class in the database, then with both.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from courses.models import Course, Enrollment, Feedback, Role
from grading import services
from grading.models import Comment, Extension, GradeChange, Notice, NoticeRecipient, Submission, Test, TestResult
from tests.test_admin_course_grades import read_form

pytestmark = pytest.mark.django_db

SMALL, LARGE = 10, 1000
TESTS = 3


class PageClient(Client):
    """Django's test client without its record of every template's context: on a page of a thousand
    rows that record alone takes seconds, and only statuses, bodies and queries are asserted here."""

    def request(self, **request):
        response = self.handler(self._base_environ(**request))
        self.cookies.update(response.cookies)
        return response


@pytest.fixture
def client():
    return PageClient()


@dataclass
class Class:
    teacher: User
    course: Course
    tests: list[Test]
    student: User  # one of the students
    result: TestResult  # one of that student's results (scored)
    enrollment: Enrollment  # that student's
    notice: Notice
    feedback: Feedback
    submission: Submission  # the student's latest attempt on the online test (the first)


def build_class(label: str, students: int) -> Class:
    """A course of ``students`` students, inserted in bulk."""
    teacher = User.objects.create_user(f"teacher.{label}@example.com", first_name="Teacher", last_name=label)
    late_policy = {"deduction_percent": 10, "interval": "day", "minimum_percent": 50}
    course = Course.objects.create(name=f"Course {label}", late_policy=late_policy)  # its first category: "Tests"
    Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
    categories = [course.grade_categories.get(), services.category_create(course=course, name="Quizzes")]
    password = make_password(None)
    people = User.objects.bulk_create(
        User(email=f"s{i:05d}.{label}@example.com", first_name="Student", last_name=f"{i:05d}", password=password)
        for i in range(students)
    )
    Enrollment.objects.bulk_create(Enrollment(user=person, course=course, role=Role.STUDENT) for person in people)
    Feedback.objects.bulk_create(Feedback(course=course, student=person, feedback="Fine.") for person in people)
    tests = [
        Test.objects.create(
            course=course,
            name=f"Test {m}",
            date=date(2026, 1, 1) + timedelta(days=7 * m),
            category=categories[m % 2],
        )
        for m in range(1, TESTS + 1)
    ]
    results = TestResult.objects.bulk_create(
        TestResult(
            test=test,
            student=person,
            grader=teacher,
            score=None if i % 10 == 9 else Decimal(i % 100),
            excused=i % 10 == 9,
        )
        for test in tests
        for i, person in enumerate(people)
    )
    GradeChange.objects.bulk_create(
        GradeChange(
            result=result,
            test_id=result.test_id,
            student_id=result.student_id,
            action=GradeChange.Action.CREATED,
            new_score=result.score,
            excused=result.excused,
            changed_by=teacher,
            via=GradeChange.Via.IMPORT,
        )
        for result in results
    )
    notices = Notice.objects.bulk_create(
        Notice(test=test, kind=Notice.Kind.PUBLISHED, state=Notice.State.SENT, send_after=course.created_at)
        for test in tests
    )
    NoticeRecipient.objects.bulk_create(
        NoticeRecipient(notice=notice, student=person, state=NoticeRecipient.State.SENT, batch=0)
        for notice in notices
        for person in people
    )
    online, now = tests[0], timezone.now()
    Test.objects.filter(pk=online.pk).update(submission_type="online", due_at=now - timedelta(days=1))
    Submission.objects.bulk_create(
        Submission(
            test=online,
            student=person,
            attempt=attempt,
            # Two in three late and handed in after their grade: to grade.
            submitted_at=now - timedelta(days=2 - attempt) if i % 3 == 0 else now + timedelta(minutes=attempt),
            body=f"Attempt {attempt} of student {i}.",
        )
        for i, person in enumerate(people)
        for attempt in (1, 2)
    )
    Extension.objects.bulk_create(
        Extension(test=online, student=person, due_at=now + timedelta(days=1))
        for i, person in enumerate(people)
        if i % 10 == 5
    )
    Comment.objects.bulk_create(
        Comment(test=online, student=person, author=teacher, body="Fine.", email_state=Comment.EmailState.SENT)
        for person in people
    )
    student = people[0]
    return Class(
        teacher=teacher,
        course=course,
        tests=tests,
        student=student,
        result=TestResult.objects.get(test=tests[0], student=student),
        enrollment=Enrollment.objects.get(user=student, course=course),
        notice=notices[0],
        feedback=Feedback.objects.filter(student=student).get(),
        submission=Submission.objects.get(test=online, student=student, attempt=2),
    )


def _url(name: str, *args, query: str = "") -> str:
    return reverse(f"admin:{name}", args=args) + (f"?{query}" if query else "")


def teacher_pages(c: Class) -> dict[str, str]:
    """The pages a teacher uses for the class ``c``: name → URL (a GET each)."""
    course, test = c.course, c.tests[0]
    return {
        "admin index": _url("index"),
        "courses list": _url("courses_course_changelist"),
        "course page": _url("courses_course_change", course.pk),
        "course gradebook (CSV)": _url("courses_course_gradebook", course.pk),
        "tests list": _url("grading_test_changelist"),
        "tests list, by course": _url("grading_test_changelist", query=f"course__id__exact={course.pk}"),
        "test add page": _url("grading_test_add"),
        "results list": _url("grading_testresult_changelist"),
        "results list, by course": _url("grading_testresult_changelist", query=f"test__course__id__exact={course.pk}"),
        "results list, by test": _url("grading_testresult_changelist", query=f"test__id__exact={test.pk}"),
        "results list, searched": _url("grading_testresult_changelist", query="q=Student"),
        "grade entry": _url("grading_test_grades", test.pk),
        "grade entry, page 2, missing": _url("grading_test_grades", test.pk, query="page=2&show=ungraded"),
        "result page": _url("grading_testresult_change", c.result.pk),
        "result delete page": _url("grading_testresult_delete", c.result.pk),
        "history list": _url("grading_gradechange_changelist"),
        "history list, by test": _url("grading_gradechange_changelist", query=f"test__id__exact={test.pk}"),
        "history line": _url("grading_gradechange_change", GradeChange.objects.filter(result=c.result).get().pk),
        "notices list": _url("grading_notice_changelist"),
        "notice page": _url("grading_notice_change", c.notice.pk),
        "enrollments list": _url("courses_enrollment_changelist"),
        "enrollments list, by course": _url("courses_enrollment_changelist", query=f"course__id__exact={course.pk}"),
        "enrollment page": _url("courses_enrollment_change", c.enrollment.pk),
        "feedback list": _url("courses_feedback_changelist"),
        "feedback page": _url("courses_feedback_change", c.feedback.pk),
        "submissions list": _url("grading_submission_changelist"),
        "submissions list, by test": _url("grading_submission_changelist", query=f"test__id__exact={test.pk}"),
        "submissions list, the queue": _url(
            "grading_submission_changelist", query=f"test__id__exact={test.pk}&latest=yes&graded=no"
        ),
        "submissions list, late": _url("grading_submission_changelist", query="late=yes"),
        "submission page": _url("grading_submission_change", c.submission.pk),
        "grading page": _url("grading_test_grade_student", test.pk, c.student.pk),
    }


def superuser_pages(c: Class) -> dict[str, str]:
    """What a superuser uses besides: users, enrolling someone, deleting a member or a course."""
    return {
        **teacher_pages(c),
        "users list": _url("accounts_user_changelist"),
        "user page": _url("accounts_user_change", c.student.pk),
        "enrollment add page": _url("courses_enrollment_add", query=f"course={c.course.pk}"),
        "enrollment delete page": _url("courses_enrollment_delete", c.enrollment.pk),
        "user search (autocomplete)": _url(
            "autocomplete", query="app_label=courses&model_name=enrollment&field_name=user&term=Student"
        ),
    }


def _counted(client, method: str, url: str, data=None) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url) if method == "GET" else client.post(url, data)
    assert response.status_code in (200, 302), f"{method} {url}: {response.status_code}"
    if method == "POST":
        assert response.status_code == 302, f"POST {url}: {response.content.decode()[:3000]}"
    return response.status_code, [q["sql"] for q in queries.captured_queries]


def measure(client, c: Class, pages: dict[str, str], *, warm: bool) -> dict[str, tuple[int, list[str]]]:
    """Each page's status and queries, and the two saves a teacher makes most: a result's score, and
    the course's page as it is. ``warm``: read each page once before, to fill Django's caches (the
    small class's pages warm them for the large one's)."""
    measured = {}
    for name, url in pages.items():
        if warm:
            client.get(url)
        cache.clear()  # what a read leaves in the cache (the course page's letters) is computed again
        measured[name] = _counted(client, "GET", url)
    measured["course page, letters cached"] = _counted(client, "GET", pages["course page"])
    result_url = _url("grading_testresult_change", c.result.pk)
    form = read_form(client.get(result_url), "testresult_form").fields
    for score in ("61", "62"):  # the first save warms up; the second is counted
        measured["saving a score"] = _counted(client, "POST", result_url, {**form, "score": score})
    course_url = _url("courses_course_change", c.course.pk)
    form = read_form(client.get(course_url), "course_form").fields
    client.post(course_url, form)
    measured["saving the course page"] = _counted(client, "POST", course_url, form)
    grading_url = _url("grading_test_grade_student", c.tests[0].pk, c.student.pk)
    for score, comment in (("71", "Good."), ("72", "Better.")):  # the first save warms up
        form = read_form(client.get(grading_url), "grade-form").fields
        measured["saving on the grading page"] = _counted(
            client, "POST", grading_url, {**form, "score": score, "comment": comment, "_save": "Save"}
        )
    # Save and grade next: each save goes on to the next student of the queue (the first warms up).
    url = grading_url
    for score in ("55", "56"):
        form = read_form(client.get(url), "grade-form").fields
        with CaptureQueriesContext(connection) as queries:
            response = client.post(url, {**form, "score": score, "_next": "Save and grade next"})
        assert response.status_code == 302 and response["Location"] != url, response.content.decode()[:3000]
        measured["saving and grading next"] = (302, [q["sql"] for q in queries.captured_queries])
        url = response["Location"]
    return measured


def _differences(small: dict, large: dict) -> str:
    lines = []
    for name in small:
        (_, few), (_, many) = small[name], large[name]
        if len(few) != len(many):
            extra = [sql[:200] for sql in many if sql not in few][:3]
            lines.append(f"{name}: {len(few)} queries at {SMALL} students, {len(many)} at {LARGE}; e.g. {extra}")
    return "\n".join(lines)


def test_every_page_a_teacher_uses_takes_as_many_queries_for_1000_students_as_for_10(client):
    small_class = build_class("small", SMALL)
    large_class = build_class("large", LARGE)

    client.force_login(small_class.teacher)
    small = measure(client, small_class, teacher_pages(small_class), warm=True)
    client.force_login(large_class.teacher)
    large = measure(client, large_class, teacher_pages(large_class), warm=False)

    assert _differences(small, large) == ""
    assert all(status == 200 for name, (status, _) in large.items() if not name.startswith("saving"))


def test_every_page_a_superuser_uses_takes_as_many_queries_for_1000_students_as_for_10(client, admin_user):
    client.force_login(admin_user)
    small_class = build_class("small", SMALL)
    small = measure(client, small_class, superuser_pages(small_class), warm=True)
    large_class = build_class("large", LARGE)  # the lists spanning every course now hold both classes
    large = measure(client, large_class, superuser_pages(large_class), warm=False)

    assert _differences(small, large) == ""
    assert all(status == 200 for name, (status, _) in large.items() if not name.startswith("saving"))


@pytest.mark.parametrize("who", ["teacher", "superuser"])
def test_the_test_page_takes_as_many_queries_for_1000_students_as_for_10(who, client, admin_user):
    small_class, large_class = build_class("small", SMALL), build_class("large", LARGE)
    counts = {}
    for c in (small_class, large_class):
        client.force_login(admin_user if who == "superuser" else c.teacher)
        url = _url("grading_test_change", c.tests[0].pk)
        if c is small_class:
            client.get(url)  # warms Django's caches
        counts[c.course.name] = _counted(client, "GET", url)

    assert _differences({"test page": counts["Course small"]}, {"test page": counts["Course large"]}) == ""
