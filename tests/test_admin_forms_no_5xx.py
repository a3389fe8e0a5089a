"""Every form of the grading admin answers a blank or an invalid field with the form again: the error
shown, what was typed kept, nothing saved. Never a 5xx; a valid form saves and redirects.

Each form is read from its page and posted back as a browser would, one field changed at a time:
the course's page (its grading settings, its late policy and its categories inline), a test's add and
change pages (the test's own fields and its submission settings), a result's page, the grading page of
a student's work, an enrollment's add and change pages.
"""

import json
from decimal import Decimal
from html import escape

import pytest
from django.urls import reverse

from courses.models import Course, Enrollment, Role
from grading import services
from grading.admin import NO_SCORE
from grading.models import GradeCategory, GradeChange, Test, TestResult
from tests.test_admin_course_grades import read_form
from tests.test_admin_grade_entry import grades_url, read_grades, row_html

HUGE = "1" + "0" * 40
BEYOND_INT = str(2**31)
CONTROL = "Mid\x00term"
NUMBERS = [("text", "abc"), ("huge", HUGE), ("exponent", "1e3"), ("nan", "NaN"), ("spaces", "  ")]
# What a field of each kind is sent, besides blank: (case, value).
DECIMALS = [*NUMBERS, ("negative", "-5"), ("too_many_decimals", "1.234567")]
# Scores (and max scores) are plain decimal digits, as everywhere a score is written as text.
SCORES = [*DECIMALS, ("small_exponent", "1e1"), ("plus_sign", "+5"), ("leading_dot", ".5"), ("leading_zero", "05")]
COUNTS = [*NUMBERS, ("negative", "-1"), ("beyond_int", BEYOND_INT), ("fraction", "1.5")]
NAMES = [("too_long", "x" * 201), ("control_character", CONTROL), ("line_break", "Mid\nterm")]
CHOICES = [("unknown", "nonsense"), ("number", "12345")]
IDS = [("text", "abc"), ("missing", "999999"), ("negative", "-1"), ("huge", HUGE)]
DATES = [("text", "soon"), ("impossible", "2026-02-30"), ("huge_year", "99999-01-01")]


def submit(client, url, form_id, changes):
    """Read the form at ``url``, change some fields (None: leave the field out, an unticked box), post it."""
    fields = read_form(client.get(url), form_id).fields
    for name, value in changes.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    response = client.post(url, fields)
    assert response.status_code < 500, response.content.decode()[:3000]
    return response


def assert_refused(response, value, *, kept=True):
    """The form again (200) with an error shown, and what was typed back in its field."""
    page = response.content.decode()
    assert response.status_code == 200, f"{response.status_code}: {value!r} was taken"
    assert "errorlist" in page or 'class="errornote"' in page or "messagelist" in page, "no error shown"
    if kept and value.strip() and "\x00" not in value:
        assert escape(value, quote=True) in page or escape(value, quote=False) in page, f"{value!r} not kept"


def cases(field, *groups, blank=True):
    """Parameters ``(field, value)``: each value of the given groups, and blank."""
    found = [("blank", "")] if blank else []
    for group in groups:
        found += group
    return [pytest.param(field, value, id=f"{field}-{case}") for case, value in found]


def values(*groups, blank=True):
    """Parameters ``value``: each value of the given groups, and blank."""
    return [pytest.param(p.values[1], id=p.id.split("-", 1)[1]) for p in cases("", *groups, blank=blank)]


# The course's page: its grading settings -----------------------------------------------------------


def course_url(course):
    return reverse("admin:courses_course_change", args=[course.pk])


def _course_row(course):
    return Course.objects.values("name", "details", "weighting", "grading_scheme", "time_zone").get(pk=course.pk)


