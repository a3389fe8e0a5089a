"""OPTIONS answers every route without touching its objects; the schema says what bodies accept."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.mark.parametrize("path", ["/api/users/0/", "/api/users/99999999999999999999/", "/api/courses/"])
def test_options_describes_the_endpoint_without_looking_up_the_object(client_for, stranger, path):
    response = client_for(stranger).options(path)
    assert response.status_code == 200
    body = response.json()
    assert body["parses"] == ["application/json"]
    assert "actions" not in body


def test_options_on_an_existing_user_reveals_no_fields(client_for, stranger, student):
    response = client_for(stranger).options(f"/api/users/{student.pk}/")
    assert response.status_code == 200
    assert student.email not in response.content.decode()


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_request_bodies_declare_that_unknown_fields_are_refused(schema):
    requests = {name: s for name, s in schema["components"]["schemas"].items() if name.endswith("Request")}
    assert requests
    assert all(s.get("additionalProperties") is False for s in requests.values() if s.get("type") == "object")


def test_lists_document_400_for_bad_filters_and_404_for_a_page_past_the_end(schema):
    operation = schema["paths"]["/api/courses/"]["get"]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])


def test_free_text_request_fields_declare_that_nul_is_refused(schema):
    name = schema["components"]["schemas"]["CourseInputRequest"]["properties"]["name"]
    assert name["pattern"] == "^[^\\u0000]*$"


def test_a_name_with_a_nul_character_is_a_400(client_for, teacher):
    response = client_for(teacher).post("/api/courses/", {"name": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
