"""The app as production serves it, plus one route for bench/files.py: a stored file's download.

``GET /bench/download/<key>`` answers what ``gradingsite.files.store().download`` gives for that
key, as the API's download of a submitted file will. Serve it with
``gunicorn bench.files_app:application`` from the project root; for benchmarks only.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gradingsite.settings")

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.urls import path

settings.ROOT_URLCONF = __name__
application = get_wsgi_application()

from gradingsite import files  # noqa: E402
from gradingsite.urls import urlpatterns as app_urlpatterns  # noqa: E402


def download(request, key):
    return files.store().download(key, name="bench.bin", content_type="application/octet-stream")


urlpatterns = [path("bench/download/<path:key>", download), *app_urlpatterns]
