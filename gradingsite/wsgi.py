"""The WSGI application gunicorn serves (``gunicorn gradingsite.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gradingsite.settings")

# gradingsite.api.parsers.CHUNKED_BODY (not imported: this module loads before Django is set up).
CHUNKED_BODY = "gradingsite.chunked_body"


class ChunkedRequestBodies:
    """Let the API read a chunked request body (no Content-Length).

    Django reads exactly Content-Length bytes of a body, so without one it sees an empty body and
    a chunked JSON POST would be answered as if nothing were sent. gunicorn decodes the chunks and
    marks the stream as terminated (``wsgi.input_terminated``); this marks such a request
    (``CHUNKED_BODY``), and the API's parsers read the stream themselves when the view asks for its
    data, after its permission checks, each no further than one byte past its endpoint's limit
    (413 beyond). Nothing is read here. (Views outside the API see no body, as Django gives them.)
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if (
            not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and environ.get("wsgi.input_terminated")
        ):
            environ[CHUNKED_BODY] = True
        return self.app(environ, start_response)


application = ChunkedRequestBodies(get_wsgi_application())
