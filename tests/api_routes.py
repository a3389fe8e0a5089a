"""The API's operations as the routers define them, for tests that must cover every one."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

from gradingsite.urls import API_ROUTERS as ROUTERS

# Routes under /api/ that no router makes: the schema and its docs, the JSON 404 for any other path,
# and the local store's upload URL (a client is handed it as an upload's URL, as it would be a bucket's).
NOT_OPERATIONS = {"schema", "docs", "api-not-found", "files-local-upload"}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def openapi_path(regex: str) -> str:
    """``users/(?P<pk>[^/]+)/courses/?`` → ``/api/users/{id}/courses/`` (drf-spectacular names ``pk`` ``id``)."""

    def name(match):
        return "{" + ("id" if match.group(1) == "pk" else match.group(1)) + "}"

    path = regex.removeprefix("^").removesuffix("$")
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", name, path)
    return "/api/" + path.replace("/?", "/").replace("\\.", ".")


def api_routes() -> list[tuple[str, str, list[str]]]:
    """``(openapi path, url name, HTTP methods)`` for every route of every router of the API."""
    routes = []
    for router in ROUTERS:
        for pattern in router.urls:
            # (DRF adds "head" to a route's actions once it has served a GET.)
            methods = [method.upper() for method in pattern.callback.actions if method.upper() in METHODS]
            routes.append((openapi_path(pattern.pattern.regex.pattern), pattern.name, methods))
    return routes


def _walk(patterns, prefix=""):
    for pattern in patterns:
        regex = prefix + str(pattern.pattern.regex.pattern).removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, regex)
        elif isinstance(pattern, URLPattern):
            yield regex, pattern


def api_url_names() -> set[str]:
    """The name of every URL pattern under /api/ in the URLconf, whoever made it."""
    return {pattern.name for regex, pattern in _walk(get_resolver().url_patterns) if regex.startswith("api/")}
