"""The fake SendGrid speaks SendGrid's rules, so the tests that rely on it can trust what it counts."""

import json
import socket
import struct
import threading
import time
import urllib.error
import urllib.request

import pytest

from tests.fakes import FakeSendGrid


@pytest.fixture
def fake():
    server = FakeSendGrid()
    yield server
    server.shutdown()


def _post(fake, body) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        f"{fake.url}/v3/mail/send",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {fake.api_key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), {}
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


def _body(*addresses, **extra):
    return {
        "from": {"email": "grading@example.com"},
        "subject": "Hi {{name}}",
        "content": [{"type": "text/plain", "value": "Dear {{name}}, you scored {{score}}."}],
        "personalizations": [
            {"to": [{"email": a}], "substitutions": {"{{name}}": a.split("@")[0], "{{score}}": "9"}} for a in addresses
        ],
        **extra,
    }


def _with(body, key, value, index=0):
    body["personalizations"][index][key] = value
    return body


def _handler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


def test_each_recipient_reads_their_own_substitutions(fake):
    status, _, _ = _post(fake, _body("ada@example.com", "alan@example.com"))

    assert status == 202
    assert [(d.email, d.subject, d.text) for d in fake.deliveries()] == [
        ("ada@example.com", "Hi ada", "Dear ada, you scored 9."),
        ("alan@example.com", "Hi alan", "Dear alan, you scored 9."),
    ]


def test_message_and_personalization_custom_args_merge(fake):
    body = _body("ada@example.com", custom_args={"send_key": "k1"})
    body["personalizations"][0]["custom_args"] = {"student_id": "7"}
    _post(fake, body)

    assert fake.deliveries()[0].custom_args == {"send_key": "k1", "student_id": "7"}
    assert fake.requests[0].custom_args == {"send_key": "k1"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_body(*[f"s{i}@example.com" for i in range(1001)]), "personalizations"),
        (
            _with(_body("a@example.com"), "bcc", [{"email": f"s{i}@example.com"} for i in range(1000)]),
            "personalizations",
        ),
        (_body("ada@example.com", "ADA@example.com"), "personalizations.1.to"),
        (_with(_body("ada@example.com"), "cc", [{"email": "Ada@Example.com"}]), "personalizations.0.cc"),
        (_body("ada@example.com", **{"from": {}}), "from.email"),
        (_body("ada@example.com", content=[]), "content"),
        (_body("ada@example.com", custom_args={"batch": 1}), "custom_args"),
    ],
    ids=[
        "1001 personalizations",
        "1001 recipients",
        "an address twice",
        "an address in to and cc",
        "no sender",
        "no content",
        "a number in custom_args",
    ],
)
def test_what_sendgrid_refuses_is_a_400_and_no_delivery(fake, body, field):
    status, _, error = _post(fake, body)

    assert status == 400
    assert error["errors"][0]["field"] == field
    assert fake.deliveries() == []
    assert [r.status for r in fake.requests] == [400]


def test_scripted_answers_come_first_then_the_failure_mode(fake):
    fake.answer_next(500, 202)
    fake.fail_with("500")
    answers = [_post(fake, _body("ada@example.com")) for _ in range(3)]

    assert [status for status, _, _ in answers] == [500, 202, 500]
    assert answers[0][2]["errors"][0]["message"]
    assert fake.delivery_counts() == {"ada@example.com": 1}


def test_a_429_asks_to_retry_after_a_second_and_delivers_nothing(fake):
    fake.answer_next(429)
    status, headers, _ = _post(fake, _body("ada@example.com"))

    assert (status, headers["Retry-After"]) == (429, "1")
    assert fake.deliveries() == []
    assert _post(fake, _body("ada@example.com"))[0] == 202


def test_a_scripted_400_says_the_sender_is_not_verified(fake):
    fake.answer_next(400)
    status, _, error = _post(fake, _body("ada@example.com"))

    assert status == 400
    assert error == {
        "errors": [
            {"message": "The from address does not match a verified Sender Identity.", "field": "from", "help": None}
        ]
    }
    assert fake.deliveries() == []


def test_delivery_counts_add_up_every_accepted_copy_by_lower_cased_address(fake):
    _post(fake, _body("Ada@Example.com", "alan@example.com"))
    _post(fake, _body("ada@example.com"))
    fake.answer_next(500)
    _post(fake, _body("alan@example.com"))

    assert fake.delivery_counts() == {"ada@example.com": 2, "alan@example.com": 1}
    assert [d.email for d in fake.deliveries_to("ADA@example.com")] == ["Ada@Example.com", "ada@example.com"]
    assert len(fake.accepted_requests()) == 2
    assert [m.answered for m in fake.messages] == [202, 202, 500]


def test_reset_forgets_recordings_and_scripted_answers(fake):
    _post(fake, _body("ada@example.com"))
    fake.answer_next(500)
    fake.reset()

    assert (fake.requests, fake.messages) == ([], [])
    assert _post(fake, _body("ada@example.com"))[0] == 202


def test_a_held_request_is_accepted_and_answered_on_release(fake):
    fake.hold_requests(1, after=1)
    assert _post(fake, _body("first@example.com"))[0] == 202
    answered = []
    sender = threading.Thread(target=lambda: answered.append(_post(fake, _body("held@example.com"))[0]))
    sender.start()

    assert fake.wait_for_held(60)
    assert answered == []
    assert fake.delivery_counts() == {"first@example.com": 1, "held@example.com": 1}
    fake.release()
    sender.join(5)
    assert answered == [202]


def test_a_held_answer_to_a_dead_client_goes_nowhere_and_the_server_keeps_working(fake, capsys):
    fake.hold_requests()
    data = json.dumps(_body("ada@example.com")).encode()
    client = socket.create_connection(("127.0.0.1", fake.port))
    client.sendall(b"POST /v3/mail/send HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data))
    assert fake.wait_for_held(60)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # dies with a reset
    client.close()

    fake.release()
    deadline = time.monotonic() + 60
    while _handler_threads() and time.monotonic() < deadline:
        time.sleep(0.01)

    assert _handler_threads() == []
    assert capsys.readouterr().err == ""  # no traceback from the handler
    assert fake.delivery_counts() == {"ada@example.com": 1}
    assert _post(fake, _body("alan@example.com"))[0] == 202
