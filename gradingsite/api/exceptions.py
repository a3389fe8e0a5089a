"""The API's one exception handler: every error a client can cause becomes a JSON 4xx."""

from django.core.exceptions import RequestDataTooBig
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from gradingsite.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        body = exc.detail if isinstance(exc.detail, dict) else {"detail": exc.detail}
        return Response(body, status=exc.status_code)
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": "This is referenced by recorded results; pass ?force=true to delete it anyway."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response({"detail": "Request body too large."}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = drf_exception_handler(exc, context)
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
