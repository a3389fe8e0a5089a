from functools import wraps

from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

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


@read_only
def status(request):
    return JsonResponse({"up": True})


@read_only
def healthz(request):
    """Up, and the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"up": True, "database": "unavailable"}, status=503)
    return JsonResponse({"up": True, "database": "ok"})
