"""The access log: gunicorn's default line (Apache's combined format), written by
``gradingsite.serverlog.AccessLogger`` for less CPU, byte for byte as gunicorn's own logger writes it."""

import io
import runpy
from datetime import timedelta

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from gradingsite.serverlog import AccessLogger
from tests.live import ROOT


class _Response:
    def __init__(self, status, sent):
        self.status = status
        self.sent = sent
        self.headers = [("Content-Type", "application/json"), ("Content-Length", str(sent or 0))]


class _Request:
    headers = [("HOST", "127.0.0.1"), ("USER-AGENT", "x")]


def _environ(**extra) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/api/profile/",
        "PATH_INFO": "/api/profile/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        **extra,
    }


def _line(logger_class, response, environ, access_log_format=None) -> str:
    config = Config()
    config.set("accesslog", "-")
    if access_log_format is not None:
        config.set("access_log_format", access_log_format)
    logger = logger_class(config)
    logger.now = lambda: "[07/Dec/2026:21:27:42 +0000]"
    out = io.StringIO()
    (handler,) = [h for h in logger.access_log.handlers if getattr(h, "_gunicorn", False)]
    handler.stream = out
    logger.access(response, _Request(), environ, timedelta(microseconds=1234))
    return out.getvalue()


@pytest.mark.parametrize(
    ("response", "environ"),
    [
        (_Response("200 OK", 214), _environ(HTTP_USER_AGENT="wrk/4.1")),
        (_Response("201 Created", 0), _environ(REQUEST_METHOD="POST", RAW_URI="/api/tests/4/results/")),
        (_Response("304 Not Modified", None), _environ(HTTP_REFERER="https://example.com/a?b=c")),
        (
            _Response("404 Not Found", 23),
            _environ(RAW_URI='/api/"quoted"?x="1"', HTTP_USER_AGENT='agent "quoted"', HTTP_REFERER='r"'),
        ),
        # A user name from Basic credentials ("ada:secret"), as gunicorn shows it.
        (_Response("401 Unauthorized", 52), _environ(HTTP_AUTHORIZATION="Basic YWRhOnNlY3JldA==")),
        (_Response("200 OK", 11), _environ(REMOTE_ADDR="::1", HTTP_AUTHORIZATION="Bearer abc.def.ghi")),
    ],
)
def test_the_access_log_line_is_gunicorns(response, environ):
    line = _line(AccessLogger, response, environ)

    assert line == _line(Logger, response, environ)
    assert line.startswith(f"{environ['REMOTE_ADDR']} - ")


def test_another_access_log_format_is_written_by_gunicorns_own_formatting():
    form = '%(h)s %(m)s %(U)s %(s)s %(D)s "%({user-agent}i)s"'
    response, environ = _Response("200 OK", 5), _environ()

    assert _line(AccessLogger, response, environ, form) == _line(Logger, response, environ, form)
    assert _line(AccessLogger, response, environ, form) == '127.0.0.1 GET /api/profile/ 200 1234 "x"\n'


def test_the_server_uses_it():
    config = runpy.run_path(str(ROOT / "gunicorn.conf.py"))

    assert config["logger_class"] == "gradingsite.serverlog.AccessLogger"
