"""A test's grade-entry page in the admin: the class a page at a time, saving only what changed.

Forms are submitted as a browser would: the page is read, its boxes filled in, and posted back.
"""

import re
import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser

import pytest
import time_machine
from django.contrib.auth.hashers import make_password
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from courses.models import Enrollment, Role
from grading import services
from grading.admin_grades import PAGE_SIZE
from grading.models import GradeChange, Notice, Test, TestResult

pytestmark = pytest.mark.django_db


# The standing test is dated 2026-12-01.
BEFORE_THE_TEST = datetime(2026, 11, 30, 12, tzinfo=UTC)


def grades_url(test, **query):
    url = reverse("admin:grading_test_grades", args=[test.pk])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


class GradesForm(HTMLParser):
    """The fields a browser would submit from the grades form: ``student`` once per row (a list)."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.fields: dict = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("id") == "grades-form"
        name = a.get("name")
        if not (self.inside and tag == "input" and name) or a.get("type") == "submit":
            return
        if name == "student":
            self.fields.setdefault(name, []).append(a["value"])
        elif a.get("type") == "checkbox":
            if "checked" in a:
                self.fields[name] = "on"
        else:
            self.fields[name] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def read_grades(response) -> GradesForm:
    assert response.status_code == 200, response.content.decode()[:2000]
    reader = GradesForm()
    reader.feed(response.content.decode())
    return reader


def students_shown(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr class="grade-row[^"]*" data-student="(\d+)"', response.content.decode())]


def row_html(response, student) -> str:
    page = response.content.decode()
    match = re.search(rf'<tr class="grade-row[^"]*" data-student="{student.pk}">.*?</tr>', page, re.S)
    assert match, f"no row for {student}"
    return match.group(0)


def enroll(course, n, *, prefix="pupil") -> list[User]:
    """``n`` students of ``course``, last names ``Pupil0000``… (after the standing users' "Devi" and "Friedrich")."""
    users = User.objects.bulk_create(
        [
            User(
                email=f"{prefix}{i:04d}@example.com",
                first_name="Pat",
                last_name=f"Pupil{i:04d}",
                password=make_password(None),
            )
            for i in range(n)
        ]
    )
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    return users


def grade(test, teacher, items):
    services.results_upsert(test=test, items=[(u.pk, score) for u, score in items], by=teacher, notify=False)


@pytest.fixture
def classmate(make_user, course):
    user = make_user("classmate@example.com", first_name="Carl", last_name="Friedrich")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return user


# Reading: pages, search, filters ------------------------------------------------------------------


def test_the_page_shows_the_class_a_hundred_at_a_time_by_last_name(teacher, student, course, test_, client_as):
    pupils = enroll(course, 120)
    client = client_as(teacher)

    first = client.get(grades_url(test_))
    second = client.get(grades_url(test_, page=2))

    assert len(students_shown(first)) == PAGE_SIZE == 100
    assert students_shown(first)[:2] == [student.pk, pupils[0].pk]
    assert students_shown(second) == [p.pk for p in pupils[99:]]
    assert "Page 2 of 2" in second.content.decode()
    # A page past the end shows the last one; one that isn't a page number the first.
    assert students_shown(client.get(grades_url(test_, page=7))) == students_shown(second)
    for nonsense in ("x", "0", "-1", "1e3", "99999999999"):
        assert students_shown(client.get(grades_url(test_, page=nonsense))) == students_shown(first)


def test_search_finds_students_by_name_or_email(teacher, student, classmate, test_, client_as):
    client = client_as(teacher)

    assert students_shown(client.get(grades_url(test_, q="devi"))) == [student.pk]
    assert students_shown(client.get(grades_url(test_, q="classmate%40exa"))) == [classmate.pk]
    assert students_shown(client.get(grades_url(test_, q="Carl+Friedrich"))) == [classmate.pk]
    assert students_shown(client.get(grades_url(test_, q="de%00vi"))) == [student.pk]  # NUL: a space, no 500
    nobody = client.get(grades_url(test_, q="zzz"))
    assert students_shown(nobody) == []
    assert "No students match" in nobody.content.decode()


@pytest.fixture
def mixed(course, teacher, test_):
    """Six students of ``course`` besides ``student``: two graded, two excused, two ungraded."""
    pupils = enroll(course, 6)
    grade(test_, teacher, [(pupils[0], Decimal(50)), (pupils[1], Decimal(60)), (pupils[2], None), (pupils[3], None)])
    return pupils


def test_filters_show_the_ungraded_and_the_excused_with_their_counts(teacher, student, test_, mixed, client_as):
    with time_machine.travel(BEFORE_THE_TEST, tick=False):
        client = client_as(teacher)
        ungraded = client.get(grades_url(test_, show="ungraded"))
        excused = client.get(grades_url(test_, show="excused"))

    assert students_shown(ungraded) == [student.pk, mixed[4].pk, mixed[5].pk]
    assert students_shown(excused) == [mixed[2].pk, mixed[3].pk]
    page = ungraded.content.decode()
    for label, count in [("All", 7), ("Ungraded", 3), ("Excused", 2), ("Missing", 0)]:
        assert f">{label} ({count})</a>" in page


def test_nobody_is_missing_a_test_before_its_date(teacher, test_, mixed, client_as):
    with time_machine.travel(BEFORE_THE_TEST, tick=False):
        response = client_as(teacher).get(grades_url(test_, show="missing"))

    assert students_shown(response) == []
    assert "it is missing only once its date" in response.content.decode()


def test_missing_are_the_students_without_a_result_on_a_past_published_test(teacher, student, test_, mixed, client_as):
    with time_machine.travel(datetime(2026, 12, 3, 12, tzinfo=UTC), tick=False):
        client = client_as(teacher)
        shown = students_shown(client.get(grades_url(test_, show="missing")))
        services.test_update(test=test_, results_published=False)
        unpublished = students_shown(client.get(grades_url(test_, show="missing")))

    assert shown == [student.pk, mixed[4].pk, mixed[5].pk]  # the excused are not missing
    assert unpublished == []


def test_a_test_is_due_by_the_date_in_its_courses_time_zone(teacher, course, student, test_, client_as):
    client = client_as(teacher)
    with time_machine.travel(datetime(2026, 12, 1, 12, tzinfo=UTC), tick=False):
        utc = students_shown(client.get(grades_url(test_, show="missing")))
        course.time_zone = "Pacific/Kiritimati"  # UTC+14: already 2 December there
        course.save()
        kiritimati = students_shown(client.get(grades_url(test_, show="missing")))

    assert (utc, kiritimati) == ([], [student.pk])


# Saving -------------------------------------------------------------------------------------------


def test_saving_writes_only_the_changed_row_through_the_service(teacher, student, classmate, test_, client_as):
    mine = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    services.result_record(test=test_, student=classmate, score=Decimal("20"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = "15.5"

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 302
    assert response["Location"] == grades_url(test_) + "?"
    mine.refresh_from_db()
    assert (mine.score, mine.grader_id) == (Decimal("15.5"), teacher.pk)
    admin_lines = list(
        GradeChange.objects.filter(via="admin").values_list(
            "student_id", "action", "old_score", "new_score", "changed_by_id"
        )
    )
    assert admin_lines == [(student.pk, "updated", Decimal("10"), Decimal("15.5"), teacher.pk)]
    assert GradeChange.objects.filter(student=classmate).count() == 1  # its "created" line only
    assert "Saved 1 grade." in client.get(response["Location"]).content.decode()


def test_a_score_written_otherwise_but_equal_is_no_change(teacher, student, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("88.5"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    assert form.fields[f"score-{student.pk}"] == "88.5"
    form.fields[f"score-{student.pk}"] = " 88.50 "

    response = client.post(grades_url(test_), form.fields, follow=True)

    assert "Nothing to save" in response.content.decode()
    assert GradeChange.objects.count() == 1


def test_grading_excusing_unexcusing_and_clearing_each_write_their_history(teacher, test_, course, client_as):
    new, excuse_new, excuse_old, unexcuse, clear, keep = enroll(course, 6)
    grade(test_, teacher, [(excuse_old, Decimal(40)), (unexcuse, None), (clear, Decimal(30)), (keep, Decimal(20))])
    before = GradeChange.objects.count()
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{new.pk}"] = "70"
    form.fields[f"excused-{excuse_new.pk}"] = "on"
    form.fields[f"score-{excuse_old.pk}"] = ""
    form.fields[f"excused-{excuse_old.pk}"] = "on"
    del form.fields[f"excused-{unexcuse.pk}"]
    form.fields[f"score-{unexcuse.pk}"] = "55"
    form.fields[f"score-{clear.pk}"] = ""  # blank score, excused unticked: the result goes

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 302
    results = {r.student_id: (r.score, r.excused) for r in TestResult.objects.filter(test=test_)}
    assert results == {
        new.pk: (Decimal(70), False),
        excuse_new.pk: (None, True),
        excuse_old.pk: (None, True),
        unexcuse.pk: (Decimal(55), False),
        keep.pk: (Decimal(20), False),
    }
    lines = GradeChange.objects.order_by("id")[before:]
    assert sorted(
        (c.student_id, c.action, c.old_score, c.new_score, c.excused, c.via, c.changed_by_id) for c in lines
    ) == sorted(
        [
            (new.pk, "created", None, Decimal(70), False, "admin", teacher.pk),
            (excuse_new.pk, "created", None, None, True, "admin", teacher.pk),
            (excuse_old.pk, "updated", Decimal(40), None, True, "admin", teacher.pk),
            (unexcuse.pk, "updated", None, Decimal(55), False, "admin", teacher.pk),
            (clear.pk, "deleted", Decimal(30), None, False, "admin", teacher.pk),
        ]
    )
    assert "Saved 5 grades." in client.get(response["Location"]).content.decode()


def test_the_page_says_how_to_clear_and_excuse(teacher, test_, client_as):
    page = client_as(teacher).get(grades_url(test_)).content.decode()

    assert 'Out of <strong id="max-score">100</strong>' in page
    assert "empty its score and untick excused" in page
    assert "tick the box and leave the" in page


def test_save_and_go_to_the_next_page(teacher, course, test_, client_as):
    pupils = enroll(course, 110)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_, q="pupil")))
    form.fields[f"score-{pupils[0].pk}"] = "1"

    response = client.post(grades_url(test_, q="pupil"), {**form.fields, "_next": "Save and go to the next page"})

    assert response["Location"] == grades_url(test_, q="pupil", page=2)
    assert TestResult.objects.get().student_id == pupils[0].pk


def test_grading_a_published_test_here_tells_the_student(teacher, student, test_, client_as):
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = "90"

    client.post(grades_url(test_), form.fields)

    assert Notice.objects.filter(test=test_, kind="changed", recipients__student=student).exists()


# Validation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("100.01", "less than or equal to the test&#x27;s max_score (100.00)"),
        ("-1", "greater than or equal to 0"),
        ("1.234", "no more than 2 decimal places"),
        ("ten", "Enter a number."),
        ("NaN", "Enter a number."),
        ("12345678", "no more than 7 digits"),
    ],
)
def test_a_bad_score_is_shown_by_its_row_with_what_was_typed_and_nothing_is_saved(
    typed, message, teacher, student, classmate, test_, client_as
):
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = typed
    form.fields[f"score-{classmate.pk}"] = "50"  # valid, but nothing is saved while another row is wrong

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 200
    row = row_html(response, student)
    assert 'class="grade-row errors"' in row and message in row
    assert f'value="{typed}"' in row
    assert 'value="50"' in row_html(response, classmate)
    assert "Nothing was saved: correct the errors below." in response.content.decode()
    assert not TestResult.objects.exists() and not GradeChange.objects.exists()


