"""Every form of the grading admin answers a blank or an invalid field with the form again: the error
shown, what was typed kept, nothing saved. Never a 5xx; a valid form saves and redirects.

Forms are read from their page and posted back as a browser would, one field changed at a time.
"""

from decimal import Decimal
from html import escape

import pytest
from django.urls import reverse

from grading import services
from grading.admin import NO_SCORE
from grading.models import GradeChange
from tests.test_admin_course_grades import read_form

# Values a field of each kind is sent that it must refuse (or take), each with a name for the test's id.
HUGE = "1" + "0" * 40
NUMBER_INPUTS = {
    "text": "abc",
    "huge": HUGE,
    "negative": "-5",
    "exponent": "1e3",
    "nan": "NaN",
    "too_many_decimals": "1.234567",
}


def _post(client, url, fields):
    response = client.post(url, fields)
    assert response.status_code < 500, response.content.decode()[:3000]
    return response


def _assert_refused_and_kept(response, field, value):
    """A 200 that shows the form again with an error, and ``value`` back in the field (unless blank)."""
    page = response.content.decode()
    assert response.status_code == 200, page[:3000]
    assert 'class="errornote"' in page or "errorlist" in page, f"no error shown for {field}={value!r}"
    if value.strip():
        assert escape(value, quote=True) in page or value in page, f"{field}={value!r} not kept"


# The result's own page ---------------------------------------------------------------------------


@pytest.fixture
def excused_result(teacher, student, test_):
    return services.result_record(test=test_, student=student, score=None, excused=True, by=teacher)


def test_unticking_excused_without_a_score_shows_the_error_instead_of_a_500(teacher, excused_result, client_as):
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[excused_result.pk])
    form = read_form(client.get(url), "testresult_form")
    assert form.fields["excused"] == "on"
    del form.fields["excused"]  # unticked: a browser sends nothing
    form.fields["score"] = ""

    response = client.post(url, form.fields)

    page = response.content.decode()
    assert response.status_code == 200, page[:3000]
    assert NO_SCORE in page
    excused_result.refresh_from_db()
    assert (excused_result.score, excused_result.excused) == (None, True)
    assert GradeChange.objects.filter(result=excused_result).count() == 1  # only its creation


@pytest.fixture
def scored_result(teacher, student, test_):
    return services.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)


@pytest.mark.parametrize(("case", "value"), [("blank", ""), *NUMBER_INPUTS.items(), ("over_max", "100.01")])
def test_a_results_page_refuses_a_bad_score_and_keeps_it(case, value, teacher, scored_result, client_as):
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])
    form = read_form(client.get(url), "testresult_form")

    response = _post(client, url, {**form.fields, "score": value})

    _assert_refused_and_kept(response, "score", value)
    scored_result.refresh_from_db()
    assert scored_result.score == Decimal("50")


def test_a_results_page_refuses_a_score_and_excused_together(teacher, scored_result, client_as):
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])
    form = read_form(client.get(url), "testresult_form")

    response = _post(client, url, {**form.fields, "score": "40", "excused": "on"})

    _assert_refused_and_kept(response, "score", "40")


def test_a_results_page_saves_a_valid_score(teacher, scored_result, client_as):
    client = client_as(teacher)
    url = reverse("admin:grading_testresult_change", args=[scored_result.pk])
    form = read_form(client.get(url), "testresult_form")

    response = _post(client, url, {**form.fields, "score": "99.5"})

    assert response.status_code == 302
    scored_result.refresh_from_db()
    assert scored_result.score == Decimal("99.5")
