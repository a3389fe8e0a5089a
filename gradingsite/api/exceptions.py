"""The API's one exception handler, and Django's error views answering JSON outside the admin.

Every error a client can cause becomes a JSON 4xx: DRF's own exceptions, the domain errors of
``gradingsite.errors``, model validation, oversized bodies. Errors raised before or outside DRF
(an unknown path, a bad Host header, a crash) reach Django's handlers, which answer JSON
everywhere but the admin (see ``gradingsite/urls.py``). A database (or pooler) that can't be
reached is a 503 with ``Retry-After`` wherever it is noticed, never a 500.
"""

import logging
import sys

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.db.models import ProtectedError
from django.http import JsonResponse
from django.views import csrf, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from gradingsite.errors import DomainError

logger = logging.getLogger(__name__)

WWW_AUTHENTICATE = 'Bearer realm="api"'


DATABASE_UNAVAILABLE = "The database is unavailable right now; try again in a few seconds."
RETRY_AFTER_SECONDS = "5"


def database_unavailable() -> JsonResponse:
    """The answer while the database (or its pooler) can't be reached: 503, retry shortly."""
    response = JsonResponse({"detail": DATABASE_UNAVAILABLE}, status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


CONCURRENT_CHANGE = "This conflicted with a change made at the same moment; nothing was written. Try again."


def _concurrent_change(exc) -> bool:
    """A deadlock or serialization failure: PostgreSQL undid this request's writes; a retry can succeed."""
    from psycopg import errors

    return isinstance(exc.__cause__, (errors.DeadlockDetected, errors.SerializationFailure))


def exception_handler(exc, context):
    # A handled error undoes what the request's transaction wrote, if it runs in one.
    set_rollback()
    if isinstance(exc, OperationalError) and _concurrent_change(exc):
        return Response({"detail": CONCURRENT_CHANGE}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, (OperationalError, InterfaceError)):
        logger.error("Database unavailable: %s", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        return Response({"detail": DATABASE_UNAVAILABLE}, status=503, headers={"Retry-After": RETRY_AFTER_SECONDS})
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
    if isinstance(exc, DjangoValidationError):
        body = exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None and isinstance(response.data, dict) and api_settings.NON_FIELD_ERRORS_KEY in response.data:
        # Errors about the input as a whole read as {"detail": "..."}, like every other non-field error.
        messages = response.data.pop(api_settings.NON_FIELD_ERRORS_KEY)
        text = " ".join(str(m) for m in messages) if isinstance(messages, list) else str(messages)
        response.data = {"detail": text, **response.data}
    if response is not None and isinstance(response.data, list):
        # An error about the request as a whole, whichever code raised it, reads as {"detail": "..."}.
        response.data = {"detail": " ".join(str(message) for message in response.data)}
    if response is not None and response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = WWW_AUTHENTICATE
    return response


def _answers_json(request) -> bool:
    """Everything but the admin answers errors in JSON: the API, the status routes, unknown paths."""
    return not request.path_info.startswith("/admin/")


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """The last route under /api/: any path no other route matched is a JSON 404, for every method."""
    return JsonResponse({"detail": "Not found."}, status=404)


def bad_request(request, exception=None, template_name="400.html"):
    if _answers_json(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse({"detail": "Request body too large."}, status=413)
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None, template_name="403.html"):
    if _answers_json(request):
        return JsonResponse({"detail": "You do not have permission to perform this action."}, status=403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None, template_name="404.html"):
    if _answers_json(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)


def server_error(request, template_name="500.html"):
    # Called while the exception is being handled: a database that can't be reached is a 503.
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        return database_unavailable()
    if _answers_json(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """CSRF only guards cookie-authenticated forms (the admin); under /api/ it is a JSON 403."""
    if _answers_json(request):
        return JsonResponse({"detail": f"CSRF check failed: {reason}"}, status=403)
    return csrf.csrf_failure(request, reason=reason)
