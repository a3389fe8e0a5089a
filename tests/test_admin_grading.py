"""Grading from the admin: from a test's page to its grade-entry page, every write through the grade
service (``via="admin"``); the test's own fields, statistics and actions; a result's own page.

Forms are submitted as a browser would: the page is read, its fields filled in, and posted back.
The grade-entry page itself: tests/test_admin_grade_entry.py.
"""

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from courses.models import Enrollment, Role
from grading import services
from grading.models import GradeChange, Test, TestResult
from tests.test_admin_grade_entry import grades_url, read_grades


class FormReader(HTMLParser):
    """The fields a browser would submit from the form with the given id, and each select's options."""

    def __init__(self, form_id):
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        name = a.get("name")
        if name and "__prefix__" in name:
            return  # the empty row Django's JavaScript copies: ignored by the server too
        if tag == "input" and name and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[name] = a.get("value", "on")
            else:
                self.fields[name] = a.get("value") or ""
        elif tag == "select" and name:
            self._select = name
            self.options[name] = []
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select:
            value = a.get("value", "")
            self.options[self._select].append(value)
            if "selected" in a:
                self.fields[self._select] = value
        elif tag == "textarea" and name:
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "form":
            self.inside = False


def read_form(response, form_id="test_form"):
    reader = FormReader(form_id)
    reader.feed(response.content.decode())
    return reader


def change_url(test):
    return reverse("admin:grading_test_change", args=[test.pk])


@pytest.fixture
def classmate(make_user, course):
    user = make_user("classmate@example.com", first_name="Carl", last_name="Friedrich")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return user


def test_a_teacher_grades_from_the_tests_page_and_the_service_writes_history_via_admin(
    teacher, student, classmate, test_, client_as
):
    client = client_as(teacher)
    test_page = client.get(change_url(test_)).content.decode()
    link = re.search(r'<a href="([^"]+)" id="enter-grades"', test_page).group(1)
    form = read_grades(client.get(link))
    form.fields[f"score-{student.pk}"] = "88.5"

    response = client.post(link, form.fields)

    assert response.status_code == 302, response.content.decode()[:2000]
    result = TestResult.objects.get()
    assert (result.student_id, result.score, result.grader_id) == (student.pk, Decimal("88.5"), teacher.pk)
    change = GradeChange.objects.get()
    assert (change.result_id, change.action, change.new_score, change.via, change.changed_by_id) == (
        result.pk,
        "created",
        Decimal("88.5"),
        "admin",
        teacher.pk,
    )


