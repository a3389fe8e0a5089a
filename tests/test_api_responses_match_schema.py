"""Every successful answer has exactly the keys and types the OpenAPI schema declares for it.

Each operation of the served schema is called, as a caller it succeeds for, on the authorization
matrix's world with more real data in it (an excused result, a grader, a published test with its
notice, a user's social profiles), and its body is checked against the schema of its status and
content type: every declared key present (a successful body always has them all, whether or not the
schema lists them as required), no other key, each value of its declared type (``null`` only where
the schema says ``nullable``), through nested objects and arrays. A representation that
gains or loses a key, or changes a type, fails here until the schema says so too.
"""

import json
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import yaml
from django.utils import timezone

from accounts.codes import issue_code
from accounts.tokens import issue_tokens
from courses.models import Enrollment, Role
from grading import services as grading
from grading import submissions
from grading.models import Comment, Extension, Test, TestResult
from tests import test_authorization_matrix as matrix
from tests.api_routes import api_routes

pytestmark = pytest.mark.django_db

MATRIX, _call = matrix.MATRIX, matrix._call
world = matrix.world  # the matrix's fixture, which full_world adds to

# What the matrix expects to be refused, or has no success to show, called here so that it succeeds.
SUCCESSES = {
    ("auth-authenticate", "POST"): (
        "/api/auth/authenticate/",
        lambda w, user: {"email": w["student"].email, "code": issue_code(w["student"])},
        "anonymous",
    ),
    ("auth-refresh", "POST"): (
        "/api/auth/refresh/",
        lambda w, user: {"refresh": issue_tokens(w["student"])["refresh"]},
        "anonymous",
    ),
    ("course-detail", "DELETE"): ("/api/courses/{course}/?force=true", None, "teacher"),
    ("test-detail", "DELETE"): ("/api/tests/{test}/?force=true", None, "teacher"),
    ("category-detail", "DELETE"): ("/api/categories/{spare_category}/", None, "teacher"),
}
# The routes no router makes, each called as anyone.
SERVICE_ROUTES = {("GET", "/"), ("GET", "/healthz"), ("GET", "/api/schema/"), ("GET", "/api/docs/")}
# Whose call shows the most: the admin sees everything, the course's teacher their course.
PREFERRED_ROLES = ("admin", "teacher", "student", "other_teacher", "stranger", "anonymous")


def _cases():
    routes = {name: path for path, name, _ in api_routes()}
    for (name, method), (path, body, expected) in sorted(MATRIX.items()):
        if (name, method) in SUCCESSES:
            path, body, role = SUCCESSES[(name, method)]
        else:
            role = next(role for role in PREFERRED_ROLES if 200 <= expected[role] < 300)
        yield pytest.param(method, routes[name], path, body, role, id=f"{method} {routes[name]} as {role}")
    for method, path in sorted(SERVICE_ROUTES):
        yield pytest.param(method, path, path, None, "anonymous", id=f"{method} {path}")


CASES = list(_cases())


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return json.loads(response.content)


@pytest.fixture
def full_world(world, teacher, make_user):
    """The matrix's world, with values where it has nulls and nulls where it has values: a result
    with a grader and one excused (no score, no percent), a change in the history, published
    results with their notice, a test without results, social profiles, and a spare grade category."""
    test, course = world["test"], world["course"]
    excused = make_user("excused@example.com")
    Enrollment.objects.create(user=excused, course=course, role=Role.STUDENT)
    grading.result_record(test=test, student=excused, score=None, excused=True, by=teacher, grader=teacher)
    grading.result_update(result=world["result"], score=Decimal("45.5"), by=teacher, grader=teacher)
    grading.test_update(test=test, results_published=True)
    grading.test_create(course=course, name="Final", date=date(2026, 12, 20), max_score=Decimal("50"))
    world["student"].social = {"github": "shakuntala", "website": "https://example.com/devi"}
    world["student"].save(update_fields=["social"])
    spare = grading.category_create(course=course, name="Extra credit", weight=0)
    # A late policy and a late attempt: the student's result keeps less than was entered.
    course.late_policy = {"deduction_percent": 10, "interval": "day", "minimum_percent": 0}
    course.save(update_fields=["late_policy"])
    Test.objects.filter(pk=test.pk).update(due_at=timezone.now() - timedelta(days=1))
    Extension.objects.filter(test=test).update(lock_at=timezone.now() + timedelta(days=1))
    late = submissions.submit(test=Test.objects.get(pk=test.pk), student=world["student"], body="Second draft.")
    assert TestResult.objects.get(pk=world["result"].pk).late_deduction > 0
    Comment.objects.create(test=test, student=world["student"], author=teacher, body="Cite your sources.")
    Comment.objects.create(test=test, student=world["student"], author=None, body="From a deleted account.")
    return {**world, "spare_category": spare, "late_submission": late}


