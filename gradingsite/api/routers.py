"""The routers every app registers its viewsets on.

Every path works with and without its trailing slash, for every method (``/?``): a redirect
would drop a POST body. Ids are matched loosely (``[^/]+``, see ``gradingsite.api.viewsets``), so
an id that is not a positive integer reaches the viewset, which answers the JSON 404.
"""

from rest_framework.routers import DynamicRoute, Route, SimpleRouter

OPTIONAL_SLASH = "/?"


class Router(SimpleRouter):
    """DRF's ``SimpleRouter`` with an optional trailing slash.

    A collection also takes ``PUT`` for a viewset with a ``bulk_update`` action (the results of a
    test, replaced in one request).
    """

    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping={"get": "list", "post": "create", "put": "bulk_update"},
            name="{basename}-list",
            detail=False,
            initkwargs={"suffix": "List"},
        ),
        *SimpleRouter.routes[1:],
    ]

    def __init__(self):
        super().__init__()
        self.trailing_slash = OPTIONAL_SLASH

    def _get_dynamic_route(self, route, action):
        route = super()._get_dynamic_route(route, action)
        if "\\." in action.url_path:  # a file's name (``gradebook\.csv``) takes no trailing slash
            route = route._replace(url=route.url.replace("{trailing_slash}$", "$"))
        return route


class SingletonRouter(Router):
    """A resource with no id in its path: the caller's own (``/api/profile/``). Its url name is the basename."""

    routes = [
        Route(
            url=r"^{prefix}{trailing_slash}$",
            mapping={"get": "retrieve"},
            name="{basename}",
            detail=True,
            initkwargs={"suffix": "Instance"},
        ),
        DynamicRoute(
            url=r"^{prefix}/{url_path}{trailing_slash}$", name="{basename}-{url_name}", detail=True, initkwargs={}
        ),
    ]