def test_a_score_with_excused_ticked_is_an_error(teacher, student, test_, client_as):
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields.update({f"score-{student.pk}": "50", f"excused-{student.pk}": "on"})

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 200
    assert "An excused result has no score" in row_html(response, student)
    assert not TestResult.objects.exists()


def test_after_an_error_the_page_posted_again_saves_against_what_was_first_read(
    teacher, student, classmate, test_, client_as
):
    services.result_record(test=test_, student=classmate, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = "101"
    form.fields[f"score-{classmate.pk}"] = "11"
    shown_back = read_grades(client.post(grades_url(test_), form.fields))
    shown_back.fields[f"score-{student.pk}"] = "99"

    response = client.post(grades_url(test_), shown_back.fields)

    assert response.status_code == 302
    assert dict(TestResult.objects.values_list("student_id", "score")) == {student.pk: 99, classmate.pk: 11}


def test_a_student_of_another_course_cannot_be_slipped_into_the_form(
    teacher, student, test_, other_course, make_user, client_as
):
    outsider = make_user("outsider@example.com")
    Enrollment.objects.create(user=outsider, course=other_course, role=Role.STUDENT)
    client = client_as(teacher)
    fields = {"student": [str(outsider.pk)], f"version-{outsider.pk}": "none", f"score-{outsider.pk}": "5"}
    fields["csrfmiddlewaretoken"] = read_grades(client.get(grades_url(test_))).fields["csrfmiddlewaretoken"]

    response = client.post(grades_url(test_), fields)

    assert response.status_code == 200
    assert not TestResult.objects.exists()


@pytest.mark.parametrize(
    "fields",
    [
        {"student": ["abc"]},
        {"student": ["1", "1"]},
        {"student": ["1"], "version-1": "-3"},
        {"student": [str(n) for n in range(1, PAGE_SIZE + 2)]},
    ],
)
def test_a_form_no_page_writes_is_a_400(fields, teacher, test_, client_as):
    response = client_as(teacher).post(grades_url(test_), fields)

    assert response.status_code == 400
    assert not GradeChange.objects.exists()


# Someone else's change meanwhile ------------------------------------------------------------------


def test_a_row_changed_meanwhile_is_shown_back_and_not_overwritten(
    teacher, other_teacher, course, student, classmate, test_, client_as
):
    Enrollment.objects.create(user=other_teacher, course=course, role=Role.TEACHER)
    mine = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    services.result_update(result=mine, score=Decimal("12"), by=other_teacher, via="api")  # meanwhile
    form.fields[f"score-{student.pk}"] = "30"
    form.fields[f"score-{classmate.pk}"] = "40"

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 200
    row = row_html(response, student)
    assert 'class="grade-row conflict"' in row
    assert 'Changed meanwhile by Alan Turing: theirs is <strong class="theirs">12</strong>' in row
    assert f'name="score-{student.pk}" value="30"' in row  # what was typed, kept in its box
    page = response.content.decode()
    assert "Saved 1 other grade." in page
    assert "1 grade was changed by someone else since you opened this page and not saved" in page
    assert dict(TestResult.objects.values_list("student_id", "score")) == {student.pk: 12, classmate.pk: 40}
    assert not GradeChange.objects.filter(student=student, via="admin").exists()

    # Saving the page shown back replaces theirs with what is in the box: the teacher has seen both.
    again = client.post(grades_url(test_), read_grades(response).fields)
    assert again.status_code == 302
    assert TestResult.objects.get(student=student).score == 30


def test_a_result_recorded_meanwhile_for_a_row_read_without_one_is_not_overwritten(teacher, student, test_, client_as):
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    services.result_record(test=test_, student=student, score=Decimal("12"), by=teacher)
    form.fields[f"excused-{student.pk}"] = "on"

    response = client.post(grades_url(test_), form.fields)

    assert 'class="grade-row conflict"' in row_html(response, student)
    result = TestResult.objects.get()
    assert (result.score, result.excused) == (Decimal(12), False)


def test_a_result_deleted_meanwhile_is_not_recorded_again(teacher, student, test_, client_as):
    mine = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    services.result_delete(result=mine, by=teacher)
    form.fields[f"score-{student.pk}"] = "20"

    response = client.post(grades_url(test_), form.fields)

    row = row_html(response, student)
    assert 'class="grade-row conflict"' in row and "no result (deleted)" in row
    assert not TestResult.objects.exists()


# Cost -----------------------------------------------------------------------------------------------


def _class_of(course, test, teacher, n):
    pupils = enroll(course, n, prefix=f"c{n}-")
    grade(test, teacher, [(p, Decimal(i % 100)) for i, p in enumerate(pupils) if i % 3])
    return pupils


@pytest.fixture
def two_sizes(teacher, make_user, client_as):
    """The same test in a class of 10 and one of 1,000, a third of each ungraded."""
    from courses.models import Course

    sizes = {}
    for n in (10, 1000):
        course = Course.objects.create(name=f"Class of {n}")
        Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
        test = Test.objects.create(course=course, name="Midterm", date=date(2026, 12, 1))
        sizes[n] = (test, _class_of(course, test, teacher, n))
    return sizes


def test_a_page_of_grades_costs_the_same_queries_at_10_and_1000_students(teacher, two_sizes, client_as):
    client = client_as(teacher)
    counts = {}
    for n, (test, _) in two_sizes.items():
        client.get(grades_url(test))  # the session's first request
        with CaptureQueriesContext(connection) as queries:
            response = client.get(grades_url(test, show="all"))
        assert len(students_shown(response)) == min(n, PAGE_SIZE)
        counts[n] = len(queries)

    assert counts[10] == counts[1000]


def test_saving_one_changed_score_costs_the_same_queries_at_10_and_1000_students(teacher, two_sizes, client_as):
    client = client_as(teacher)
    counts = {}
    for n, (test, pupils) in two_sizes.items():
        form = read_grades(client.get(grades_url(test)))
        graded = pupils[1]  # every third is ungraded, from the first
        form.fields[f"score-{graded.pk}"] = "99"
        with CaptureQueriesContext(connection) as queries:
            response = client.post(grades_url(test), form.fields)
        assert response.status_code == 302
        counts[n] = len(queries)
        assert TestResult.objects.get(test=test, student=graded).score == 99

    # The session, the caller, "teaches anywhere?" (the admin's door), the test with the caller's
    # role, the changed row's result; then the grade service's write, as for the API: the test
    # share-locked, the result locked, updated, its version read back, the history line, the test's
    # results version, and the notice to the student (4: the test's results are published), between
    # the savepoint and its release (the test runs in a transaction). Nothing grows with the class
    # or the page.
    assert counts[10] == counts[1000]
    assert counts[10] == 17


def test_the_tests_page_costs_the_same_queries_at_10_and_1000_students(teacher, two_sizes, client_as):
    client = client_as(teacher)
    counts = {}
    for n, (test, _) in two_sizes.items():
        client.get(reverse("admin:grading_test_change", args=[test.pk]))
        with CaptureQueriesContext(connection) as queries:
            page = client.get(reverse("admin:grading_test_change", args=[test.pk])).content.decode()
        counts[n] = len(queries)
        ungraded = len(range(0, n, 3))
        assert f'<td id="count-students">{n}</td>' in page
        assert f'<td id="count-ungraded">{ungraded}</td>' in page
        assert f'<td id="count-graded">{n - ungraded}</td>' in page

    assert counts[10] == counts[1000]


# Who may -------------------------------------------------------------------------------------------


def test_the_tests_page_links_to_grade_entry_and_has_no_results_inline(teacher, student, test_, client_as):
    services.result_record(test=test_, student=student, score=None, excused=True, by=teacher)

    page = client_as(teacher).get(reverse("admin:grading_test_change", args=[test_.pk])).content.decode()

    assert f'href="{grades_url(test_)}" id="enter-grades"' in page
    assert '<td id="count-excused">1</td>' in page
    assert "results-TOTAL_FORMS" not in page


def test_a_teacher_of_another_course_gets_a_404_and_writes_nothing(
    other_teacher, other_course, student, test_, client_as
):
    client = client_as(other_teacher)
    fields = {"student": [str(student.pk)], f"version-{student.pk}": "none", f"score-{student.pk}": "5"}

    assert client.get(grades_url(test_)).status_code == 404
    assert client.post(grades_url(test_), fields).status_code == 404
    assert not TestResult.objects.exists()


def test_a_student_is_sent_to_the_sign_in_page(student, test_, client_as):
    client = client_as(student)

    response = client.get(grades_url(test_))

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert client.post(grades_url(test_), {"student": [str(student.pk)]}).status_code == 302
    assert not TestResult.objects.exists()


def test_a_student_of_the_course_who_teaches_elsewhere_gets_a_404(student, test_, other_course, client_as):
    Enrollment.objects.create(user=student, course=other_course, role=Role.TEACHER)

    assert client_as(student).get(grades_url(test_)).status_code == 404


def test_an_admin_enters_grades_in_any_course(admin_user, student, test_, client_as):
    client = client_as(admin_user)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = "5"

    assert client.post(grades_url(test_), form.fields).status_code == 302
    assert GradeChange.objects.get().changed_by_id == admin_user.pk


@pytest.mark.parametrize("object_id", ["999999", "abc", "99999999999999999999"])
def test_an_unknown_test_is_a_404(object_id, teacher, course, client_as):
    url = reverse("admin:grading_test_grades", args=[1]).replace("/1/", f"/{object_id}/")

    assert client_as(teacher).get(url).status_code == 404


def test_names_are_written_as_text(teacher, course, test_, make_user, client_as):
    pupil = make_user("bo@example.com", first_name="<b>Bo</b>", last_name='"Quote"')
    Enrollment.objects.create(user=pupil, course=course, role=Role.STUDENT)

    row = row_html(client_as(teacher).get(grades_url(test_)), pupil)

    assert "&lt;b&gt;Bo&lt;/b&gt; &quot;Quote&quot;" in row
    assert "<b>" not in row


def test_the_page_is_a_page_of_the_admin(teacher, test_, client_as):
    page = client_as(teacher).get(grades_url(test_)).content.decode()

    assert f'href="{reverse("admin:grading_test_change", args=[test_.pk])}"' in page  # back to the test
    assert 'id="grades-form"' in page and "csrfmiddlewaretoken" in page
    assert "cdn" not in page.lower()


@pytest.mark.django_db(transaction=True)
def test_a_save_that_postgresql_undoes_to_break_a_deadlock_is_shown_back_not_a_500(
    teacher, student, classmate, test_, client_as
):
    """Another write holds one of the page's results and then waits for the test the page's save
    holds: PostgreSQL breaks the cycle by undoing the save that waited first, the page's."""
    first = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    services.result_record(test=test_, student=classmate, score=Decimal("20"), by=teacher)
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields.update({f"score-{student.pk}": "11", f"score-{classmate.pk}": "21"})
    holding, page_waits, outcome = threading.Event(), threading.Event(), {}

    def other_write():
        try:
            with transaction.atomic():
                list(TestResult.objects.select_for_update().filter(pk=first.pk))
                holding.set()
                assert page_waits.wait(60)
                list(Test.objects.select_for_update(no_key=True).filter(pk=test_.pk))
            outcome["other"] = "committed"
        except OperationalError as exc:
            outcome["other"] = type(exc.__cause__).__name__
        finally:
            connections.close_all()

    def save_page():
        try:
            outcome["page"] = client.post(grades_url(test_), form.fields)
        finally:
            connections.close_all()

    other = threading.Thread(target=other_write)
    other.start()
    assert holding.wait(60)
    page = threading.Thread(target=save_page)
    page.start()
    deadline = time.monotonic() + 60
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:  # until the page's save waits for the held result
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                break
    page_waits.set()
    page.join(60)
    other.join(60)

    assert outcome["other"] == "committed"
    response = outcome["page"]
    assert response.status_code == 200
    assert "Nothing was saved: another write to these grades at the same moment got in the way" in (
        response.content.decode()
    )
    assert f'name="score-{student.pk}" value="11"' in row_html(response, student)  # kept to save again
    assert dict(TestResult.objects.values_list("student_id", "score")) == {student.pk: 10, classmate.pk: 20}
    assert client.post(grades_url(test_), read_grades(response).fields).status_code == 302
    assert dict(TestResult.objects.values_list("student_id", "score")) == {student.pk: 11, classmate.pk: 21}