COURSE_FIELDS = [
    *cases("name", NAMES),
    *cases("weighting", CHOICES),
    *cases("time_zone", CHOICES, [("localtime", "localtime"), ("offset", "UTC+3")]),
    *cases(
        "grading_scheme",
        [
            ("not_json", "{not json"),
            ("an_object", '{"letter": "A"}'),
            ("numbers", "[1, 2]"),
            ("text_percent", '[{"letter": "A", "min_percent": "abc"}]'),
            ("huge_percent", f'[{{"letter": "A", "min_percent": {HUGE}}}]'),
            ("no_row_from_0", '[{"letter": "A", "min_percent": 90}]'),
            ("a_string", '"A"'),
        ],
        blank=False,
    ),
    *cases("details", [("control_character", "Line\x00break")], blank=False),
]


@pytest.mark.parametrize(("field", "value"), COURSE_FIELDS)
def test_the_course_page_refuses_a_bad_setting_and_saves_nothing(field, value, teacher, course, client_as):
    before = _course_row(course)

    response = submit(client_as(teacher), course_url(course), "course_form", {field: value})

    assert_refused(
        response, value, kept=field in ("name", "details") or (field == "grading_scheme" and not _is_json(value))
    )
    if field == "grading_scheme" and _is_json(value):  # shown again as JSON, a row a line
        assert json.loads(read_form(response, "course_form").fields["grading_scheme"]) == json.loads(value)
    assert _course_row(course) == before


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_a_blank_description_and_grading_scheme_are_saved(teacher, course, client_as):
    response = submit(client_as(teacher), course_url(course), "course_form", {"details": "", "grading_scheme": ""})

    assert response.status_code == 302
    assert (_course_row(course)["details"], _course_row(course)["grading_scheme"]) == ("", None)


# The course's page: its categories inline ------------------------------------------------------------


def _categories(course):
    return list(GradeCategory.objects.filter(course=course).values().order_by("id"))


CATEGORY_FIELDS = [
    *cases("name", NAMES),
    *cases("weight", DECIMALS),
    *cases("drop_lowest", COUNTS),
    *cases("drop_highest", COUNTS),
    *cases("position", COUNTS, [("past_the_maximum", "1000001")], blank=False),
]


@pytest.mark.parametrize(("field", "value"), CATEGORY_FIELDS)
def test_the_course_page_refuses_a_bad_category_field_and_saves_nothing(field, value, teacher, course, client_as):
    before = _categories(course)

    response = submit(client_as(teacher), course_url(course), "course_form", {f"grade_categories-0-{field}": value})

    assert_refused(response, value, kept=field == "name")
    assert _categories(course) == before


@pytest.mark.parametrize(("field", "value"), CATEGORY_FIELDS)
def test_the_course_page_refuses_a_new_category_with_a_bad_field(field, value, teacher, course, client_as):
    before = _categories(course)
    new = {
        "grade_categories-1-name": "Quizzes",
        "grade_categories-1-weight": "30",
        f"grade_categories-1-{field}": value,
    }

    response = submit(client_as(teacher), course_url(course), "course_form", new)

    assert_refused(response, value, kept=field == "name")
    assert _categories(course) == before


def test_a_new_category_without_a_position_goes_after_the_others(teacher, course, client_as):
    new = {"grade_categories-1-name": "Quizzes", "grade_categories-1-weight": "30", "grade_categories-1-position": ""}

    response = submit(client_as(teacher), course_url(course), "course_form", new)

    assert response.status_code == 302
    assert [c["name"] for c in _categories(course)] == ["Tests", "Quizzes"]


# A test's own fields, on its add and change pages ----------------------------------------------------


def _tests():
    return list(Test.objects.values().order_by("id"))


TEST_FIELDS = [
    *cases("name", NAMES),
    *cases("date", DATES),
    *cases("max_score", SCORES, [("zero", "0")]),
    *cases("category", IDS, blank=False),
]


