"""How the OpenAPI schema describes what every endpoint shares: the bearer scheme and the errors.

``ApiAutoSchema`` adds the error responses each operation can give (see ``error_statuses``) to
what its view declares, so a generated client knows every status and its JSON body.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_parameter_type, get_doc
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

DETAIL_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
VALIDATION_SCHEMA = {
    "type": "object",
    "description": 'Field errors `{"field": ["message", ...]}`, or `{"detail": "..."}` for a non-field error.',
    "additionalProperties": {},
}

_DESCRIPTIONS = {
    "400": "Invalid input: field errors, or a non-field error under `detail`.",
    "401": "Not authenticated, or the token is bad, expired or revoked (`WWW-Authenticate: Bearer`).",
    "403": "Authenticated but not allowed.",
    "404": "No such object (also for ids that are not integers or are out of range).",
    "409": "Conflicts with data that exists.",
    "413": "Request body too large.",
    "415": "Unsupported content type: the API takes `application/json`.",
}


class BearerScheme(SimpleJWTScheme):
    """The project's JWT authentication, a subclass of simplejwt's, as the OpenAPI bearer scheme."""

    target_class = "accounts.authentication.JWTAuthentication"
    name = "bearerAuth"


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def error_response(code: str) -> dict:
    body = VALIDATION_SCHEMA if code == "400" else DETAIL_SCHEMA
    return {"description": _DESCRIPTIONS.get(code, ""), "content": {"application/json": {"schema": body}}}


class ApiAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema, with each operation's error responses.

    By default: 401 and 403 where a token is needed (a view sets ``schema_forbidden`` to False when
    every authenticated caller is allowed, or to the methods that can be refused), 404 where the
    path names an object, 400/413/415 where a body is taken. A view adds more with
    ``schema_errors = {"POST": ["409"], ...}``.
    """

    def error_statuses(self) -> set[str]:
        codes: set[str] = set()
        perms = [p.__class__ for p in self.view.get_permissions()]
        open_view = permissions.AllowAny in perms
        if not open_view:
            codes.add("401")
            forbidden = getattr(self.view, "schema_forbidden", True)
            if forbidden is True or (not isinstance(forbidden, bool) and self.method in forbidden):
                codes.add("403")
        if "{" in self.path:
            codes.add("404")
        if self.method in ("POST", "PUT", "PATCH"):
            codes.update({"400", "413", "415"})
        extra = getattr(self.view, "schema_errors", {}) or {}
        codes.update(str(code) for code in extra.get(self.method, ()))
        codes.update(str(code) for code in extra.get("*", ()))
        return codes

    def get_description(self):
        # A viewset's operation is described by its action's docstring; the viewset's own docstring is
        # about the code (drf-spectacular would give it to every action without one).
        if not hasattr(self.view, "action"):
            return super().get_description()
        return get_doc(getattr(self.view, self.view.action, None))

    def _resolve_path_parameters(self, variables):
        # Every variable in an API path is an id: a positive integer (anything else is a 404).
        return [
            build_parameter_type(name=name, location=OpenApiParameter.PATH, schema={"type": "integer"})
            for name in variables
        ]

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        responses = operation.setdefault("responses", {})
        if any(parameter.get("in") == "query" for parameter in operation.get("parameters", [])):
            # Filters, ordering, paging and flags such as ?force are validated: a bad value is a 400.
            responses.setdefault("400", error_response("400"))
        if self._is_list_view() and self._get_paginator() is not None:
            responses.setdefault("404", error_response("404"))  # ?page past the end
        return operation

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self.error_statuses()):
            responses.setdefault(code, error_response(code))
        return responses


NO_NUL_PATTERN = "^[^\\u0000]*$"


def forbid_unknown_request_fields(result, generator, request, public):
    """Request bodies take only the fields they list (the API answers 400 for any other key), and
    their free-text fields no NUL character (PostgreSQL can't store one; the API answers 400)."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
            for field in schema.get("properties", {}).values():
                if field.get("type") == "string" and not ({"format", "pattern", "enum"} & set(field)):
                    field["pattern"] = NO_NUL_PATTERN
    return result
