"""The WSGI application gunicorn serves (``gunicorn gradingsite.wsgi``)."""

import io
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gradingsite.settings")

# More than any body the app accepts (JSON 2 MB, CSV import 10 MB): a longer chunked body is cut
# here, and the view's own limit answers 413 for what is left.
CHUNKED_BODY_MAX_BYTES = 16 * 1024 * 1024


class ChunkedRequestBodies:
    """Give a chunked request body (no Content-Length) a length Django can read.

    Django reads exactly Content-Length bytes of a body, so without one it sees an empty body and
    a chunked JSON POST would be answered as if nothing were sent. gunicorn decodes the chunks and
    marks the stream as terminated (``wsgi.input_terminated``); this reads it, up to a cap, and
    sets the length.
    """

    def __init__(self, app, max_bytes: int = CHUNKED_BODY_MAX_BYTES):
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ, start_response):
        if (
            not environ.get("CONTENT_LENGTH")
            and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
            and environ.get("wsgi.input_terminated")
        ):
            body = environ["wsgi.input"].read(self.max_bytes + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


application = ChunkedRequestBodies(get_wsgi_application())
