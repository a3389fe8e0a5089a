"""Chunked request bodies reach Django with a length (the deploy rehearsal sends one through gunicorn)."""

import io

from gradingsite.wsgi import ChunkedRequestBodies


def _seen_by_django(environ, **kwargs):
    seen = {}

    def app(environ, start_response):
        length = environ.get("CONTENT_LENGTH")
        seen["length"] = length
        seen["body"] = environ["wsgi.input"].read(int(length)) if length else b""
        return [b""]

    ChunkedRequestBodies(app, **kwargs)(environ, lambda *args: None)
    return seen


def _environ(body: bytes, **extra):
    return {"REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO(body), **extra}


CHUNKED = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input_terminated": True}


def test_a_chunked_body_gets_its_length():
    assert _seen_by_django(_environ(b'{"name": "c"}', **CHUNKED)) == {"length": "13", "body": b'{"name": "c"}'}


def test_a_chunked_body_is_cut_one_byte_past_the_cap_so_the_view_answers_413():
    seen = _seen_by_django(_environ(b"x" * 100, **CHUNKED), max_bytes=10)
    assert seen == {"length": "11", "body": b"x" * 11}


def test_a_body_with_a_length_is_left_alone():
    environ = _environ(b"abc", CONTENT_LENGTH="3", **CHUNKED)
    assert _seen_by_django(environ) == {"length": "3", "body": b"abc"}


def test_a_server_that_did_not_decode_the_chunks_is_left_alone():
    assert _seen_by_django(_environ(b"7\r\n{}\r\n0\r\n\r\n", HTTP_TRANSFER_ENCODING="chunked")) == {
        "length": None,
        "body": b"",
    }
