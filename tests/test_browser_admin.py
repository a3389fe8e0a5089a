"""End to end in a real browser: a teacher signs in to the admin with an emailed code and grades
from a test's page (the grade-entry page at class size: tests/test_browser_grade_entry.py).

Playwright drives Debian's Chromium (``/usr/bin/chromium``; never ``playwright install``) against
pytest-django's live server. The code is read from the fake SendGrid's inbox, as the teacher
would read their mail. Without Chromium the test is skipped with a loud reason, unless
``REQUIRE_BROWSER=1`` (CI), where a missing browser is a failure.
"""

import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connections

from grading.models import GradeChange, TestResult

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chromium_page(monkeypatch):
    if not CHROMIUM.exists():
        reason = (
            "!!! BROWSER TEST NOT RUN: /usr/bin/chromium is missing. "
            "Install Debian's Chromium (apt-get install chromium) to run it; CI sets REQUIRE_BROWSER=1 and fails here."
        )
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes are
    # still plain synchronous ones, made between browser steps.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            browser.close()
            # While Playwright's loop runs, the ORM calls of this thread get connections of their
            # own (Django keys connections by async context): close them, or they outlive the test
            # database.
            connections.close_all()


def test_a_teacher_signs_in_with_an_emailed_code_and_grades_a_test(
    chromium_page, live_server, fake_sendgrid, teacher, student, test_
):
    page = chromium_page

    # Sign in: ask for a code, read it from the inbox, enter it.
    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=email]", teacher.email)
    page.click("form.code-request-form input[type=submit]")
    page.wait_for_selector("form.code-entry-form")
    page.fill("input[name=code]", fake_sendgrid.latest_code(teacher.email))
    page.click("form.code-entry-form input[type=submit]")
    page.wait_for_selector("#site-name")
    assert page.url == f"{live_server.url}/admin/"

    # Open the test from the list, follow its "Enter grades" link, enter a score, save.
    page.click("a[href='/admin/grading/test/']")
    page.click(f"a[href='/admin/grading/test/{test_.pk}/change/']")
    page.wait_for_selector("#histogram")
    page.click("#enter-grades")
    page.fill(f"input[name='score-{student.pk}']", "77.5")
    page.click("input[name=_save]")
    page.wait_for_selector("ul.messagelist li.success")

    result = TestResult.objects.get(test=test_, student=student)
    assert (result.score, result.grader_id) == (Decimal("77.5"), teacher.pk)
    change = GradeChange.objects.get(result=result)
    assert (change.action, change.new_score, change.via, change.changed_by_id) == (
        "created",
        Decimal("77.5"),
        "admin",
        teacher.pk,
    )