@pytest.mark.parametrize(("field", "value"), [*TEST_FIELDS, *cases("course", IDS)])
def test_the_test_add_page_refuses_a_bad_field_and_adds_nothing(field, value, teacher, course, client_as):
    url = reverse("admin:grading_test_add")
    valid = {"course": str(course.pk), "name": "Quiz", "date": "2026-05-01", "max_score": "20"}

    response = submit(client_as(teacher), url, "test_form", {**valid, field: value})

    assert_refused(response, value, kept=field in ("name", "date", "max_score"))
    assert _tests() == []


def test_the_test_add_page_adds_a_valid_test(teacher, course, client_as):
    fields = {"course": str(course.pk), "name": "Quiz", "date": "2026-05-01", "max_score": "20.5", "category": ""}

    response = submit(client_as(teacher), reverse("admin:grading_test_add"), "test_form", fields)

    assert response.status_code == 302
    assert Test.objects.values_list("name", "max_score").get() == ("Quiz", Decimal("20.5"))


def test_the_test_add_page_refuses_another_courses_category(teacher, course, other_course, client_as):
    theirs = GradeCategory.objects.get(course=other_course)
    url = reverse("admin:grading_test_add")
    fields = {"course": str(course.pk), "name": "Quiz", "date": "2026-05-01", "max_score": "20"}

    response = submit(client_as(teacher), url, "test_form", {**fields, "category": str(theirs.pk)})

    assert_refused(response, str(theirs.pk), kept=False)
    assert _tests() == []


@pytest.mark.parametrize(("field", "value"), TEST_FIELDS)
def test_the_test_page_refuses_a_bad_field_of_the_test_and_changes_nothing(field, value, teacher, test_, client_as):
    before = _tests()

    response = submit(
        client_as(teacher), reverse("admin:grading_test_change", args=[test_.pk]), "test_form", {field: value}
    )

    assert_refused(response, value, kept=field in ("name", "date", "max_score"))
    assert _tests() == before


def test_the_test_page_refuses_a_max_score_below_a_recorded_score(teacher, student, test_, client_as):
    services.result_record(test=test_, student=student, score=Decimal("80"), by=teacher)
    url = reverse("admin:grading_test_change", args=[test_.pk])

    response = submit(client_as(teacher), url, "test_form", {"max_score": "50"})

    assert_refused(response, "50")
    assert "A score of 80.00 is already recorded" in response.content.decode()
    test_.refresh_from_db()
    assert test_.max_score == Decimal("100")


# A result's page ---------------------------------------------------------------------------------


@pytest.fixture
def excused_result(teacher, student, test_):
    return services.result_record(test=test_, student=student, score=None, excused=True, by=teacher)


def test_unticking_excused_without_a_score_shows_the_error_instead_of_a_500(teacher, excused_result, client_as):
    url = reverse("admin:grading_testresult_change", args=[excused_result.pk])

    response = submit(client_as(teacher), url, "testresult_form", {"excused": None, "score": ""})

    page = response.content.decode()
    assert response.status_code == 200, page[:3000]
    assert NO_SCORE in page
    excused_result.refresh_from_db()
    assert (excused_result.score, excused_result.excused) == (None, True)
    assert GradeChange.objects.filter(result=excused_result).count() == 1  # only its creation


@pytest.fixture
def scored_result(teacher, student, test_):
    return services.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)


@pytest.mark.parametrize("value", values(SCORES, [("over_max", "100.01")]))
def test_a_results_page_refuses_a_bad_score_and_keeps_it(value, teacher, scored_result, client_as):
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])

    response = submit(client_as(teacher), url, "testresult_form", {"score": value})

    assert_refused(response, value)
    scored_result.refresh_from_db()
    assert scored_result.score == Decimal("50")


def test_a_results_page_refuses_a_score_and_excused_together(teacher, scored_result, client_as):
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])

    response = submit(client_as(teacher), url, "testresult_form", {"score": "40", "excused": "on"})

    assert_refused(response, "40")
    assert TestResult.objects.get().score == Decimal("50")


