"""Outside the API too, a client gets JSON: the status routes, the schema and docs, unknown paths."""

import pytest
from django.test import Client


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/schema/", "/api/docs/", "/api/schema", "/api/docs"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_a_write_method_on_a_read_only_route_is_a_json_405(db, path, method):
    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_head_answers_where_get_does(client, db, path):
    assert client.head(path).status_code == 200


@pytest.mark.parametrize("path", ["/nope", "/healthz/", "/static/nothing.css"])
def test_an_unknown_path_outside_the_admin_is_a_json_404(client, db, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_the_admin_keeps_its_html_404(admin_client):
    response = admin_client.get("/admin/courses/course/999999/change/", follow=True)
    assert response["Content-Type"].startswith("text/html")


def test_options_on_the_csv_gradebook_is_json(client_for, teacher, course):
    response = client_for(teacher).options(f"/api/courses/{course.pk}/gradebook.csv")
    assert response.status_code == 200
    assert response.json()["renders"] == ["text/csv"]


@pytest.mark.parametrize("path", ["/", "/healthz"])
def test_status_routes_answer_json_whatever_the_accept_header(client, db, path):
    response = client.get(path, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response.json()["up"] is True


def test_a_bad_token_does_not_stop_the_health_check(client, db):
    response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == 200
