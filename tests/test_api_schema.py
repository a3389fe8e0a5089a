"""The OpenAPI schema: served, valid, and describing every route of the URLconf as it behaves."""

import json

import pytest
from django.core.management import call_command
from openapi_spec_validator import validate

from tests.api_routes import api_routes

pytestmark = pytest.mark.django_db

JSON_ONLY_EXCEPTIONS = {"/api/courses/{id}/gradebook/import/"}  # a CSV upload


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


def test_schema_is_served_to_anyone_and_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_generation_has_no_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").stat().st_size > 0


def test_every_route_of_the_urlconf_is_in_the_schema_with_every_method(schema):
    routes = api_routes()
    assert len(routes) >= 24
    missing = []
    for path, name, methods in routes:
        operations = schema["paths"].get(path)
        if operations is None:
            missing.append(f"{name}: {path}")
            continue
        missing += [f"{name}: {m} {path}" for m in methods if m.lower() not in operations]
    assert missing == []


# Routes the contract lists that aren't API resources: the schema describes them too.
SERVICE_PATHS = {"/", "/healthz", "/api/schema/", "/api/docs/"}


def test_schema_has_no_path_the_urlconf_lacks(schema):
    assert set(schema["paths"]) == {path for path, _, _ in api_routes()} | SERVICE_PATHS


def test_schema_describes_status_health_schema_and_docs(schema):
    assert {path: set(schema["paths"][path]) for path in SERVICE_PATHS} == {path: {"get"} for path in SERVICE_PATHS}


