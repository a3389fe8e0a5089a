"""The API's one permission class: each view names its rule, ``PolicyPermission`` applies it.

A viewset sets ``rule`` to a ``Rule`` for its standard actions (``list``, ``create``, ``retrieve``,
``update``, ``partial_update``, ``destroy``), or, when its routes differ, to a dict from action names
(a name or a tuple of names) to rules; an ``@action`` names its own, ``@action(..., rule=Rule(...))``,
or is named in the viewset's dict:

    rule = Rule(read=policy.can_view_test, write=policy.can_manage_test)

The predicates are the authorization policy's (``courses.policy``), which the admin asks too; this
module only calls them, so it knows no app. ``PolicyPermission`` is every view's (with
``IsAuthenticated`` before it: settings' ``DEFAULT_PERMISSION_CLASSES``); a view that serves a
method its rule says nothing about is a configuration error (``ImproperlyConfigured``), never an
open door.

Which object a predicate is asked about, and when (so a bad id is a 404 before any 403):

- a path that names no object (``/api/courses/``, ``/api/profile/``): ``None``, before the action runs;
- a view with ``rule_object`` (the name of its attribute that loads the object its path names, as
  the collections under another object do: ``/api/courses/{id}/tests/`` names the course): that
  object, before the action runs;
- any other path names its object by id: that object, when the view loads it (``get_object``, or
  ``check_object_permissions`` where the view loads it itself).

Rules that depend on the request's body (who may enroll whom, who may change which field of an
account) are not routes' rules: the input serializer of that write asks the policy.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS, BasePermission

Predicate = Callable[..., bool]


@dataclass(frozen=True)
class Rule:
    """Who may call a route: ``read`` for ``GET``, ``HEAD`` and ``OPTIONS``, ``write`` for the other methods.

    Each is a predicate ``(user, obj) -> bool`` of the policy. ``message`` is the 403's detail
    (DRF's "You do not have permission to perform this action." without one). ``absent``, a predicate
    under which the object reads as absent to the user: a 404 whatever the method, before the rule.
    """

    read: Predicate | None = None
    write: Predicate | None = None
    message: str | None = None
    absent: Predicate | None = None

    def for_method(self, method: str) -> Predicate | None:
        return self.read if method in SAFE_METHODS else self.write


def rule_for(view) -> Rule | None:
    """The rule of the view's action: its ``rule``, or the entry of ``rule`` naming the action.

    None only for a request no action serves (a method the route doesn't take, which is a 405, or
    ``OPTIONS`` on a route whose actions have rules of their own); an action without a rule is an
    ``ImproperlyConfigured``.
    """
    rules = getattr(view, "rule", None)
    action = _action(view)
    if isinstance(rules, dict):
        rules = next((rule for names, rule in rules.items() if action in _names(names)), None)
    elif action in _extra_actions(type(view)) and "rule" not in vars(view):
        # An @action names its own rule (or is named in the viewset's dict): the viewset's rule is
        # for its standard actions, and a report or a sub-collection rarely has the same readers.
        rules = None
    if rules is None and action is not None:
        raise ImproperlyConfigured(f"{type(view).__name__}.{action} names no rule (gradingsite.api.permissions).")
    return rules


def _action(view) -> str | None:
    """The action serving the request; None for a method the route doesn't take and for ``OPTIONS``
    (DRF names that action "metadata": the route's description, not one of its actions)."""
    action = getattr(view, "action", None)
    return None if action == "metadata" else action


@functools.cache
def _extra_actions(viewset) -> frozenset[str]:
    """The names of the methods serving the viewset's ``@action`` routes (each mapped method's too)."""
    return frozenset(name for action in viewset.get_extra_actions() for name in action.mapping.values())


def _names(key) -> tuple:
    return (key,) if isinstance(key, str) else tuple(key)


def predicate_for(view, method: str) -> Predicate | None:
    """The predicate that decides ``method`` on this view's action (see ``rule_for``)."""
    rule = rule_for(view)
    if rule is None:
        return None
    predicate = rule.for_method(method)
    if predicate is None and _action(view) is not None:
        side = "read" if method in SAFE_METHODS else "write"
        raise ImproperlyConfigured(f"{type(view).__name__}.{view.action} names no {side} rule ({method}).")
    return predicate


class PolicyPermission(BasePermission):
    """Applies the rule the view names (see the module's docstring)."""

    def has_permission(self, request, view):
        predicate = predicate_for(view, request.method)
        if predicate is None:
            return True  # no action serves the request
        name = getattr(view, "rule_object", None)
        if name:
            return self._allows(request, view, predicate, getattr(view, name))
        if (getattr(view, "lookup_url_kwarg", None) or getattr(view, "lookup_field", "pk")) in view.kwargs:
            return True  # the path names an object by id: checked when the view loads it
        return self._allows(request, view, predicate, None)

    def has_object_permission(self, request, view, obj):
        rule = rule_for(view)
        if rule is None:
            return True
        if rule.absent is not None and rule.absent(request.user, obj):
            raise NotFound
        predicate = predicate_for(view, request.method)
        return predicate is None or self._allows(request, view, predicate, obj)

    def _allows(self, request, view, predicate, obj) -> bool:
        if predicate(request.user, obj):
            return True
        message = rule_for(view).message
        if message is not None:
            self.message = message  # DRF reads it when the answer is no
        return False
