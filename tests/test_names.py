"""Names a person types (a user's first and last name, a course's, a test's, a category's) are one
line of text: control characters (Unicode Cc), the line and paragraph separators (Zl, Zp) are a 400
naming the field through the API and a form error in the admin. A course's details may hold line
breaks and tabs, no other control character."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.models import User
from courses.models import Course
from grading.models import GradeCategory, Test
from tests.conftest import first_category
from tests.test_admin_course_grades import category_rows, course_url, page_of, read_form

pytestmark = pytest.mark.django_db

# One of each kind: C0 controls (tab, line feed, carriage return, vertical tab, form feed, the
# information separators), NUL, DEL, a C1 control (next line), the line and paragraph separators.
REFUSED = ["\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", "\x7f", "\x85", "\u2028", "\u2029"]


def name_with(char: str) -> str:
    # Inside the name: leading and trailing whitespace is trimmed, as before.
    return f"Ada{char}Lovelace"


def name_message(char: str) -> str:
    return f"Must not contain control characters or line breaks (found U+{ord(char):04X} at character 4)."


def _write(client_for, admin_user, teacher, course, test_, what, value):
    """Send ``value`` as the named field of the named write; return (response, field)."""
    if what == "user create":
        body = {"email": "new@example.com", "first_name": value, "last_name": "X"}
        return client_for(admin_user).post("/api/users/", body, format="json"), "first_name"
    if what == "user update":
        body = {"first_name": "Grace", "last_name": value}
        return client_for(teacher).put(f"/api/users/{teacher.pk}/", body, format="json"), "last_name"
    if what == "course create":
        return client_for(teacher).post("/api/courses/", {"name": value}, format="json"), "name"
    if what == "course update":
        return client_for(teacher).patch(f"/api/courses/{course.pk}/", {"name": value}, format="json"), "name"
    if what == "test create":
        body = {"name": value, "date": "2026-12-01"}
        return client_for(teacher).post(f"/api/courses/{course.pk}/tests/", body, format="json"), "name"
    if what == "test update":
        return client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"name": value}, format="json"), "name"
    if what == "category create":
        return client_for(teacher).post(f"/api/courses/{course.pk}/categories/", {"name": value}, format="json"), "name"
    if what == "category update":
        category = first_category(course)
        return client_for(teacher).patch(f"/api/categories/{category.pk}/", {"name": value}, format="json"), "name"
    raise AssertionError(what)


WRITES = [
    "user create",
    "user update",
    "course create",
    "course update",
    "test create",
    "test update",
    "category create",
    "category update",
]


def _stored_names():
    return (
        sorted(User.objects.values_list("first_name", "last_name")),
        sorted(Course.objects.values_list("name", "details")),
        sorted(Test.objects.values_list("name", flat=True)),
        sorted(GradeCategory.objects.values_list("name", flat=True)),
    )


@pytest.mark.parametrize("char", REFUSED, ids=lambda c: f"U+{ord(c):04X}")
@pytest.mark.parametrize("what", WRITES)
def test_a_name_with_a_control_character_or_line_break_is_a_400_naming_the_field(
    client_for, admin_user, teacher, course, test_, what, char
):
    before = _stored_names()

    response, field = _write(client_for, admin_user, teacher, course, test_, what, name_with(char))

    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert name_message(char) in body[field]
    assert _stored_names() == before


@pytest.mark.parametrize("what", WRITES)
def test_a_name_in_any_script_with_spaces_and_punctuation_is_taken(
    client_for, admin_user, teacher, course, test_, what
):
    name = "Zoë O'Brien-李 (Ελένη) 🎓"
    response, field = _write(client_for, admin_user, teacher, course, test_, what, name)
    assert response.status_code in (200, 201), response.json()
    assert response.json()[field] == name


def test_course_details_keep_line_breaks_and_tabs(client_for, teacher, course):
    details = "Week 1:\tsets\nWeek 2:\tlogic\r\nWeek 3: proofs"
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", {"details": details}, format="json")
    assert response.status_code == 200
    course.refresh_from_db()
    assert course.details == details


@pytest.mark.parametrize("char", ["\x00", "\x0b", "\x1f", "\x85", "\u2028", "\r"], ids=lambda c: f"U+{ord(c):04X}")
def test_course_details_with_another_control_character_are_a_400(client_for, teacher, course, char):
    response = client_for(teacher).patch(
        f"/api/courses/{course.pk}/", {"details": f"Line one{char}line two"}, format="json"
    )
    assert response.status_code == 400
    message = (
        f"Must not contain control characters other than line breaks and tabs (found U+{ord(char):04X} at character 9)."
    )
    assert message in response.json()["details"]
    course.refresh_from_db()
    assert course.details == "Models, views, migrations."


# The admin: the same rule, from the models' validators ------------------------------------------


def test_the_course_page_refuses_a_name_with_a_line_break(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields["name"] = "CRUD\u2028with Django"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "Must not contain control characters or line breaks (found U+2028 at character 5)." in (
        response.content.decode()
    )
    assert Course.objects.get(pk=course.pk).name == "CRUD with Django"


def test_the_course_page_keeps_details_on_several_lines_and_refuses_other_controls(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields["details"] = "Week 1\r\nWeek 2\x0bWeek 3"
    refused = client.post(course_url(course), form.fields)
    assert refused.status_code == 200
    assert "found U+000B at character 15" in refused.content.decode()
    assert Course.objects.get(pk=course.pk).details == "Models, views, migrations."

    form.fields["details"] = "Week 1\r\nWeek 2\tproofs"
    assert client.post(course_url(course), form.fields).status_code == 302
    assert Course.objects.get(pk=course.pk).details == "Week 1\r\nWeek 2\tproofs"


def test_the_category_inline_refuses_a_name_with_a_control_character(teacher, course, client_as):
    client = client_as(teacher)
    form = read_form(client.get(course_url(course)), "course_form")
    form.fields[f"{category_rows(form)['Tests']}-name"] = "Ex\x1fams"

    response = client.post(course_url(course), form.fields)

    assert response.status_code == 200
    assert "found U+001F at character 3" in response.content.decode()
    assert first_category(course).name == "Tests"


def test_the_test_page_refuses_a_name_with_a_control_character(teacher, test_, client_as):
    client = client_as(teacher)
    form = read_form(client.get(page_of(test_)), "test_form")
    form.fields["name"] = "Mid\x85term"

    response = client.post(page_of(test_), form.fields)

    assert response.status_code == 200
    assert "found U+0085 at character 4" in response.content.decode()
    assert Test.objects.get(pk=test_.pk).name == "Midterm"


def test_a_new_test_in_the_admin_refuses_a_name_with_a_line_break(teacher, course, client_as):
    client = client_as(teacher)
    add_url = reverse("admin:grading_test_add")
    fields = {"course": str(course.pk), "name": "Quiz\n1", "date": date(2026, 12, 1).isoformat(), "max_score": "10"}
    fields.update({"results-TOTAL_FORMS": "0", "results-INITIAL_FORMS": "0"})

    response = client.post(add_url, fields)

    assert response.status_code == 200
    assert "found U+000A at character 5" in response.content.decode()
    assert not Test.objects.filter(course=course).exists()


def test_the_user_page_refuses_a_name_with_a_control_character(admin_user, student, client_as):
    client = client_as(admin_user)
    url = reverse("admin:accounts_user_change", args=[student.pk])
    form = read_form(client.get(url), "user_form")
    form.fields["last_name"] = "De\tvi"

    response = client.post(url, form.fields)

    assert response.status_code == 200
    assert "found U+0009 at character 3" in response.content.decode()
    assert User.objects.get(pk=student.pk).last_name == "Devi"
