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

For batched email (one request, many personalizations) each request is also a ``RecordedRequest``
in ``fake_sendgrid.requests``: its status, body and message-level ``custom_args``, and one
``Delivery`` per recipient with the subject and text rendered for them (the personalization's
``substitutions`` applied, as SendGrid does) and the merged ``custom_args``. The fake checks
SendGrid's limits and answers 400 like SendGrid: more than 1,000 personalizations or recipients,
an address twice in one request, no sender, no content, non-string ``custom_args``.

- ``answer_next(*statuses)``: the next requests are answered with these statuses, one each
  (429 with ``Retry-After: 1``, 400 with a sender-identity error, 5xx with an error body), before
  the failure mode applies; e.g. ``answer_next(500, 202)``;
- ``hold_requests(n=1, after=0)``: after ``after`` more requests, the next ``n`` are accepted
  (recorded as delivered: SendGrid took them) but not answered until ``release()``;
  ``wait_for_held(timeout)`` says when one is being held — time to kill the sender;
- ``deliveries()``, ``deliveries_to(email)``, ``delivery_counts()`` (a Counter by lower-cased
  address), ``accepted_requests()``: what was accepted (2xx);
- ``reset()``: forgets what was recorded, scripted and set to be held.

Example::

    fake_sendgrid.answer_next(500)  # the first attempt fails, the retry goes through
    ...
    assert [r.status for r in fake_sendgrid.requests] == [500, 202]
    assert fake_sendgrid.delivery_counts() == {"ada@example.com": 1}
"""

import json
import re
import socket
import threading
from collections import Counter, deque
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class Delivery:
    """One recipient's copy of an accepted request, rendered as they would read it."""

    email: str
    subject: str
    text: str
    custom_args: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RecordedRequest:
    status: int
    body: dict
    custom_args: dict
    deliveries: list[Delivery]


LIMIT = 1000


def _errors(message: str, field: str | None) -> dict:
    """SendGrid's error body."""
    return {"errors": [{"message": message, "field": field, "help": None}]}


_ERROR_BODIES = {
    400: _errors("The from address does not match a verified Sender Identity.", "from"),
    429: _errors("too many requests", None),
}
_SERVER_ERROR = _errors("internal error", None)


def _render(template: str, substitutions: dict) -> str:
    if not substitutions:
        return template
    tags = re.compile("|".join(re.escape(tag) for tag in sorted(substitutions, key=len, reverse=True)))
    return tags.sub(lambda match: str(substitutions[match.group()]), template)


def _deliveries(body: dict) -> list[Delivery]:
    text = "".join(part.get("value", "") for part in body.get("content", []) if part.get("type") == "text/plain")
    message_args = body.get("custom_args") or {}
    return [
        Delivery(
            email=to.get("email", ""),
            subject=_render(p.get("subject") or body.get("subject", ""), p.get("substitutions") or {}),
            text=_render(text, p.get("substitutions") or {}),
            custom_args={**message_args, **(p.get("custom_args") or {})},
        )
        for p in body.get("personalizations") or []
        for to in p.get("to", [])
    ]


