"""In a real browser: a teacher enters a class's grades from the keyboard, a page at a time, and a
change someone else made meanwhile is reported, not lost.

Playwright drives Debian's Chromium against pytest-django's live server, as in
tests/test_browser_admin.py (whose browser fixture this uses; without Chromium it is skipped with a
loud reason, unless ``REQUIRE_BROWSER=1``).
"""

from decimal import Decimal

import pytest

from courses.models import Role
from grading import services
from grading.models import GradeChange, TestResult
from tests.test_admin_grade_entry import enroll
from tests.test_browser_admin import chromium_page  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, fake_sendgrid, user):
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=email]", user.email)
    page.click("form.code-request-form input[type=submit]")
    page.wait_for_selector("form.code-entry-form")
    page.fill("input[name=code]", fake_sendgrid.latest_code(user.email))
    page.click("form.code-entry-form input[type=submit]")
    page.wait_for_selector("#site-name")


def type_down_the_column(page, scores):
    """Type each score in turn, pressing Enter after each: Enter moves to the next row's score box,
    and on the last row it saves the page."""
    for score in scores:
        page.keyboard.type(score)
        page.keyboard.press("Enter")


def test_a_teacher_grades_a_class_of_120_from_the_keyboard_and_a_change_meanwhile_is_reported(
    chromium_page,  # noqa: F811
    live_server,
    fake_sendgrid,
    teacher,
    other_teacher,
    course,
    student,
    test_,
):
    page = chromium_page
    pupils = [student, *enroll(course, 119)]  # by last name: "Devi", then "Pupil0000" … "Pupil0118"
    course.enrollments.create(user=other_teacher, role=Role.TEACHER)
    sign_in(page, live_server, fake_sendgrid, teacher)

    # The first page: 100 students, graded top to bottom with the keyboard; the last Enter saves.
    page.goto(f"{live_server.url}/admin/grading/test/{test_.pk}/change/")
    page.click("#enter-grades")
    page.wait_for_selector("text=Page 1 of 2")
    page.focus(f"input[name='score-{pupils[0].pk}']")
    first = [str(50 + i % 50) for i in range(100)]
    type_down_the_column(page, first)
    page.wait_for_selector("ul.messagelist li.success:has-text('Saved 100 grades.')")

    assert dict(TestResult.objects.filter(test=test_).values_list("student_id", "score")) == {
        pupil.pk: Decimal(score) for pupil, score in zip(pupils[:100], first, strict=True)
    }

    # The second page: 20 students. While it is open, another teacher grades one of them.
    page.click("a.next-page")
    page.wait_for_selector("text=Page 2 of 2")
    theirs = pupils[105]
    services.result_record(test=test_, student=theirs, score=Decimal("12"), by=other_teacher, via="api")
    page.focus(f"input[name='score-{pupils[100].pk}']")
    second = [str(80 + i) for i in range(20)]
    type_down_the_column(page, second)

    # Their grade is kept and reported; the 19 others are saved.
    conflict = page.locator(f"tr.conflict[data-student='{theirs.pk}']")
    conflict.wait_for()
    assert conflict.locator("strong.theirs").inner_text() == "12"
    assert conflict.locator("input.score").input_value() == second[5]  # what was typed, kept
    assert "Alan Turing" in conflict.inner_text()
    assert page.locator("ul.messagelist li.success").inner_text() == "Saved 19 other grades."
    assert "changed by someone else" in page.locator("ul.messagelist li.error").inner_text()
    saved = dict(TestResult.objects.filter(test=test_, student__in=pupils[100:]).values_list("student_id", "score"))
    expected = {pupil.pk: Decimal(score) for pupil, score in zip(pupils[100:], second, strict=True)}
    expected[theirs.pk] = Decimal("12")
    assert saved == expected
    assert GradeChange.objects.filter(via="admin").count() == 119
    assert not GradeChange.objects.filter(student=theirs, via="admin").exists()