def test_bearer_security_scheme_is_declared_and_used(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schema["paths"]["/api/profile/"]["get"]["security"] == [{"bearerAuth": []}]
    assert "security" not in schema["paths"]["/api/auth/login/"]["post"] or {} in schema["paths"]["/api/auth/login/"][
        "post"
    ].get("security", [{}])


def test_request_bodies_are_json_only(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body and path not in JSON_ONLY_EXCEPTIONS:
                assert list(body["content"]) == ["application/json"], f"{method.upper()} {path}"


def test_authenticated_operations_document_401_and_object_paths_404(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if operation.get("security") and {} not in operation["security"]:
                assert "401" in operation["responses"], f"{method.upper()} {path}"
            if "{" in path:
                assert "404" in operation["responses"], f"{method.upper()} {path}"


def test_conflicts_are_documented(schema):
    paths = schema["paths"]
    assert "409" in paths["/api/users/"]["post"]["responses"]
    assert "409" in paths["/api/courses/{id}/"]["delete"]["responses"]
    assert "409" in paths["/api/courses/{id}/members/"]["post"]["responses"]
    assert "409" in paths["/api/users/{id}/courses/"]["post"]["responses"]
    assert "409" in paths["/api/users/{id}/courses/{course_id}/"]["delete"]["responses"]


def test_any_signed_in_user_reads_a_course_so_no_403_is_documented_for_it(schema):
    operations = schema["paths"]["/api/courses/{id}/"]
    assert "403" not in operations["get"]["responses"]
    assert "403" in operations["patch"]["responses"]


def test_lists_are_paginated_in_the_schema(schema):
    for path in ["/api/users/", "/api/courses/", "/api/courses/{id}/members/", "/api/users/{id}/test-results/"]:
        operation = schema["paths"][path]["get"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"count", "next", "previous", "results"}
        names = {p["name"] for p in operation["parameters"]}
        assert {"page", "page_size", "ordering"} <= names


def test_resources_have_the_contracts_fields(schema):
    components = schema["components"]["schemas"]

    def fields(name):
        return set(components[name]["properties"])

    assert fields("User") == {
        "id",
        "email",
        "first_name",
        "last_name",
        "social",
        "is_admin",
        "notify_by_email",
        "version",
    }
    assert fields("Social") == {"facebook", "twitter", "github", "website"}
    assert fields("Course") == {
        "id",
        "name",
        "details",
        "teachers",
        "tests",
        "my_role",
        "weighting",
        "grading_scheme",
        "time_zone",
        "late_policy",
        "version",
    }
    assert fields("UserSummary") == {"id", "email", "first_name", "last_name"}
    assert fields("Enrollment") == {"user", "course", "role", "created_at"}
    assert fields("Feedback") == {"id", "course", "student", "feedback", "created_at"}
    assert fields("CourseTest") == {
        "id",
        "course",
        "name",
        "date",
        "max_score",
        "results_published",
        "category",
        "never_drop",
        "submission_type",
        "unlock_at",
        "due_at",
        "lock_at",
        "allowed_attempts",
        "max_files",
        "allowed_extensions",
        "updated_at",
        "version",
        "results_version",
    }


def test_a_courses_tests_are_described_as_a_test_is_only_read(schema):
    components = schema["components"]["schemas"]
    embedded, test = components["CourseTest"], components["Test"]["properties"]

    def kind(prop):
        return {key: prop.get(key) for key in ("type", "format", "nullable", "items", "$ref")}

    assert list(embedded["properties"]) == list(test)
    assert {key: kind(prop) for key, prop in embedded["properties"].items()} == {
        key: kind(prop) for key, prop in test.items()
    }
    assert all(prop["readOnly"] for prop in embedded["properties"].values())
    assert sorted(embedded["required"]) == sorted(test)


def test_swagger_ui_is_served_with_its_own_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert "cdn." not in html and "unpkg.com" not in html and "jsdelivr" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def _headers(operation) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}


def test_conditional_and_idempotent_writes_document_their_headers_and_statuses(schema):
    paths = schema["paths"]
    for path in [
        "/api/courses/{id}/",
        "/api/tests/{id}/",
        "/api/test-results/{id}/",
        "/api/categories/{id}/",
        "/api/users/{id}/",
    ]:
        read = paths[path]["get"]
        assert "If-None-Match" in _headers(read) and "304" in read["responses"], path
        assert "ETag" in read["responses"]["200"]["headers"], path
        for method in ("put", "patch", "delete"):
            write = paths[path][method]
            assert "If-Match" in _headers(write), (path, method)
            assert {"412", "428"} <= set(write["responses"]), (path, method)
    bulk = paths["/api/tests/{id}/results/"]["put"]
    assert {"If-Match", "Idempotency-Key"} <= _headers(bulk) and "412" in bulk["responses"]
    open_writes = {("/api/auth/login/", "post"), ("/api/auth/authenticate/", "post"), ("/api/auth/refresh/", "post")}
    keyed = set()
    for path, methods in paths.items():
        for method, operation in methods.items():
            if method in ("post", "put", "patch", "delete") and (path, method) not in open_writes:
                keyed.add((path, method))
                assert {"409", "422", "429"} <= set(operation["responses"]), (path, method)
                key = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
                assert key["schema"] == {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"}
            elif method in ("get", "post", "put", "patch", "delete"):
                assert "Idempotency-Key" not in _headers(operation), (path, method)
    # Every write but the open sign-in routes takes a key (gradingsite.api.idempotency).
    routes = {(path, method.lower()) for path, _, methods in api_routes() for method in methods if method != "GET"}
    assert keyed == routes - open_writes
    # Reads and writes that take none of them don't list them.
    assert not _headers(paths["/api/courses/"]["get"])
    assert not _headers(paths["/api/tests/{id}/stats/"]["get"])


# Every operation's operationId: the generated client (.ci/client_flow.py) names its functions after
# them, so a change here breaks every client built from the schema. Sorted by path, then method.
OPERATION_IDS = {
    ("GET", "/"): "status",
    ("POST", "/api/auth/authenticate/"): "auth_authenticate_create",
    ("POST", "/api/auth/login/"): "auth_login_create",
    ("POST", "/api/auth/logout-all/"): "auth_logout_all_create",
    ("POST", "/api/auth/logout/"): "auth_logout_create",
    ("POST", "/api/auth/refresh/"): "auth_refresh_create",
    ("DELETE", "/api/categories/{id}/"): "categories_destroy",
    ("GET", "/api/categories/{id}/"): "categories_retrieve",
    ("PATCH", "/api/categories/{id}/"): "categories_partial_update",
    ("PUT", "/api/categories/{id}/"): "categories_update",
    ("GET", "/api/courses/"): "courses_list",
    ("POST", "/api/courses/"): "courses_create",
    ("DELETE", "/api/courses/{id}/"): "courses_destroy",
    ("GET", "/api/courses/{id}/"): "courses_retrieve",
    ("PATCH", "/api/courses/{id}/"): "courses_partial_update",
    ("PUT", "/api/courses/{id}/"): "courses_update",
    ("GET", "/api/courses/{id}/categories/"): "courses_categories_list",
    ("POST", "/api/courses/{id}/categories/"): "courses_categories_create",
    ("GET", "/api/courses/{id}/feedback/"): "courses_feedback_list",
    ("POST", "/api/courses/{id}/feedback/"): "courses_feedback_create",
    ("GET", "/api/courses/{id}/gradebook.csv"): "courses_gradebook_csv",
    ("GET", "/api/courses/{id}/gradebook/"): "courses_gradebook",
    ("POST", "/api/courses/{id}/gradebook/import/"): "courses_gradebook_import",
    ("GET", "/api/courses/{id}/grades/"): "courses_grades_list",
    ("GET", "/api/courses/{id}/members/"): "courses_members_list",
    ("POST", "/api/courses/{id}/members/"): "courses_members_create",
    ("GET", "/api/courses/{id}/tests/"): "courses_tests_list",
    ("POST", "/api/courses/{id}/tests/"): "courses_tests_create",
    ("GET", "/api/docs/"): "docs",
    ("GET", "/api/profile/"): "profile_retrieve",
    ("GET", "/api/schema/"): "schema_retrieve",
    ("DELETE", "/api/test-results/{id}/"): "test_results_destroy",
    ("GET", "/api/test-results/{id}/"): "test_results_retrieve",
    ("PATCH", "/api/test-results/{id}/"): "test_results_partial_update",
    ("PUT", "/api/test-results/{id}/"): "test_results_update",
    ("GET", "/api/test-results/{id}/history/"): "test_results_history",
    ("DELETE", "/api/tests/{id}/"): "tests_destroy",
    ("GET", "/api/tests/{id}/"): "tests_retrieve",
    ("PATCH", "/api/tests/{id}/"): "tests_partial_update",
    ("PUT", "/api/tests/{id}/"): "tests_update",
    ("GET", "/api/tests/{id}/notices/"): "tests_notices",
    ("GET", "/api/tests/{id}/results/"): "tests_results_list",
    ("POST", "/api/tests/{id}/results/"): "tests_results_create",
    ("PUT", "/api/tests/{id}/results/"): "tests_results_update",
    ("GET", "/api/tests/{id}/stats/"): "tests_stats",
    ("GET", "/api/users/"): "users_list",
    ("POST", "/api/users/"): "users_create",
    ("DELETE", "/api/users/{id}/"): "users_destroy",
    ("GET", "/api/users/{id}/"): "users_retrieve",
    ("PATCH", "/api/users/{id}/"): "users_partial_update",
    ("PUT", "/api/users/{id}/"): "users_update",
    ("GET", "/api/users/{id}/courses/"): "users_courses_list",
    ("POST", "/api/users/{id}/courses/"): "users_courses_create",
    ("DELETE", "/api/users/{id}/courses/{course_id}/"): "users_courses_destroy",
    ("GET", "/api/users/{id}/test-results/"): "users_test_results_list",
    ("GET", "/healthz"): "healthz",
    ("GET", "/api/submissions/{id}/"): "submissions_retrieve",
    ("GET", "/api/tests/{id}/extensions/"): "tests_extensions_list",
    ("PUT", "/api/tests/{id}/extensions/{student_id}/"): "tests_extensions_update",
    ("DELETE", "/api/tests/{id}/extensions/{student_id}/"): "tests_extensions_destroy",
    ("GET", "/api/tests/{id}/students/{student_id}/comments/"): "tests_students_comments_list",
    ("POST", "/api/tests/{id}/students/{student_id}/comments/"): "tests_students_comments_create",
    ("GET", "/api/tests/{id}/submissions/"): "tests_submissions_list",
    ("POST", "/api/tests/{id}/submissions/"): "tests_submissions_create",
    ("POST", "/api/tests/{id}/uploads/"): "tests_uploads_create",
    ("GET", "/api/files/{id}/"): "files_retrieve",
    ("GET", "/api/tests/{id}/submissions.zip"): "tests_submissions_zip",
}


def test_every_operation_keeps_its_operation_id(schema):
    served = {
        (method.upper(), path): operation["operationId"]
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
    }
    assert served == OPERATION_IDS