def _fill(path, w):
    return path.format(
        user=w["student"].pk,
        course=w["course"].pk,
        test=w["test"].pk,
        result=w["result"].pk,
        category=w["category"].pk,
        spare_category=w["spare_category"].pk,
        submission=w["submission"].pk,
        file=w["file"].pk,
    )


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}
FORMATS = {
    "date": re.compile(r"^\d{4}-\d{2}-\d{2}$"),
    "date-time": re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
    "uri": re.compile(r"^https?://"),
}


def mismatches(schema, node, value, where="body") -> list[str]:
    """Where ``value`` differs from the OpenAPI 3.0 schema ``node``: keys, types, nullability, enums."""
    node = _resolve(schema, node)
    if value is None and (node.get("nullable") or None in node.get("enum", ())):
        return []
    for combinator in ("allOf", "oneOf", "anyOf"):
        if combinator in node:
            branches = [mismatches(schema, branch, value, where) for branch in node[combinator]]
            if combinator == "allOf":
                return [problem for problems in branches for problem in problems]
            if combinator == "oneOf" and sum(not problems for problems in branches) != 1:
                return [f"{where}: {value!r} matches {sum(not p for p in branches)} of oneOf"] + branches[0]
            if not any(not problems for problems in branches):
                return min(branches, key=len)
            return []
    if value is None:
        return [f"{where}: null, but the schema doesn't say nullable"]
    if "enum" in node and value not in node["enum"]:
        return [f"{where}: {value!r} is not one of {node['enum']}"]
    kind = node.get("type")
    if kind is None:
        return []  # free-form ({}): any value
    if not TYPES[kind](value):
        return [f"{where}: {type(value).__name__} {value!r}, but the schema says {kind}"]
    pattern = FORMATS.get(node.get("format"))
    if kind == "string" and pattern and not pattern.match(value):
        return [f"{where}: {value!r} is not a {node['format']}"]
    if kind == "array":
        return [p for i, item in enumerate(value) for p in mismatches(schema, node["items"], item, f"{where}[{i}]")]
    if kind != "object":
        return []
    properties = node.get("properties", {})
    extra = node.get("additionalProperties", not properties)
    problems = [f"{where}: no {key!r}, which the schema declares" for key in properties if key not in value]
    for key, item in value.items():
        if key in properties:
            problems += mismatches(schema, properties[key], item, f"{where}.{key}")
        elif extra is False:
            problems.append(f"{where}: {key!r}, which the schema doesn't declare")
        elif isinstance(extra, dict):
            problems += mismatches(schema, extra, item, f"{where}.{key}")
    return problems


@pytest.mark.parametrize(("method", "schema_path", "path", "body", "role"), CASES)
def test_a_successful_answer_has_the_keys_and_types_its_schema_declares(
    schema, client_for, full_world, method, schema_path, path, body, role
):
    user = full_world["users"][role]
    response = _call(client_for(user), method, _fill(path, full_world), body, full_world, user)
    assert 200 <= response.status_code < 300, f"{response.status_code} {response.content[:300]!r}"

    documented = schema["paths"][schema_path][method.lower()]["responses"]
    assert str(response.status_code) in documented, f"status {response.status_code} isn't in the schema"
    content = documented[str(response.status_code)].get("content", {})
    if not response.get("Content-Type"):
        assert not content, "the schema declares a body; the answer has none"
        return
    media_type = response["Content-Type"].split(";")[0]
    if media_type not in content and "*/*" in content:
        media_type = "*/*"  # a file, of whatever type it has
    assert media_type in content, f"{media_type} isn't among the schema's {sorted(content)}"
    declared = content[media_type]["schema"]
    if media_type in ("text/csv", "text/html", "*/*", "application/zip"):
        assert _resolve(schema, declared)["type"] == "string"
        return
    answer = yaml.safe_load(response.content) if media_type.endswith("openapi") else json.loads(response.content)
    if isinstance(answer, dict) and "results" in answer and schema_path.startswith("/api/"):
        assert answer["results"], "an empty page shows nothing of its items' keys"
    assert mismatches(schema, declared, answer) == []


def test_every_operation_of_the_schema_is_called(schema):
    called = {(case.values[0], case.values[1]) for case in CASES}
    operations = {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}
    assert called == operations


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"id": 1, "name": "x", "extra": 2}, "body: 'extra', which the schema doesn't declare"),
        ({"id": 1}, "body: no 'name', which the schema declares"),
        ({"id": "1", "name": "x"}, "body.id: str '1', but the schema says integer"),
        ({"id": 1.0, "name": "x"}, "body.id: float 1.0, but the schema says integer"),
        ({"id": 1, "name": None}, "body.name: null, but the schema doesn't say nullable"),
        ({"id": 1, "name": "x", "tags": [{"id": True}]}, "body.tags[0].id: bool True, but the schema says integer"),
    ],
)
def test_the_check_finds_a_gained_or_lost_key_and_a_changed_type(value, problem):
    schema = {"components": {"schemas": {"Tag": {"type": "object", "properties": {"id": {"type": "integer"}}}}}}
    declared = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}, "nullable": True},
        },
    }
    assert problem in mismatches(schema, declared, {"tags": None, **value})
