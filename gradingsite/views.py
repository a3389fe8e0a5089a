"""The routes that aren't resources: status, health, and the interactive docs."""

from functools import wraps

from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from gradingsite.api.negotiation import OnlyRepresentation

READ_METHODS = ("GET", "HEAD")


def read_only(view):
    """GET and HEAD only; any other method is a JSON 405 (not an HTML page or a CSRF refusal)."""

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in READ_METHODS:
            response = JsonResponse({"detail": f'Method "{request.method}" not allowed.'}, status=405)
            response["Allow"] = ", ".join(READ_METHODS)
            return response
        return view(request, *args, **kwargs)

    return wrapped


def _json_whatever_accept(func):
    # A load balancer's or a person's probe gets its JSON whatever it sends in Accept.
    func.content_negotiation_class = OnlyRepresentation
    return func


_UP = inline_serializer("Up", {"up": serializers.BooleanField()})
_HEALTH = inline_serializer(
    "Health", {"up": serializers.BooleanField(), "database": serializers.ChoiceField(["ok", "unavailable"])}
)


@extend_schema(operation_id="status", summary="The service is up", tags=["status"], responses={200: _UP}, auth=[])
@api_view(["GET", "HEAD"])
@authentication_classes([])
@permission_classes([AllowAny])
@_json_whatever_accept
def status(request):
    return Response({"up": True})


@extend_schema(
    operation_id="healthz",
    summary="The service is up and its database answers",
    tags=["status"],
    responses={200: _HEALTH, 503: _HEALTH},
    auth=[],
)
@api_view(["GET", "HEAD"])
@authentication_classes([])
@permission_classes([AllowAny])
@_json_whatever_accept
def healthz(request):
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return Response({"up": True, "database": "unavailable"}, status=503, headers={"Retry-After": "5"})
    return Response({"up": True, "database": "ok"})


class DocsView(SpectacularSwaggerView):
    """Swagger UI for /api/schema/, every asset served by the app itself."""

    @extend_schema(
        operation_id="docs",
        summary="Interactive API docs (Swagger UI)",
        responses={(200, "text/html"): OpenApiResponse(response=OpenApiTypes.STR)},
        auth=[],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