def test_a_results_page_saves_a_valid_score(teacher, scored_result, client_as):
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])

    response = submit(client_as(teacher), url, "testresult_form", {"score": "99.5"})

    assert response.status_code == 302
    scored_result.refresh_from_db()
    assert scored_result.score == Decimal("99.5")


@pytest.mark.parametrize("typed", ["1e1", "+5", ".5", "5.", "05", "\u0665"])
def test_the_grade_entry_page_takes_scores_as_plain_decimal_digits_only(typed, teacher, student, test_, client_as):
    client = client_as(teacher)
    form = read_grades(client.get(grades_url(test_)))
    form.fields[f"score-{student.pk}"] = typed

    response = client.post(grades_url(test_), form.fields)

    assert response.status_code == 200
    assert "Enter a number." in row_html(response, student)
    assert not TestResult.objects.exists()


# Enrollments (superusers add and change them) -------------------------------------------------------


def _enrollments():
    return list(Enrollment.objects.values().order_by("id"))


ENROLLMENT_FIELDS = [
    *cases("user", IDS),
    *cases("course", IDS),
    *cases("role", CHOICES, [("lower_case", "student")]),
]


@pytest.mark.parametrize(("field", "value"), ENROLLMENT_FIELDS)
def test_the_enrollment_add_page_refuses_a_bad_field_and_enrolls_no_one(
    field, value, admin_user, course, stranger, client_as
):
    before = _enrollments()
    valid = {"user": str(stranger.pk), "course": str(course.pk), "role": Role.STUDENT}

    response = submit(
        client_as(admin_user), reverse("admin:courses_enrollment_add"), "enrollment_form", valid | {field: value}
    )

    assert_refused(response, value, kept=False)
    assert _enrollments() == before


def test_enrolling_someone_enrolled_already_is_refused(admin_user, course, student, client_as):
    before = _enrollments()
    fields = {"user": str(student.pk), "course": str(course.pk), "role": Role.TEACHER}

    response = submit(client_as(admin_user), reverse("admin:courses_enrollment_add"), "enrollment_form", fields)

    assert_refused(response, "", kept=False)
    assert _enrollments() == before


@pytest.mark.parametrize(("field", "value"), cases("role", CHOICES, [("lower_case", "student")]))
def test_the_enrollment_page_refuses_a_bad_role_and_changes_nothing(field, value, admin_user, course, client_as):
    enrollment = Enrollment.objects.get(role=Role.STUDENT)
    before = _enrollments()
    url = reverse("admin:courses_enrollment_change", args=[enrollment.pk])

    response = submit(client_as(admin_user), url, "enrollment_form", {field: value})

    assert_refused(response, value, kept=False)
    assert _enrollments() == before


# A test's submission settings, on its add and change pages -------------------------------------------

TIMES = [("text", "soon"), ("impossible", "25:00"), ("seconds_past_60", "10:00:61")]
# Each setting's case, with what the rest of its field needs to be valid (a time's other half).
SETTING_FIELDS = [
    *cases("submission_type", CHOICES),
    *cases("allowed_attempts", COUNTS, [("zero", "0"), ("past_the_maximum", "1000001")], blank=False),
    *cases("due_at_0", DATES),
    *cases("due_at_1", TIMES),
    *cases("unlock_at_0", DATES),
]
HALVES = {
    "due_at_0": {"due_at_1": "17:00"},
    "due_at_1": {"due_at_0": "2026-12-01"},
    "unlock_at_0": {"unlock_at_1": "9:00"},
}
KEPT = ("allowed_attempts", "due_at_0", "due_at_1", "unlock_at_0")


@pytest.mark.parametrize(("field", "value"), SETTING_FIELDS)
def test_the_test_page_refuses_a_bad_submission_setting_and_changes_nothing(field, value, teacher, test_, client_as):
    before = _tests()
    changes = {**HALVES.get(field, {}), field: value}

    response = submit(client_as(teacher), reverse("admin:grading_test_change", args=[test_.pk]), "test_form", changes)

    assert_refused(response, value, kept=field in KEPT)
    assert _tests() == before


