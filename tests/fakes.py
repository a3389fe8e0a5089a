"""Fakes of outside services that talk their real protocols.

``fake_sendgrid`` — a SendGrid-compatible HTTP server on 127.0.0.1 for tests that send email.

Usage (any test; the fixture is registered in ``tests/conftest.py`` through ``pytest_plugins``)::

    def test_something(fake_sendgrid, client):
        client.post("/api/auth/login/", {"email": "ada@example.com"}, content_type="application/json")
        message = fake_sendgrid.last_message_to("ada@example.com")
        code = fake_sendgrid.latest_code("ada@example.com")

The fixture starts a real ``http.server`` in a thread on a free port, and points the app at it
through pytest-django's ``settings`` fixture: ``SENDGRID_API_KEY`` (= ``fake_sendgrid.api_key``),
``SENDGRID_API_HOST`` (= ``fake_sendgrid.url``) and ``DEFAULT_FROM_EMAIL``
(= ``fake_sendgrid.from_email``). Other processes (a gunicorn started by a test) can use the
same server by being given those values in their environment.

It implements ``POST /v3/mail/send`` and answers 202 like SendGrid, recording each request as a
``SentMessage`` (path, Authorization header, from, to, subject, plain-text content) in
``fake_sendgrid.messages``, in arrival order — failed requests are recorded too. Failure modes,
switched with ``fake_sendgrid.fail_with(mode)`` and back with ``fake_sendgrid.fail_with(None)``:

- ``"500"``: answers HTTP 500 with a SendGrid-style error body;
- ``"timeout"``: holds the request open for ``settings.SENDGRID_TIMEOUT_SECONDS + 2`` seconds
  before answering 202 (the app's client must give up first; the test does not wait it out);
- ``"refused"``: closes the listening socket, so connections are refused; switching back
  to ``None`` listens again on the same port.
"""

import json
import re
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.conf import settings as django_settings

FAILURE_MODES = (None, "500", "timeout", "refused")
_CODE = re.compile(r"\b(\d{8})\b")


@dataclass(frozen=True)
class SentMessage:
    path: str
    authorization: str
    from_email: str
    to: list[str]
    subject: str
    text: str
    answered: int  # the status the fake answered with


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_POST(self):
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if self.path != "/v3/mail/send":
            self._answer(404, {"errors": [{"message": "not found"}]})
            return
        mode = fake.mode
        status = 500 if mode == "500" else 202
        fake._record(self.path, self.headers.get("Authorization", ""), body, status)
        if mode == "timeout":
            # Outlast the client's timeout; ends early when the fixture shuts down.
            fake._stop.wait(django_settings.SENDGRID_TIMEOUT_SECONDS + 2)
        if status == 202:
            self._answer(202, None)
        else:
            self._answer(500, {"errors": [{"message": "internal error", "field": None, "help": None}]})

    def _answer(self, status, payload):
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout case)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeSendGrid:
    api_key = "SG.fake-test-key"
    from_email = "grading@example.com"

    def __init__(self):
        self.messages: list[SentMessage] = []
        self.mode: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = self._free_port()
        self._listen()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def _listen(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-sendgrid", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = None

    def fail_with(self, mode: str | None) -> None:
        """Switches the failure mode: ``None`` (works), ``"500"``, ``"timeout"`` or ``"refused"``."""
        if mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {mode!r}; one of {FAILURE_MODES}")
        if mode == "refused" and self._server is not None:
            self._close()
        elif mode != "refused" and self._server is None:
            self._listen()
        self.mode = mode

    def _record(self, path, authorization, body, status) -> None:
        personalizations = body.get("personalizations") or [{}]
        to = [entry.get("email", "") for p in personalizations for entry in p.get("to", [])]
        text = "".join(part.get("value", "") for part in body.get("content", []) if part.get("type") == "text/plain")
        message = SentMessage(
            path=path,
            authorization=authorization,
            from_email=(body.get("from") or {}).get("email", ""),
            to=to,
            subject=body.get("subject") or personalizations[0].get("subject", ""),
            text=text,
            answered=status,
        )
        with self._lock:
            self.messages.append(message)

    def messages_to(self, email: str) -> list[SentMessage]:
        with self._lock:
            return [m for m in self.messages if email.lower() in (to.lower() for to in m.to)]

    def last_message_to(self, email: str) -> SentMessage:
        sent = self.messages_to(email)
        assert sent, f"no email was sent to {email}; sent to: {[m.to for m in self.messages]}"
        return sent[-1]

    def latest_code(self, email: str) -> str:
        """The 8-digit code in the newest message to ``email`` (fails the test if there is none)."""
        match = _CODE.search(self.last_message_to(email).text)
        assert match, "the newest email has no 8-digit code in it"
        return match.group(1)

    def shutdown(self) -> None:
        self._stop.set()
        self._close()


@pytest.fixture
def fake_sendgrid(settings):
    """A running fake SendGrid that the app sends its email to (see the module docstring)."""
    fake = FakeSendGrid()
    settings.SENDGRID_API_KEY = fake.api_key
    settings.SENDGRID_API_HOST = fake.url
    settings.DEFAULT_FROM_EMAIL = fake.from_email
    try:
        yield fake
    finally:
        fake.shutdown()
