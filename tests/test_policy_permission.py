"""Every route names its rule from the policy, and one permission class applies it.

The routes are enumerated from the API's routers (as the authorization matrix does), so a new
endpoint that names no rule for a method it serves fails here, before anyone calls it.
"""

import json

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate

from gradingsite.api.permissions import PolicyPermission, Rule, predicate_for
from gradingsite.api.viewsets import ApiViewSet
from gradingsite.urls import API_ROUTERS as ROUTERS
from tests.api_routes import METHODS, api_routes
from tests.test_layers import ROOT, _imported_apps

# Routes that take no rule: signing in is open; signing out needs a token and nothing more.
WITHOUT_RULE = {"auth-login", "auth-authenticate", "auth-refresh", "auth-logout", "auth-logout-all"}


def _route_views():
    """``(url name, view as its route makes it, {method: action})`` for every route of the API."""
    for router in ROUTERS:
        for pattern in router.urls:
            callback = pattern.callback
            view = callback.cls(**callback.initkwargs)
            view.kwargs = {}
            served = {method.upper(): name for method, name in callback.actions.items() if method.upper() in METHODS}
            yield pattern.name, view, served


def _rules():
    for name, view, served in _route_views():
        if name in WITHOUT_RULE:
            continue
        for method, action_name in served.items():
            yield pytest.param(view, method, action_name, id=f"{name}-{method}")


@pytest.mark.parametrize(("view", "method", "action_name"), list(_rules()))
def test_every_route_names_a_policy_rule_for_each_method_it_serves(view, method, action_name):
    assert any(isinstance(p, PolicyPermission) for p in view.get_permissions())
    assert any(isinstance(p, IsAuthenticated) for p in view.get_permissions())
    view.action = action_name
    predicate = predicate_for(view, method)  # ImproperlyConfigured when it names none
    assert callable(predicate)
    if getattr(view, "rule_object", None):
        assert hasattr(type(view), view.rule_object), f"rule_object names no attribute of {type(view).__name__}"


def test_only_the_sign_in_routes_go_without_a_rule():
    without = set()
    for name, view, _ in _route_views():
        if isinstance(view, ApiViewSet):
            assert name not in WITHOUT_RULE
        if not any(isinstance(p, PolicyPermission) for p in view.get_permissions()):
            without.add(name)
    assert without == WITHOUT_RULE


def test_the_routes_without_a_rule_say_who_may_call_them():
    for name, view, served in _route_views():
        if name in WITHOUT_RULE:
            for action_name in served.values():
                view.action = action_name
                classes = {type(p) for p in view.get_permissions()}
                assert classes in ({AllowAny}, {IsAuthenticated}), name


class _NoRule(ApiViewSet):
    """A viewset that forgot its rule."""

    def list(self, request):
        return Response([])


class _ReadOnlyRule(ApiViewSet):
    """A viewset whose rule says nothing about writes, but which takes one."""

    rule = Rule(read=lambda user, obj: True)

    def list(self, request):
        return Response([])

    def create(self, request):
        return Response({}, status=201)

    @action(detail=False, methods=["post"], rule=Rule(write=lambda user, obj: True))
    def covered(self, request):
        return Response({})


def _call(viewset, actions, method, user, **initkwargs):
    request = getattr(APIRequestFactory(), method.lower())("/api/anything/", {}, format="json")
    force_authenticate(request, user=user)
    return viewset.as_view(actions, **initkwargs)(request)


@pytest.mark.django_db
def test_a_route_that_names_no_rule_fails_loudly(student):
    with pytest.raises(ImproperlyConfigured, match=r"_NoRule\.list names no rule"):
        _call(_NoRule, {"get": "list"}, "GET", student)


@pytest.mark.django_db
def test_a_write_the_rule_says_nothing_about_fails_loudly(student):
    assert _call(_ReadOnlyRule, {"get": "list"}, "GET", student).status_code == 200
    with pytest.raises(ImproperlyConfigured, match=r"_ReadOnlyRule\.create names no write rule \(POST\)"):
        _call(_ReadOnlyRule, {"post": "create"}, "POST", student)
    # An action's own rule replaces the viewset's.
    covered = _call(_ReadOnlyRule, {"post": "covered"}, "POST", student, **_ReadOnlyRule.covered.kwargs)
    assert covered.status_code == 200


@pytest.mark.django_db
def test_a_rule_that_says_no_is_a_403_with_its_message(student):
    class Refusing(ApiViewSet):
        rule = Rule(read=lambda user, obj: False, message="Not today.")

        def list(self, request):
            return Response([])

    response = _call(Refusing, {"get": "list"}, "GET", student)
    assert response.status_code == 403
    assert response.data == {"detail": "Not today."}