@pytest.mark.parametrize(("field", "value"), SETTING_FIELDS)
def test_the_test_add_page_refuses_a_bad_submission_setting_and_adds_nothing(field, value, teacher, course, client_as):
    valid = {"course": str(course.pk), "name": "Quiz", "date": "2026-05-01", "max_score": "20"}

    response = submit(
        client_as(teacher),
        reverse("admin:grading_test_add"),
        "test_form",
        {**valid, **HALVES.get(field, {}), field: value},
    )

    assert_refused(response, value, kept=field in KEPT)
    assert _tests() == []


def test_a_time_that_doesnt_exist_in_the_courses_time_zone_is_refused(teacher, course, test_, client_as):
    Course.objects.filter(pk=course.pk).update(time_zone="Europe/Paris")
    before = _tests()
    gap = {"due_at_0": "2026-03-29", "due_at_1": "02:30"}  # the clocks go from 2:00 to 3:00 that night

    response = submit(client_as(teacher), reverse("admin:grading_test_change", args=[test_.pk]), "test_form", gap)

    assert_refused(response, "02:30")
    assert "couldn\u2019t be interpreted in time zone Europe/Paris" in response.content.decode()
    assert _tests() == before


# A course's late policy ----------------------------------------------------------------------------------

PERCENTS = [*SCORES, ("above_100", "100.01")]
LATE_FIELDS = [
    *cases("late_interval", CHOICES, blank=False),
    *cases("late_deduction_percent", PERCENTS, [("zero", "0")]),
    *cases("late_minimum_percent", PERCENTS),
]


@pytest.mark.parametrize(("field", "value"), LATE_FIELDS)
def test_the_course_page_refuses_a_bad_late_policy_and_saves_nothing(field, value, teacher, course, client_as):
    before = _course_row(course), Course.objects.get(pk=course.pk).late_policy
    valid = {"late_interval": "day", "late_deduction_percent": "10", "late_minimum_percent": "50"}

    response = submit(client_as(teacher), course_url(course), "course_form", {**valid, field: value})

    assert_refused(response, value, kept=field != "late_interval")
    assert (_course_row(course), Course.objects.get(pk=course.pk).late_policy) == before


def test_a_valid_late_policy_is_saved(teacher, course, client_as):
    valid = {"late_interval": "hour", "late_deduction_percent": "12.5", "late_minimum_percent": "0"}

    response = submit(client_as(teacher), course_url(course), "course_form", valid)

    assert response.status_code == 302
    assert Course.objects.get(pk=course.pk).late_policy == {
        "deduction_percent": 12.5,
        "interval": "hour",
        "minimum_percent": 0,
    }


# The grading page of a student's work ----------------------------------------------------------------


def grading_url(test, student):
    return reverse("admin:grading_test_grade_student", args=[test.pk, student.pk])


# A blank score (spaces too) is no score: nothing to record.
GRADING_FIELDS = [
    *[
        case
        for case in cases("score", SCORES, [("over_max", "100.01"), ("too_long", "1" * 51)], blank=False)
        if case.values[1].strip()
    ],
    *cases("comment", [("too_long", "x" * 10_001), ("nul", "Hi\x00there")], blank=False),
]


@pytest.mark.parametrize(("field", "value"), GRADING_FIELDS)
def test_the_grading_page_refuses_a_bad_field_and_saves_nothing(field, value, teacher, student, test_, client_as):
    Test.objects.filter(pk=test_.pk).update(submission_type="online")
    changes = {"score": "50", "comment": "Fine.", field: value}

    response = submit(client_as(teacher), grading_url(test_, student), "grade-form", changes)

    assert_refused(response, value, kept=field == "score" and value != "1" * 51)
    assert not TestResult.objects.exists()
    assert not GradeChange.objects.exists()
