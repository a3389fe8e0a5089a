"""Errors under /api/: always JSON, the right status, never a 500 for anything a client can send."""

import pytest
from django.test import RequestFactory, override_settings

from courses.models import Course
from gradingsite.api import exceptions

pytestmark = pytest.mark.django_db


def assert_json_detail(response, status):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_unknown_api_path_is_a_json_404_for_every_method(client_for, stranger, method):
    response = getattr(client_for(stranger), method)("/api/no-such-thing/here/")
    assert_json_detail(response, 404)


def test_unknown_api_path_is_404_even_for_anonymous(client):
    assert_json_detail(client.get("/api/nope"), 404)


def test_api_root_is_a_json_404(client):
    assert_json_detail(client.get("/api/"), 404)
    assert_json_detail(client.get("/api"), 404)


def test_a_method_the_route_does_not_take_is_a_json_405(client_for, stranger, course):
    assert_json_detail(client_for(stranger).post(f"/api/courses/{course.pk}/", {}, format="json"), 405)
    assert_json_detail(client_for(stranger).delete("/api/courses/"), 405)


def test_malformed_json_is_400(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", '{"name": "x",', content_type="application/json")
    assert_json_detail(response, 400)
    assert not Course.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        '{"name": NaN}',
        '{"name": Infinity}',
        "[" * 100_000 + "]" * 100_000,
        '"just a string"',
        "[1, 2]",
        "null",
    ],
)
def test_json_that_is_not_an_object_or_not_json_is_400(client_for, stranger, body):
    response = client_for(stranger).post("/api/courses/", body, content_type="application/json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")


def test_invalid_utf8_is_400(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", b'{"name": "\xff\xfe"}', content_type="application/json")
    assert_json_detail(response, 400)


def test_an_unknown_charset_is_never_a_server_error(client_for, stranger):
    response = client_for(stranger).post(
        "/api/courses/", b'{"name": "x"}', content_type="application/json; charset=klingon"
    )
    assert response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


def test_form_data_is_415(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", {"name": "x"})  # multipart
    assert_json_detail(response, 415)
    response = client_for(stranger).post("/api/courses/", "name=x", content_type="application/x-www-form-urlencoded")
    assert_json_detail(response, 415)
    assert not Course.objects.exists()


def test_text_body_is_415(client_for, stranger):
    assert_json_detail(client_for(stranger).post("/api/courses/", "x", content_type="text/plain"), 415)


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversized_body_is_413(client_for, stranger):
    body = '{"name": "x", "details": "' + "a" * 2000 + '"}'
    response = client_for(stranger).post("/api/courses/", body, content_type="application/json")
    assert_json_detail(response, 413)
    assert not Course.objects.exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_body_longer_than_its_declared_length_is_still_bounded(client_for, stranger):
    # The parser reads at most the limit whatever Content-Length says.
    body = '{"name": "x", "details": "' + "a" * 2000 + '"}'
    response = client_for(stranger).generic(
        "POST", "/api/courses/", body, content_type="application/json", CONTENT_LENGTH="0"
    )
    assert response.status_code in (400, 413)
    assert not Course.objects.exists()


def test_nul_characters_in_text_are_400_not_a_database_error(client_for, stranger):
    response = client_for(stranger).post("/api/courses/", {"name": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_a_bad_host_header_under_api_is_json(client):
    response = client.get("/api/profile/", HTTP_HOST="evil.example")
    assert_json_detail(response, 400)


@pytest.mark.parametrize(
    "path", ["/api/courses/abc/", "/api/courses/1e3/", "/api/courses/-5/", "/api/courses/18446744073709551616/"]
)
def test_ids_that_are_not_integers_or_out_of_range_are_404(client_for, stranger, path):
    assert_json_detail(client_for(stranger).get(path), 404)
    assert_json_detail(client_for(stranger).patch(path, {"name": "x"}, format="json"), 404)


def test_401_has_a_bearer_challenge(client):
    response = client.get("/api/courses/")
    assert_json_detail(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_non_bearer_authorization_header_is_401(client):
    response = client.get("/api/courses/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")
    assert response.status_code == 401


def test_server_errors_under_api_are_json():
    request = RequestFactory().get("/api/courses/")
    response = exceptions.server_error(request)
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")


def test_server_errors_elsewhere_stay_html():
    request = RequestFactory().get("/admin/")
    response = exceptions.server_error(request)
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_non_field_errors_read_as_detail(client_for, teacher, course):
    response = client_for(teacher).post(f"/api/courses/{course.pk}/members/", {"role": "STUDENT"}, format="json")
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("path", ["/api/courses/", "/api/users/"])
def test_a_search_with_a_nul_character_is_a_field_error_on_search(client_for, admin_user, path):
    response = client_for(admin_user).get(path, {"search": "a\x00b"})

    assert response.status_code == 400
    assert response.json() == {"search": ["Null characters are not allowed."]}
