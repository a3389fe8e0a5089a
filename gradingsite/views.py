from django.db import connection
from django.db.utils import DatabaseError
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def status(request):
    return JsonResponse({"up": True})


@require_GET
def healthz(request):
    """Up, and the database answers a query."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError:
        return JsonResponse({"up": True, "database": "unavailable"}, status=503)
    return JsonResponse({"up": True, "database": "ok"})
