"""A course's page in the admin: grade categories inline, grading settings, and the course's grades;
excused results on a test's pages and a result's page (entering them: tests/test_admin_grade_entry.py).

Forms are submitted as a browser would: the page is read, its fields filled in, and posted back.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading import services
from grading.models import CATEGORIES_PER_COURSE, GradeCategory, GradeChange, Test
from gradingsite.errors import Conflict
from gradingsite.validators import time_zone_names
from tests.conftest import first_category
from tests.test_admin_grading import FormReader


class PageForm(FormReader):
    """``FormReader`` that also reads what a textarea holds (a course's details, its grading scheme)."""

    def __init__(self, form_id):
        super().__init__(form_id)
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        super().handle_starttag(tag, attrs)
        name = dict(attrs).get("name")
        if tag == "textarea" and self.inside and name and "__prefix__" not in name:
            self._textarea = name

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            if self._textarea:
                # A browser drops the newline that follows <textarea>, as Django's template writes it.
                self.fields[self._textarea] = self.fields[self._textarea].removeprefix("\n")
            self._textarea = None
        super().handle_endtag(tag)


def read_form(response, form_id):
    reader = PageForm(form_id)
    reader.feed(response.content.decode())
    return reader


def course_url(course):
    return reverse("admin:courses_course_change", args=[course.pk])


def page_of(test):
    return reverse("admin:grading_test_change", args=[test.pk])


def category_rows(form) -> dict[str, str]:
    """Category name → its inline row prefix (``grade_categories-N``), for the rows that exist."""
    return {
        value: name.removesuffix("-name")
        for name, value in form.fields.items()
        if name.startswith("grade_categories-") and name.endswith("-name") and value
    }


@pytest.fixture
def homework(course):
    return services.category_create(course=course, name="Homework", weight=Decimal("40"))


# Grade categories, inline on the course's page ----------------------------------------------------


def test_a_teacher_edits_a_category_and_adds_another_inline(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    tests_row = category_rows(form)["Tests"]
    form.fields.update({f"{tests_row}-name": "Exams", f"{tests_row}-weight": "60", f"{tests_row}-drop_lowest": "1"})
    new_row = "grade_categories-1"
    assert form.fields[f"{new_row}-name"] == ""  # the blank row for a new category
    form.fields.update({f"{new_row}-name": "Homework", f"{new_row}-weight": "40", f"{new_row}-drop_highest": "2"})

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    rows = list(
        GradeCategory.objects.filter(course=course)
        .order_by("position", "id")
        .values_list("name", "weight", "drop_lowest", "drop_highest", "position")
    )
    # A new category without a position goes after the others.
    assert rows == [("Exams", Decimal("60"), 1, 0, 0), ("Homework", Decimal("40"), 0, 2, 1)]


def test_a_category_with_a_negative_weight_is_a_form_error(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Tests']}-weight"] = "-5"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert GradeCategory.objects.get(course=course).weight == Decimal("100")


def test_deleting_a_category_that_holds_tests_is_refused_with_a_message_and_nothing_is_deleted(
    teacher, course, test_, homework, client_as
):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    rows = category_rows(form)
    form.fields[f"{rows['Tests']}-DELETE"] = "on"
    form.fields[f"{rows['Homework']}-name"] = "Assignments"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "holds tests; move them to another category first" in response.content.decode()
    assert set(GradeCategory.objects.filter(course=course).values_list("name", flat=True)) == {"Tests", "Homework"}
    test_.refresh_from_db()
    assert test_.category.name == "Tests"


def test_deleting_the_courses_last_category_is_refused_with_a_message(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Tests']}-DELETE"] = "on"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "A course keeps at least one grade category" in response.content.decode()
    assert GradeCategory.objects.filter(course=course).count() == 1


def test_an_empty_category_is_deleted_inline(teacher, course, test_, homework, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Homework']}-DELETE"] = "on"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(GradeCategory.objects.filter(course=course).values_list("name", flat=True)) == ["Tests"]


def test_a_conflict_from_the_grade_service_while_saving_becomes_a_message_and_nothing_is_saved(
    teacher, course, homework, client_as, monkeypatch
):
    # The form saw nothing wrong; the service refuses at save time (as when a test was moved into the
    # category meanwhile): the page's whole save is rolled back and the refusal shown.
    def refuse(*, category):
        raise Conflict("This category holds tests; move them to another category first.")

    monkeypatch.setattr(services, "category_delete", refuse)
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    rows = category_rows(form)
    form.fields[f"{rows['Homework']}-DELETE"] = "on"
    form.fields[f"{rows['Tests']}-name"] = "Exams"

    response = client.post(course_url(course), form.fields, follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Nothing was saved: This category holds tests" in page
    assert set(GradeCategory.objects.filter(course=course).values_list("name", flat=True)) == {"Tests", "Homework"}


def test_categories_are_not_editable_by_another_courses_teacher(other_teacher, other_course, course, client_as):
    client = client_as(other_teacher)

    assert client.get(course_url(course)).status_code == 404
    assert client.post(course_url(course), {"grade_categories-TOTAL_FORMS": "0"}).status_code == 404


def test_a_superuser_edits_any_courses_categories(admin_user, course, client_as):
    client = client_as(admin_user)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Tests']}-weight"] = "75"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert GradeCategory.objects.get(course=course).weight == Decimal("75")


def _full_course_page(course, client):
    """The course's page once the course has ``CATEGORIES_PER_COURSE`` categories."""
    GradeCategory.objects.bulk_create(
        GradeCategory(course=course, name=f"Category {n}", position=n) for n in range(1, CATEGORIES_PER_COURSE)
    )
    return read_form(client.get(course_url(course)), "course_form")


def test_a_category_past_the_cap_is_refused_on_the_course_page(teacher, course, client_as):
    client = client_as(teacher)
    form = _full_course_page(course, client)
    form.fields[f"grade_categories-{CATEGORIES_PER_COURSE}-name"] = "One more"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "A course has at most 50 grade categories; delete one first." in response.content.decode()
    assert course.grade_categories.count() == CATEGORIES_PER_COURSE
    assert not course.grade_categories.filter(name="One more").exists()


def test_a_course_at_the_cap_replaces_a_category_in_one_save(teacher, course, client_as):
    client = client_as(teacher)
    form = _full_course_page(course, client)
    form.fields[f"{category_rows(form)['Category 7']}-DELETE"] = "on"
    form.fields[f"grade_categories-{CATEGORIES_PER_COURSE}-name"] = "Projects"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    names = set(course.grade_categories.values_list("name", flat=True))
    assert len(names) == CATEGORIES_PER_COURSE
    assert "Projects" in names and "Category 7" not in names


def test_a_position_above_the_apis_maximum_is_a_form_error(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Tests']}-position"] = "1000001"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "less than or equal to 1000000" in response.content.decode()
    assert first_category(course).position == 0


# The course's members: counted on its page, listed in the enrollments' list ----------------------


def test_the_course_page_counts_its_members_and_links_to_their_list(teacher, course, classmate, client_as):
    response = client_as(teacher).get(course_url(course))

    page = response.content.decode()
    enrollments = reverse("admin:courses_enrollment_changelist") + f"?course__id__exact={course.pk}"
    members = page.split('id="course-members">', 1)[1].split("</a>", 1)[0]
    assert members == "1 teacher, 2 students: the list of enrollments"
    assert f'<a href="{enrollments}" id="course-members">' in page
    assert "enrollments-TOTAL_FORMS" not in page  # no row per member
    assert "Enroll someone" not in page  # teachers enroll people through the API

    listed = client_as(teacher).get(enrollments)
    assert {e.user.email for e in listed.context["cl"].result_list} == {
        "teacher@example.com",
        "student@example.com",
        "classmate@example.com",
    }


def test_a_superuser_enrolls_someone_from_the_course_page(admin_user, course, make_user, client_as):
    newcomer = make_user("newcomer@example.com")
    client = client_as(admin_user)
    page = client.get(course_url(course)).content.decode()
    add_url = reverse("admin:courses_enrollment_add") + f"?course={course.pk}"
    assert f'<a href="{add_url}">Enroll someone</a>' in page

    form = read_form(client.get(add_url), "enrollment_form")
    assert form.fields["course"] == str(course.pk)  # the course comes chosen
    response = client.post(add_url, {**form.fields, "user": newcomer.pk, "role": Role.STUDENT})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Enrollment.objects.get(user=newcomer).course == course


def test_a_superuser_cannot_unenroll_a_courses_last_teacher(admin_user, teacher, course, client_as):
    enrollment = Enrollment.objects.get(user=teacher)
    url = reverse("admin:courses_enrollment_delete", args=[enrollment.pk])

    response = client_as(admin_user).post(url, {"post": "yes"}, follow=True)

    assert "Nothing was deleted: This is the course&#x27;s last teacher" in response.content.decode()
    assert Enrollment.objects.filter(pk=enrollment.pk).exists()


def test_a_superuser_cannot_make_a_courses_last_teacher_a_student(admin_user, teacher, course, client_as):
    enrollment = Enrollment.objects.get(user=teacher)
    url = reverse("admin:courses_enrollment_change", args=[enrollment.pk])
    client = client_as(admin_user)
    form = read_form(client.get(url), "enrollment_form")

    response = client.post(url, {**form.fields, "role": Role.STUDENT}, follow=True)

    assert "Nothing was saved: This is the course&#x27;s last teacher" in response.content.decode()
    enrollment.refresh_from_db()
    assert enrollment.role == Role.TEACHER


def test_a_superuser_makes_a_student_a_teacher_but_not_another_users_enrollment(
    admin_user, student, stranger, course, other_course, client_as
):
    enrollment = Enrollment.objects.get(user=student)
    url = reverse("admin:courses_enrollment_change", args=[enrollment.pk])
    client = client_as(admin_user)
    form = read_form(client.get(url), "enrollment_form")
    assert set(form.fields) >= {"role"} and not {"user", "course"} & set(form.fields)  # shown, not editable

    changes = {"role": Role.TEACHER, "user": stranger.pk, "course": other_course.pk}
    response = client.post(url, {**form.fields, **changes})

    assert response.status_code == 302
    enrollment.refresh_from_db()
    assert (enrollment.user, enrollment.course, enrollment.role) == (student, course, Role.TEACHER)


def test_unenrolling_several_keeps_the_last_teacher_and_says_so(admin_user, teacher, course, classmate, client_as):
    response = client_as(admin_user).post(
        reverse("admin:courses_enrollment_changelist"),
        {"action": "delete_selected", "post": "yes", "_selected_action": [e.pk for e in Enrollment.objects.all()]},
        follow=True,
    )

    assert "was kept: This is the course&#x27;s last teacher" in response.content.decode()
    assert list(Enrollment.objects.values_list("user", "role")) == [(teacher.pk, Role.TEACHER)]


def test_the_courses_list_names_the_teachers_and_counts_the_students(teacher, course, classmate, client_as):
    response = client_as(teacher).get(reverse("admin:courses_course_changelist"))

    row = response.content.decode().split(f"/admin/courses/course/{course.pk}/change/", 1)[1].split("</tr>", 1)[0]
    assert '<td class="field-teacher_list">teacher@example.com</td>' in row
    assert '<td class="field-student_count">2</td>' in row


# Grading settings on the course's page --------------------------------------------------------------


def test_a_teacher_sets_weighting_grading_scheme_and_time_zone(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    assert '"letter": "A"' in form.fields["grading_scheme"]  # the current scheme, one row a line
    form.fields.update(
        {
            "weighting": "categories",
            "grading_scheme": '[{"letter": "Pass", "min_percent": 50}, {"letter": "Fail", "min_percent": 0}]',
            "time_zone": "Europe/Paris",
        }
    )

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    course.refresh_from_db()
    assert (course.weighting, course.time_zone) == ("categories", "Europe/Paris")
    assert course.grading_scheme == [{"letter": "Pass", "min_percent": 50}, {"letter": "Fail", "min_percent": 0}]
    assert course.details == "Models, views, migrations."  # what wasn't touched stays


def test_the_time_zone_select_offers_every_zone_with_the_courses_own_selected(teacher, course, client_as):
    Course.objects.filter(pk=course.pk).update(time_zone="Asia/Tokyo")

    form = read_form(client_as(teacher).get(course_url(course)), "course_form")

    assert form.fields["time_zone"] == "Asia/Tokyo"
    assert form.options["time_zone"] == ["", *sorted(time_zone_names())]


def test_saving_the_course_page_unchanged_keeps_the_grading_scheme(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    scheme = Course.objects.get(pk=course.pk).grading_scheme

    assert client.post(course_url(course), form.fields).status_code == 302
    course.refresh_from_db()
    assert course.grading_scheme == scheme


def test_an_empty_grading_scheme_means_no_letters(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields["grading_scheme"] = ""

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    course.refresh_from_db()
    assert course.grading_scheme is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("grading_scheme", '[{"letter": "A", "min_percent": 90}]', "The last row&#x27;s min_percent must be 0"),
        ("grading_scheme", '[{"letter": "A", "min_percent": 0}, {"letter": "B"}]', "Row 1: expected exactly"),
        ("grading_scheme", "{not json", "Enter a valid JSON"),
        ("time_zone", "Mars/Olympus_Mons", "Select a valid choice"),
        ("time_zone", "localtime", "Select a valid choice"),
        ("time_zone", "Factory", "Select a valid choice"),
    ],
)
def test_an_invalid_grading_scheme_or_time_zone_is_a_form_error(field, value, message, teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    before = Course.objects.values("grading_scheme", "time_zone").get(pk=course.pk)
    form.fields[field] = value

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Course.objects.values("grading_scheme", "time_zone").get(pk=course.pk) == before


# A test's category --------------------------------------------------------------------------------


def test_a_tests_category_is_chosen_among_its_own_courses_categories(
    teacher, course, test_, homework, other_course, client_as
):
    theirs = GradeCategory.objects.get(course=other_course)
    client = client_as(teacher)
    form = read_form(client.get(page_of(test_)), "test_form")
    assert set(form.options["category"]) == {"", str(test_.category_id), str(homework.pk)}

    refused = client.post(page_of(test_), {**form.fields, "category": str(theirs.pk)})
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()
    test_.refresh_from_db()
    assert test_.category.course_id == course.pk

    moved = client.post(page_of(test_), {**form.fields, "category": str(homework.pk), "never_drop": "on"})
    assert moved.status_code == 302, moved.content.decode()[:3000]
    test_.refresh_from_db()
    assert (test_.category_id, test_.never_drop) == (homework.pk, True)


def test_a_new_test_takes_a_category_of_its_own_course_or_the_first_one(
    teacher, course, homework, other_course, other_teacher, client_as
):
    Enrollment.objects.create(user=teacher, course=other_course, role=Role.TEACHER)  # teaches both now
    theirs = GradeCategory.objects.get(course=other_course)
    client = client_as(teacher)
    add_url = reverse("admin:grading_test_add")
    form = read_form(client.get(add_url), "test_form")
    fields = {**form.fields, "course": str(course.pk), "name": "Quiz", "date": "2026-02-02", "max_score": "20"}

    mismatched = client.post(add_url, {**fields, "category": str(theirs.pk)})
    chosen = client.post(add_url, {**fields, "name": "Quiz 2", "category": str(homework.pk)})
    defaulted = client.post(add_url, {**fields, "name": "Quiz 3", "category": ""})

    assert mismatched.status_code == 200
    assert "This category belongs to another course." in mismatched.content.decode()
    assert (chosen.status_code, defaulted.status_code) == (302, 302)
    assert dict(Test.objects.filter(course=course).values_list("name", "category__name")) == {
        "Quiz 2": "Homework",
        "Quiz 3": "Tests",
    }


def test_the_course_page_lists_its_tests_with_their_category(teacher, course, test_, client_as):
    response = client_as(teacher).get(course_url(course))

    tests_inline = next(f for f in response.context["inline_admin_formsets"] if f.formset.model is Test)
    assert "category" in [field["name"] for field in tests_inline.fields()]
    assert "Midterm" in response.content.decode()


# Excused results ----------------------------------------------------------------------------------


def test_an_excused_result_is_counted_apart_and_shown_as_excused(teacher, student, classmate, test_, client_as):
    services.result_record(test=test_, student=student, score=None, excused=True, by=teacher)
    services.result_record(test=test_, student=classmate, score=Decimal("45"), by=teacher)
    client = client_as(teacher)

    page = client.get(page_of(test_)).content.decode()
    grades = client.get(reverse("admin:grading_test_grades", args=[test_.pk])).content.decode()

    assert '<td id="stat-count">1</td>' in page  # statistics leave the excused result out
    assert '<td id="count-excused">1</td>' in page and '<td id="count-graded">1</td>' in page
    assert '<td class="now">excused</td>' in grades
    assert '<td class="now">45 (45.0 %)</td>' in grades


def test_a_result_page_excuses_through_the_service_and_its_history_shows_excused(teacher, student, test_, client_as):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[result.pk])
    form = read_form(client.get(url), "testresult_form")

    refused = client.post(url, {**form.fields, "score": "10", "excused": "on"})
    excused = client.post(url, {**form.fields, "score": "", "excused": "on"})

    assert refused.status_code == 200
    assert "An excused result has no score" in refused.content.decode()
    assert excused.status_code == 302, excused.content.decode()[:3000]
    result.refresh_from_db()
    assert (result.score, result.excused) == (None, True)
    assert GradeChange.objects.filter(action="updated", via="admin", excused=True, new_score=None).count() == 1
    page = client.get(url)
    history = page.context["inline_admin_formsets"][0]
    assert "excused" in [field["name"] for field in history.fields()]
    assert "excused" in page.content.decode()


# The course's grades ------------------------------------------------------------------------------


@pytest.fixture
def graded_course(course, teacher, student, make_user):
    """Three students: 95 and 92 (A), 85 (B) on the course's one test; a fourth without a result."""
    test = Test.objects.create(course=course, name="Final", date=date(2020, 1, 10), max_score=Decimal("100"))
    others = [make_user(last_name=name) for name in ("Ng", "Okafor", "Zed")]
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in others])
    for who, score in zip([student, *others[:2]], ["95", "92", "85"], strict=True):
        services.result_record(test=test, student=who, score=Decimal(score), by=teacher)
    return {"course": course, "test": test, "students": [student, *others]}


def test_the_course_page_charts_the_letters_and_lists_every_students_grade(teacher, graded_course, client_as):
    course = graded_course["course"]
    devi, ng, okafor, zed = graded_course["students"]

    response = client_as(teacher).get(course_url(course))

    page = response.content.decode()
    assert '<svg id="grade-distribution"' in page
    assert 'aria-label="Students by letter: A: 2, B: 1, C: 0, D: 0, F: 0, none: 1"' in page
    assert page.count('<g class="letter">') == 6
    report = page.split('id="course-grade-report"')[1].split("</fieldset>")[0]
    assert "<script" not in report and "cdn" not in report.lower()  # drawn by the server, no JavaScript
    rows = response.context["grade_report"].rows
    assert {row["student"]["id"]: (row["current_percent"], row["letter"]) for row in rows} == {
        devi.pk: (Decimal("95.00"), "A"),
        ng.pk: (Decimal("92.00"), "A"),
        okafor.pk: (Decimal("85.00"), "B"),
        zed.pk: (None, None),  # nothing counts yet for the current grade
    }
    assert f'<tr id="grade-{okafor.pk}">' in page
    row = page.split(f'<tr id="grade-{okafor.pk}">')[1].split("</tr>")[0]
    assert '<td class="current">85.00</td>' in row
    assert '<td class="final">85.00</td>' in row
    assert '<td class="letter">B</td>' in row
    # The final grade counts the missing result as 0.
    row = page.split(f'<tr id="grade-{zed.pk}">')[1].split("</tr>")[0]
    assert '<td class="current">-</td>' in row
    assert '<td class="final">0.00</td>' in row
    assert '<td class="final-letter">F</td>' in row


@pytest.fixture
def large_course(course, teacher):
    """205 students (with ``course``'s own), each with a result on one test: 60 or 95 percent."""
    test = Test.objects.create(course=course, name="Final", date=date(2020, 1, 10), max_score=Decimal("100"))
    people = User.objects.bulk_create(
        User(email=f"p{i:03d}@example.com", first_name="P", last_name=f"{i:03d}") for i in range(204)
    )
    Enrollment.objects.bulk_create(Enrollment(user=p, course=course, role=Role.STUDENT) for p in people)
    items = [
        (s.pk, Decimal(60 if i % 2 else 95)) for i, s in enumerate(course.members.filter(enrollments__role="STUDENT"))
    ]
    services.results_upsert(test=test, items=items, by=teacher)
    return course


def test_the_grade_table_shows_a_page_of_students_and_the_chart_counts_them_all(teacher, large_course, client_as):
    client = client_as(teacher)

    first = client.get(course_url(large_course)).content.decode()
    last = client.get(course_url(large_course) + "?grades_page=3").content.decode()

    assert 'aria-label="Students by letter: A: 103, B: 0, C: 0, D: 102, F: 0, none: 0"' in first
    assert first.count('<tr id="grade-') == 100
    assert "Students 1 to 100 of 205" in first
    assert '<a href="?grades_page=2#course-grade-report">2</a>' in first
    assert last.count('<tr id="grade-') == 5
    assert "Students 201 to 205 of 205" in last
    gradebook = reverse("admin:courses_course_gradebook", args=[large_course.pk])
    assert f'<a href="{gradebook}">the gradebook (CSV)</a>' in first


@pytest.mark.parametrize("number", ["0", "99", "abc", "-1", "1e3", ""])
def test_a_grade_page_out_of_range_or_not_a_number_shows_the_nearest(number, teacher, large_course, client_as):
    response = client_as(teacher).get(course_url(large_course) + f"?grades_page={number}")

    assert response.status_code == 200
    assert response.content.decode().count('<tr id="grade-') in (100, 5)


def test_the_grade_tables_page_links_keep_the_rest_of_the_query(teacher, large_course, client_as):
    url = course_url(large_course) + "?_changelist_filters=q%3DCRUD&grades_page=2"

    page = client_as(teacher).get(url).content.decode()

    assert "?_changelist_filters=q%3DCRUD&amp;grades_page=3#course-grade-report" in page


def test_the_grade_chart_counts_only_students_with_a_letter_so_far(teacher, course, test_, student, client_as):
    # A future test with no result: nothing counts yet, so no letter.
    page = client_as(teacher).get(course_url(course)).content.decode()

    assert "A: 0, B: 0, C: 0, D: 0, F: 0, none: 1" in page
    row = page.split(f'<tr id="grade-{student.pk}">')[1].split("</tr>")[0]
    assert '<td class="current">-</td>' in row


def test_a_course_without_a_grading_scheme_lists_grades_without_a_chart(teacher, graded_course, client_as):
    course = graded_course["course"]
    Course.objects.filter(pk=course.pk).update(grading_scheme=None)

    page = client_as(teacher).get(course_url(course)).content.decode()

    assert '<svg id="grade-distribution"' not in page
    assert "no grading scheme" in page
    assert '<td class="current">95.00</td>' in page


def test_a_superuser_sees_any_courses_grades(admin_user, graded_course, client_as):
    page = client_as(admin_user).get(course_url(graded_course["course"])).content.decode()

    assert "A: 2, B: 1" in page


def test_another_courses_teacher_cannot_see_its_grades(other_teacher, other_course, graded_course, client_as):
    client = client_as(other_teacher)

    response = client.get(course_url(graded_course["course"]))

    assert response.status_code == 404
    assert b"grade-distribution" not in response.content
    assert b"95.00" not in response.content


def test_the_grades_are_not_computed_when_the_page_is_saved(teacher, course, client_as, monkeypatch):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    calls = []
    monkeypatch.setattr("grading.grades.course_grades", lambda *a, **k: calls.append(1) or [])
    monkeypatch.setattr("grading.grades.letter_distribution", lambda *a, **k: calls.append(1) or [])

    assert client.post(course_url(course), form.fields).status_code == 302
    assert calls == []


def test_a_superuser_adds_a_course_which_gets_its_first_category(admin_user, client_as):
    client = client_as(admin_user)
    add_url = reverse("admin:courses_course_add")
    form = read_form(client.get(add_url), "course_form")
    assert form.fields["time_zone"] == "UTC"
    assert "grade_categories-TOTAL_FORMS" not in form.fields  # categories are edited once the course exists

    response = client.post(add_url, {**form.fields, "name": "Topology", "time_zone": "Asia/Tokyo"})

    assert response.status_code == 302, response.content.decode()[:3000]
    course = Course.objects.get(name="Topology")
    assert course.time_zone == "Asia/Tokyo"
    assert course.grading_scheme[0] == {"letter": "A", "min_percent": 90}
    assert list(GradeCategory.objects.filter(course=course).values_list("name", flat=True)) == ["Tests"]