def _paths_naming_an_object():
    for path, name, methods in api_routes():
        if "{" not in path:
            continue
        for method in methods:
            yield pytest.param(path, method, id=f"{name}-{method}")


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "method"), list(_paths_naming_an_object()))
def test_an_unknown_id_is_a_404_before_any_rule_refuses(client_for, stranger, path, method):
    """A stranger, whom every rule about an object refuses, learns first that the object doesn't exist."""
    filled = path.replace("{id}", "999999999").replace("{course_id}", "999999999").replace("{student_id}", "999999999")
    assert "{" not in filled, path
    response = client_for(stranger).generic(method, filled, b"{}", content_type="application/json")
    assert response.status_code == 404, (method, filled, response.content[:200])


def test_the_permission_class_imports_no_app():
    assert _imported_apps(ROOT / "gradingsite" / "api" / "permissions.py") == set()


DEFAULT_REFUSAL = "You do not have permission to perform this action."
NOT_YOURS = "You may only act on your own account."
TEACHERS_ONLY = "Only a teacher of this course or an admin may do this."

# (caller, method, path, body, detail): each rule's refusal says what it said before one class applied them.
REFUSALS = [
    ("student", "GET", "/api/users/", None, DEFAULT_REFUSAL),
    ("stranger", "GET", "/api/users/{student}/", None, NOT_YOURS),
    ("stranger", "PATCH", "/api/users/{student}/", {"first_name": "X"}, NOT_YOURS),
    ("stranger", "GET", "/api/users/{student}/courses/", None, NOT_YOURS),
    ("stranger", "GET", "/api/users/{student}/test-results/", None, NOT_YOURS),
    ("stranger", "DELETE", "/api/users/{student}/courses/{course}/", None, DEFAULT_REFUSAL),
    ("student", "PATCH", "/api/courses/{course}/", {"name": "X"}, DEFAULT_REFUSAL),
    ("student", "GET", "/api/courses/{course}/members/", None, DEFAULT_REFUSAL),
    ("stranger", "GET", "/api/courses/{course}/feedback/", None, DEFAULT_REFUSAL),
    (
        "teacher",
        "POST",
        "/api/courses/{course}/feedback/",
        {"feedback": "Hi"},
        "Only the course's students leave feedback on it.",
    ),
    (
        "stranger",
        "GET",
        "/api/courses/{course}/grades/",
        None,
        "Only the course's teachers, its students (their own grade) and admins read its grades.",
    ),
    ("student", "GET", "/api/courses/{course}/gradebook/", None, TEACHERS_ONLY),
    ("student", "GET", "/api/tests/{test}/stats/", None, TEACHERS_ONLY),
    ("student", "GET", "/api/tests/{test}/notices/", None, TEACHERS_ONLY),
    ("student", "PATCH", "/api/tests/{test}/", {"name": "X"}, DEFAULT_REFUSAL),
    ("student", "GET", "/api/tests/{test}/results/", None, DEFAULT_REFUSAL),
    ("stranger", "GET", "/api/courses/{course}/tests/", None, DEFAULT_REFUSAL),
    ("stranger", "GET", "/api/courses/{course}/categories/", None, DEFAULT_REFUSAL),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("who", "method", "path", "body", "detail"),
    REFUSALS,
    ids=lambda v: v if isinstance(v, str) and v.startswith("/") else None,
)
def test_each_rule_refuses_with_its_own_message(request, client_for, course, test_, who, method, path, body, detail):
    filled = path.format(student=request.getfixturevalue("student").pk, course=course.pk, test=test_.pk)
    response = client_for(request.getfixturevalue(who)).generic(
        method, filled, b"" if body is None else json.dumps(body).encode(), content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": detail}


@pytest.mark.django_db
def test_rules_that_depend_on_the_body_answer_with_their_messages(client_for, student, stranger, course, other_course):
    account = client_for(student).patch(
        f"/api/users/{student.pk}/",
        {"email": "new@example.com", "is_admin": True, "notify_by_email": False},
        format="json",
    )
    assert account.status_code == 400
    assert account.json() == {
        "email": ["Only an admin may change the email address."],
        "is_admin": ["Only an admin may change is_admin."],
    }
    enroll = client_for(student).post(
        f"/api/users/{stranger.pk}/courses/", {"course": other_course.pk, "role": "STUDENT"}, format="json"
    )
    assert enroll.status_code == 403
    assert enroll.json() == {
        "detail": "Only a teacher of the course or an admin may enroll someone else, or anyone as a teacher."
    }