def limits_error(body: dict) -> tuple[str, str] | None:
    """What SendGrid would refuse this request for (message, field), or None."""
    personalizations = body.get("personalizations") or []
    if not personalizations:
        return "The personalizations field is required and must have at least one personalization.", "personalizations"
    if len(personalizations) > LIMIT:
        return "The personalizations field must contain no more than 1000 personalizations.", "personalizations"
    seen, recipients = set(), 0
    for index, p in enumerate(personalizations):
        for kind in ("to", "cc", "bcc"):
            for entry in p.get(kind) or []:
                recipients += 1
                address = str(entry.get("email", ""))
                if address.lower() in seen:
                    return (
                        "Each email address in the personalization block should be unique between to, cc, and "
                        f"bcc. We found the first duplicate instance of [{address}] in the "
                        f"personalizations.{index}.{kind} field.",
                        f"personalizations.{index}.{kind}",
                    )
                seen.add(address.lower())
        for key, value in (p.get("custom_args") or {}).items():
            if not isinstance(value, str):
                return f"Custom args values must be strings ({key}).", f"personalizations.{index}.custom_args"
    if recipients > LIMIT:
        return "The total number of recipients must be no more than 1000.", "personalizations"
    if not (body.get("from") or {}).get("email"):
        return "The from email does not contain a valid address.", "from.email"
    if not body.get("content") and not body.get("template_id"):
        return "Unless a valid template_id is provided, the content parameter is required.", "content"
    for key, value in (body.get("custom_args") or {}).items():
        if not isinstance(value, str):
            return f"Custom args values must be strings ({key}).", "custom_args"
    return None


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        if self.path != "/v3/mail/send":
            self._answer(404, _errors("not found", None))
            return
        mode = fake.mode
        scripted, held = fake._next_answer()
        problem = limits_error(body)
        if problem:
            status, payload = 400, _errors(*problem)
        elif scripted is not None:
            status = scripted
            payload = None if status < 300 else _ERROR_BODIES.get(status, _SERVER_ERROR)
        else:
            status = 500 if mode == "500" else 202
            payload = None if status == 202 else _SERVER_ERROR
        fake._record(self.path, self.headers.get("Authorization", ""), body, status)
        if held:
            self.close_connection = True  # its sender may be dead by the time it is answered
            fake._held.set()
            fake._release.wait()
        if mode == "timeout" and scripted is None and not problem:
            # Outlast the client's timeout; ends early when the fixture shuts down.
            fake._stop.wait(django_settings.SENDGRID_TIMEOUT_SECONDS + 2)
        self._answer(status, payload, retry_after=status == 429)

    def _answer(self, status: int, payload: dict | None, retry_after: bool = False) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        try:
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", "1")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (timeout case) or died (a held request)
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeSendGrid:
    api_key = "SG.fake-test-key"
    from_email = "grading@example.com"

    def __init__(self):
        self.messages: list[SentMessage] = []
        self.requests: list[RecordedRequest] = []
        self.mode: str | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._answers: deque[int] = deque()
        self._hold_after = 0
        self._hold_count = 0
        self._held = threading.Event()
        self._release = threading.Event()
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

    def answer_next(self, *statuses: int) -> None:
        """Answer the next requests with these statuses, one each, before the failure mode applies."""
        with self._lock:
            self._answers.extend(statuses)

    def hold_requests(self, n: int = 1, after: int = 0) -> None:
        """After ``after`` more requests, accept the next ``n`` but keep their answers until ``release()``."""
        with self._lock:
            self._hold_after, self._hold_count = after, n
            self._held.clear()
            self._release.clear()

    def wait_for_held(self, timeout: float) -> bool:
        """True once a held request has arrived (within ``timeout`` seconds)."""
        return self._held.wait(timeout)

    def release(self) -> None:
        """Answer the held requests (a dead client's answer goes nowhere)."""
        self._release.set()

    def _next_answer(self) -> tuple[int | None, bool]:
        """The scripted status for this request (or None) and whether to hold its answer."""
        with self._lock:
            scripted = self._answers.popleft() if self._answers else None
            held = False
            if self._hold_count:
                if self._hold_after:
                    self._hold_after -= 1
                else:
                    self._hold_count -= 1
                    held = True
            return scripted, held

    def reset(self) -> None:
        """Forget what was recorded and scripted."""
        with self._lock:
            self.messages.clear()
            self.requests.clear()
            self._answers.clear()
            self._hold_after = self._hold_count = 0

    def deliveries(self) -> list[Delivery]:
        """Every recipient's copy of every accepted (2xx) request, in arrival order."""
        with self._lock:
            return [d for r in self.requests if 200 <= r.status < 300 for d in r.deliveries]

    def deliveries_to(self, email: str) -> list[Delivery]:
        return [d for d in self.deliveries() if d.email.lower() == email.lower()]

    def delivery_counts(self) -> Counter:
        """Accepted copies per recipient (lower-cased address)."""
        return Counter(d.email.lower() for d in self.deliveries())

    def accepted_requests(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def _record(self, path: str, authorization: str, body: dict, status: int) -> None:
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
        request = RecordedRequest(
            status=status, body=body, custom_args=body.get("custom_args") or {}, deliveries=_deliveries(body)
        )
        with self._lock:
            self.messages.append(message)
            self.requests.append(request)

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
        self._release.set()
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
