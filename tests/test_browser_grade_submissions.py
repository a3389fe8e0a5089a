"""In a real browser: a teacher grades three submissions in a row with the keyboard alone, from the
first student of a test's grading queue to the last: a score and Enter, a score, Tab to the late
waiver, Space and Enter, a score, Tab to the comment, a comment and Ctrl+Enter.

Playwright drives Debian's Chromium against pytest-django's live server, as in
tests/test_browser_admin.py (whose browser fixture this uses; without Chromium it is skipped with a
loud reason, unless ``REQUIRE_BROWSER=1``).
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from courses.models import Course, Enrollment, Role
from grading.models import Comment, GradeChange, Submission, Test, TestResult
from tests.test_browser_admin import chromium_page  # noqa: F401 (the fixture)
from tests.test_browser_grade_entry import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_teacher_grades_three_submissions_in_a_row_with_the_keyboard_alone(
    chromium_page,  # noqa: F811
    live_server,
    fake_sendgrid,
    teacher,
    student,
    classmate,
    make_user,
    course,
    test_,
):
    page = chromium_page
    third = make_user("third@example.com", first_name="Emmy", last_name="Noether")
    Enrollment.objects.create(user=third, course=course, role=Role.STUDENT)
    Course.objects.filter(pk=course.pk).update(
        late_policy={"deduction_percent": 10, "interval": "day", "minimum_percent": 50}
    )
    due = timezone.now().replace(microsecond=0) - timedelta(days=3)
    Test.objects.filter(pk=test_.pk).update(submission_type="online", due_at=due, allowed_attempts=None)
    # The queue, first handed in first: on time, an hour late, two days late.
    for who, at in (
        (student, due - timedelta(hours=1)),
        (classmate, due + timedelta(hours=1)),
        (third, due + timedelta(days=2)),
    ):
        Submission.objects.create(
            test=test_, student=who, attempt=1, submitted_at=at, body=f"The work of {who.first_name}."
        )
    sign_in(page, live_server, fake_sendgrid, teacher)

    page.goto(f"{live_server.url}/admin/grading/test/{test_.pk}/change/")
    first = page.get_attribute("#grade-next", "href")
    assert first == f"/admin/grading/test/{test_.pk}/grade/{student.pk}/"
    page.goto(f"{live_server.url}{first}")

    # The first: a score, Enter (the score box has the focus when the page opens).
    page.wait_for_selector(f"text=The work of {student.first_name}.")
    page.keyboard.type("85")
    page.keyboard.press("Enter")

    # The second, an hour late: a score, Tab past excused to the late waiver, Space, Enter.
    page.wait_for_url(re.compile(rf"/grade/{classmate.pk}/$"))
    page.wait_for_selector(f"text=The work of {classmate.first_name}.")
    assert page.locator("ul.messagelist li.success").inner_text() == f"Saved the grade of {student.get_full_name()}."
    page.keyboard.type("70")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.keyboard.press("Enter")

    # The third, two days late: a score, Tab to the comment (past excused and the waiver), Ctrl+Enter.
    page.wait_for_url(re.compile(rf"/grade/{third.pk}/$"))
    page.wait_for_selector("text=The work of Emmy.")
    page.keyboard.type("90")
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.type("Two days late: see the policy.")
    page.keyboard.press("Control+Enter")

    # Nobody is left: the test's submissions.
    page.wait_for_selector("ul.messagelist li.info:has-text('Nobody is left to grade on this test.')")
    assert "/admin/grading/submission/" in page.url
    results = {
        r.student_id: (r.score, r.late_deduction, r.late_waived, r.grader_id)
        for r in TestResult.objects.filter(test=test_)
    }
    assert results == {
        student.pk: (Decimal("85"), Decimal("0"), False, teacher.pk),
        classmate.pk: (Decimal("70"), Decimal("0"), True, teacher.pk),
        third.pk: (Decimal("70"), Decimal("20"), False, teacher.pk),
    }
    assert set(GradeChange.objects.values_list("via", "changed_by_id")) == {("admin", teacher.pk)}
    comment = Comment.objects.get()
    assert (comment.student_id, comment.author_id, comment.body) == (
        third.pk,
        teacher.pk,
        "Two days late: see the policy.",
    )