def test_changing_and_clearing_on_the_grade_page_go_through_the_service(teacher, student, classmate, test_, client_as):
    mine = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    theirs = services.result_record(test=test_, student=classmate, score=Decimal("20"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = "15"
    form.fields[f"score-{classmate.pk}"] = ""  # cleared: the result is deleted

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 302, response.content.decode()
    mine.refresh_from_db()
    assert mine.score == Decimal("15")
    assert not TestResult.objects.filter(pk=theirs.pk).exists()
    admin_changes = GradeChange.objects.filter(via="admin").order_by("student__last_name")
    assert sorted((c.student_id, c.action, c.old_score, c.new_score) for c in admin_changes) == sorted(
        [
            (student.pk, "updated", Decimal("10"), Decimal("15")),
            (classmate.pk, "deleted", Decimal("20"), None),
        ]
    )


def test_saving_the_grade_page_without_changes_writes_nothing(teacher, student, classmate, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))

    assert client.post(grades_url(test_), form.fields).status_code == 302
    assert GradeChange.objects.count() == 1


def test_the_test_page_shows_statistics_and_an_svg_histogram(teacher, student, classmate, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("95"), by=teacher)
    services.result_record(test=test_, student=classmate, score=Decimal("45"), by=teacher)

    page = client_as(teacher).get(change_url(test_)).content.decode()

    assert '<td id="stat-count">2</td>' in page
    assert '<td id="stat-mean">70.0</td>' in page
    assert '<td id="stat-stddev">25.0</td>' in page
    assert '<svg id="histogram"' in page
    assert "40-50: 1" in page and "90-100: 1" in page and "0-10: 0" in page
    assert page.count('<g class="bucket">') == 10
    assert "cdn" not in page.lower()


def test_publish_and_hide_actions_go_through_the_service(teacher, test_, client_as):
    client = client_as(teacher)
    changelist = reverse("admin:grading_test_changelist")

    client.post(changelist, {"action": "hide_results", "_selected_action": [test_.pk]})
    test_.refresh_from_db()
    assert test_.results_published is False

    client.post(changelist, {"action": "publish_results", "_selected_action": [test_.pk]})
    test_.refresh_from_db()
    assert test_.results_published is True


def test_max_score_cannot_go_below_a_recorded_score(teacher, student, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("80"), by=teacher)
    client = client_as(teacher)
    form = read_form(client.get(change_url(test_)))
    form.fields["max_score"] = "50"

    response = client.post(change_url(test_), form.fields)

    assert response.status_code == 200
    assert "A score of 80.00 is already recorded" in response.content.decode()
    test_.refresh_from_db()
    assert test_.max_score == Decimal("100")


def test_a_teacher_adds_a_test_only_to_their_own_courses(teacher, course, other_course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(reverse("admin:grading_test_add")))
    assert set(form.options["course"]) == {"", str(course.pk)}
    fields = {**form.fields, "name": "Quiz", "date": "2026-02-02", "max_score": "20"}

    refused = client.post(reverse("admin:grading_test_add"), {**fields, "course": str(other_course.pk)})
    added = client.post(reverse("admin:grading_test_add"), {**fields, "course": str(course.pk)})

    assert refused.status_code == 200
    assert added.status_code == 302
    assert list(Test.objects.filter(name="Quiz").values_list("course_id", flat=True)) == [course.pk]


def test_a_result_page_changes_the_score_through_the_service_and_shows_history(teacher, student, test_, client_as):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[result.pk])
    page = client.get(url)
    assert page.context["inline_admin_formsets"][0].formset.queryset.count() == 1  # the history so far
    form = read_form(page, "testresult_form")

    response = client.post(url, {**form.fields, "score": "12"})

    assert response.status_code == 302
    result.refresh_from_db()
    assert result.score == Decimal("12")
    assert GradeChange.objects.filter(via="admin", action="updated", old_score=10, new_score=12).exists()


def test_a_result_page_refuses_a_score_above_max(teacher, student, test_, client_as):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[result.pk])
    form = read_form(client.get(url), "testresult_form")

    response = client.post(url, {**form.fields, "score": "101"})

    assert response.status_code == 200
    result.refresh_from_db()
    assert result.score == Decimal("10")


def test_deleting_a_result_in_the_admin_writes_history(teacher, student, test_, client_as):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)

    response = client_as(teacher).post(reverse("admin:grading_testresult_delete", args=[result.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not TestResult.objects.exists()
    change = GradeChange.objects.get(action="deleted")
    assert (change.via, change.old_score, change.result_id) == ("admin", Decimal("10"), None)


def test_bulk_delete_action_on_results_writes_history(teacher, student, classmate, test_, client_as):
    ids = [
        services.result_record(test=test_, student=s, score=Decimal("1"), by=teacher).pk for s in (student, classmate)
    ]

    client_as(teacher).post(
        reverse("admin:grading_testresult_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert not TestResult.objects.exists()
    assert GradeChange.objects.filter(action="deleted", via="admin").count() == 2


def test_deleting_a_test_without_results_in_the_admin(teacher, course, client_as):
    test = Test.objects.create(course=course, name="Empty", date=date(2026, 1, 1))

    response = client_as(teacher).post(reverse("admin:grading_test_delete", args=[test.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Test.objects.filter(pk=test.pk).exists()


def test_a_test_with_results_is_protected_from_deletion_in_the_admin(teacher, student, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)

    response = client_as(teacher).post(reverse("admin:grading_test_delete", args=[test_.pk]), {"post": "yes"})

    assert response.status_code == 200  # Django's "cannot delete: protected objects" page
    assert Test.objects.filter(pk=test_.pk).exists()
