"""Input is taken as the schema types it: JSON numbers, booleans and integers, not look-alikes."""

from decimal import Decimal

import pytest

from courses.models import Enrollment
from grading.models import Test, TestResult


@pytest.mark.parametrize("value", [0, 1, "true", "false", None])
def test_results_published_must_be_a_json_boolean(client_for, teacher, test_, value):
    response = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"results_published": value}, format="json")
    assert response.status_code == 400
    assert "results_published" in response.json()
    assert Test.objects.get(pk=test_.pk).results_published is True


@pytest.mark.parametrize("value", ["50", True, None, [50]])
def test_a_score_must_be_a_json_number(client_for, teacher, student, test_, value):
    response = client_for(teacher).post(
        f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": value}, format="json"
    )
    assert response.status_code == 400
    assert "score" in response.json()
    assert not TestResult.objects.exists()


@pytest.mark.parametrize("value", [str(1), 1.0, True])
def test_a_student_id_must_be_a_json_integer(client_for, teacher, student, test_, value):
    value = str(student.pk) if value == "1" else value
    body = {"student": value, "score": 5}
    response = client_for(teacher).post(f"/api/tests/{test_.pk}/results/", body, format="json")
    assert response.status_code == 400
    assert "student" in response.json()


@pytest.mark.parametrize("value", ["true", 1, None])
def test_is_admin_must_be_a_json_boolean(client_for, admin_user, value):
    body = {"email": "new@example.com", "is_admin": value}
    response = client_for(admin_user).post("/api/users/", body, format="json")
    assert response.status_code == 400
    assert "is_admin" in response.json()


@pytest.mark.parametrize("course_id", [2**63, 10**30, 0, -5])
def test_an_out_of_range_course_id_in_a_body_is_a_400_not_a_database_error(client_for, stranger, course_id):
    response = client_for(stranger).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course_id, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 400
    assert "course" in response.json()
    assert not Enrollment.objects.filter(user=stranger).exists()


@pytest.mark.parametrize("flag", ["null", "maybe", ""])
def test_force_must_be_true_or_false(client_for, teacher, test_, flag):
    response = client_for(teacher).delete(f"/api/tests/{test_.pk}/?force={flag}")
    assert response.status_code == 400
    assert "force" in response.json()
    assert Test.objects.filter(pk=test_.pk).exists()


def test_force_false_keeps_a_graded_test(client_for, teacher, student, test_):
    TestResult.objects.create(test=test_, student=student, score=Decimal("1"))
    response = client_for(teacher).delete(f"/api/tests/{test_.pk}/?force=false")
    assert response.status_code == 409
    assert Test.objects.filter(pk=test_.pk).exists()


@pytest.mark.parametrize(
    ("score", "message"),
    [
        (0.3333333333333333, "Ensure that there are no more than 2 decimal places."),
        (12.345, "Ensure that there are no more than 2 decimal places."),
        (123456, "Ensure that there are no more than 5 digits before the decimal point."),
        (1e300, "Ensure that there are no more than 5 digits before the decimal point."),
    ],
)
def test_a_score_names_the_precision_rule_it_breaks(client_for, teacher, student, test_, score, message):
    body = {"student": student.pk, "score": score}
    response = client_for(teacher).post(f"/api/tests/{test_.pk}/results/", body, format="json")
    assert response.status_code == 400
    assert response.json() == {"score": [message]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/auth/login/", {"email": "a@example.com", "remember_me": True}),
        ("/api/auth/authenticate/", {"email": "a@example.com", "code": "12345678", "extra": 1}),
        ("/api/auth/refresh/", {"refresh": "a.b.c", "access": "a.b.c"}),
    ],
)
def test_auth_bodies_refuse_unknown_fields(db, client, path, body):
    response = client.post(path, body, content_type="application/json")
    assert response.status_code == 400
    assert any(message == ["Unknown field."] for message in response.json().values())


def test_a_bulk_body_that_is_not_utf8_is_a_400_with_a_detail(client_for, teacher, test_):
    response = client_for(teacher).generic(
        "PUT", f"/api/tests/{test_.pk}/results/", b"\xc8\x80\xff", content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()
