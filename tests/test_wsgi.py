"""Chunked request bodies reach the API (the deploy rehearsal sends one through gunicorn), read by
the view's parser only, never past its endpoint's limit."""

import io

from gradingsite.api import parsers
from gradingsite.wsgi import CHUNKED_BODY, ChunkedRequestBodies


class CountingInput(io.BytesIO):
    def __init__(self, body: bytes):
        super().__init__(body)
        self.read_bytes = 0

    def read(self, *args):
        data = super().read(*args)
        self.read_bytes += len(data)
        return data


def _seen_by_django(environ):
    seen = {}

    def app(environ, start_response):
        seen["length"] = environ.get("CONTENT_LENGTH")
        seen["chunked"] = environ.get(CHUNKED_BODY, False)
        return [b""]

    ChunkedRequestBodies(app)(environ, lambda *args: None)
    seen["read"] = environ["wsgi.input"].read_bytes
    return seen


def _environ(body: bytes, **extra):
    return {"REQUEST_METHOD": "POST", "wsgi.input": CountingInput(body), **extra}


CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


def test_a_chunked_body_is_marked_for_the_api_and_not_read_here():
    assert _seen_by_django(_environ(b'{"name": "c"}', **CHUNKED)) == {"length": None, "chunked": True, "read": 0}
    assert CHUNKED_BODY == parsers.CHUNKED_BODY


def test_a_body_with_a_length_is_left_alone():
    environ = _environ(b"abc", CONTENT_LENGTH="3", **CHUNKED)
    assert _seen_by_django(environ) == {"length": "3", "chunked": False, "read": 0}


def test_a_server_that_did_not_decode_the_chunks_is_left_alone():
    environ = _environ(b"7\r\n{}\r\n0\r\n\r\n", HTTP_TRANSFER_ENCODING="chunked")
    assert _seen_by_django(environ) == {"length": None, "chunked": False, "read": 0}
