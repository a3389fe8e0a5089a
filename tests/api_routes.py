"""The API's routes as the URLconf defines them, for tests that must cover every one."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

# Routes under /api/ that are not API operations: the schema and its docs, and the JSON 404 for
# any other path.
NOT_OPERATIONS = {"schema", "docs", "api-not-found"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _walk(patterns, prefix=""):
    for pattern in patterns:
        regex = prefix + _regex_of(pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, regex)
        elif isinstance(pattern, URLPattern):
            yield regex, pattern


def _regex_of(pattern) -> str:
    text = str(pattern.pattern.regex.pattern)
    return text.removeprefix("^").removesuffix("$").removesuffix("\\Z")


def openapi_path(regex: str) -> str:
    """``api/users/(?P<pk>[0-9]+)/courses/?`` → ``/api/users/{id}/courses/`` (drf-spectacular names it ``id``)."""

    def name(match):
        return "{" + ("id" if match.group(1) in {"pk", "id"} else match.group(1)) + "}"

    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", name, regex)
    path = path.replace("/?", "/").replace("\\.", ".")
    return "/" + path


def api_routes() -> list[tuple[str, str, object]]:
    """``(openapi path, url name, view class)`` for every operation route under /api/."""
    routes = []
    for regex, pattern in _walk(get_resolver().url_patterns):
        if not regex.startswith("api/") or pattern.name in NOT_OPERATIONS:
            continue
        view_class = getattr(pattern.callback, "view_class", None) or getattr(pattern.callback, "cls", None)
        routes.append((openapi_path(regex), pattern.name, view_class))
    return routes


def methods_of(view_class) -> list[str]:
    """The HTTP methods a view answers (besides HEAD and OPTIONS)."""
    return [m for m in METHODS if hasattr(view_class, m.lower())]
