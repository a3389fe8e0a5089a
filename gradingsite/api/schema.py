"""How the OpenAPI schema describes what every endpoint shares: the bearer scheme and the errors.

``ApiAutoSchema`` adds the error responses each operation can give (see ``error_statuses``) to
what its view declares, so a generated client knows every status and its JSON body.
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_parameter_type, get_doc
from drf_spectacular.utils import OpenApiParameter
from rest_framework import permissions, serializers

from gradingsite.api import idempotency

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
    "412": "If-Match names a version that is no longer the current one: nothing was written. "
    "`current` is the resource as it is now (the answer's ETag is its tag).",
    "422": "This Idempotency-Key was used by this caller for another request (method, path or body).",
    "428": "REQUIRE_IF_MATCH is on and the request has no If-Match.",
    "429": "A new Idempotency-Key while this caller already has the most live keys kept per caller "
    "(`Retry-After`: seconds until the oldest expires).",
}
PRECONDITION_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}, "current": {"type": "object", "additionalProperties": {}}},
    "required": ["detail", "current"],
}
_ETAG = {
    "description": 'The row\'s version and a digest of this exact body, as a strong entity tag: `"3-5e0f…"`. '
    "It changes whenever the body does; If-Match compares its version part.",
    "schema": {"type": "string"},
}
# The bulk upsert (PUT /api/tests/{id}/results/) speaks of the test's results version, not of a row.
_RESULTS_ETAG = {
    "description": 'The test\'s results version after this write, as a strong entity tag: `"5"`.',
    "schema": {"type": "string"},
}
_RESULTS_IF_MATCH = (
    "Write only if the test's results version (`results_version`, or the ETag of the last bulk upsert) is "
    'still this one (`"5"`); a list matches if any of its strong tags does, `*` matches any, a weak tag none. '
    "A stale tag is a 412.",
    {"type": "string"},
)
_HEADERS = {
    "If-Match": (
        'Write only if the row is still at the version this tag names (the ETag you read, or `"3"`); a list '
        "matches if any of its strong tags does, `*` matches any, a weak tag none. A stale tag is a 412.",
        {"type": "string"},
    ),
    "If-None-Match": (
        "The ETag you have: if it is still current, the answer is a 304 with no body.",
        {"type": "string"},
    ),
    "Idempotency-Key": (
        "Makes a retry safe: the first request with a key is processed and, if it changed something, its "
        "answer kept 24 hours; the same request again gets that answer (status, body and headers, with "
        "`Idempotent-Replayed: true`) and writes nothing. Keys are per caller.",
        {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    ),
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

    def _conditional_headers(self) -> list[str]:
        """The request headers of gradingsite.api.preconditions and idempotency this operation takes."""
        view, action = self.view, getattr(self.view, "action", None)
        headers = []
        if getattr(view, "versioned", False):
            if self.method == "GET" and action == "retrieve":
                headers.append("If-None-Match")
            elif self.method in ("PUT", "PATCH", "DELETE") and action in ("update", "partial_update", "destroy"):
                headers.append("If-Match")
        if action == "bulk_update":
            headers.append("If-Match")
        if idempotency.takes_key(view, self.method):
            headers.append("Idempotency-Key")
        return headers

    def _add_conditional_headers(self, operation: dict) -> None:
        headers = self._conditional_headers()
        if not headers:
            return
        parameters = operation.setdefault("parameters", [])
        responses = operation.setdefault("responses", {})
        bulk = self.view.action == "bulk_update"
        for name in headers:
            description, schema = _RESULTS_IF_MATCH if bulk and name == "If-Match" else _HEADERS[name]
            parameters.append(
                {"in": "header", "name": name, "required": False, "description": description, "schema": schema}
            )
        if "If-None-Match" in headers:
            responses["304"] = {
                "description": "Not modified: the ETag in If-None-Match is current.",
                "headers": {"ETag": _ETAG},
            }
        if "If-Match" in headers:
            responses["412"] = {
                "description": _DESCRIPTIONS["412"],
                "content": {"application/json": {"schema": PRECONDITION_SCHEMA}},
            }
            if self.view.action != "bulk_update":
                responses["428"] = error_response("428")
        if "Idempotency-Key" in headers:
            responses.setdefault(
                "409",
                {
                    **error_response("409"),
                    "description": "Conflicts with data that exists, "
                    "or a request with this Idempotency-Key is still being processed.",
                },
            )
            responses["422"] = error_response("422")
            responses.setdefault("429", error_response("429"))
        for code, response in responses.items():
            if code.startswith("2") and code != "204":
                extra = {}
                if bulk:
                    extra["ETag"] = _RESULTS_ETAG
                elif getattr(self.view, "versioned", False):
                    extra["ETag"] = _ETAG
                if "Idempotency-Key" in headers:
                    extra["Idempotent-Replayed"] = {
                        "description": "`true` when this is the stored answer to an earlier request with the key.",
                        "schema": {"type": "string", "enum": ["true"]},
                    }
                if extra:
                    response.setdefault("headers", {}).update(extra)

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return operation
        self._add_conditional_headers(operation)
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
