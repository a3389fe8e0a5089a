"""The fake SendGrid speaks SendGrid's rules, so the tests that rely on it can trust what it counts."""

import json
import threading
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
        (_body("ada@example.com", "ADA@example.com"), "personalizations.1.to"),
        (_body("ada@example.com", **{"from": {}}), "from.email"),
        (_body("ada@example.com", content=[]), "content"),
        (_body("ada@example.com", custom_args={"batch": 1}), "custom_args"),
    ],
    ids=["1001 personalizations", "an address twice", "no sender", "no content", "a number in custom_args"],
)
def test_what_sendgrid_refuses_is_a_400_and_no_delivery(fake, body, field):
    status, _, error = _post(fake, body)

    assert status == 400
    assert error["errors"][0]["field"] == field
    assert fake.deliveries() == []
    assert [r.status for r in fake.requests] == [400]


def test_scripted_answers_come_first_then_the_normal_one(fake):
    fake.answer_next(500, 429)
    answers = [_post(fake, _body("ada@example.com")) for _ in range(3)]

    assert [status for status, _, _ in answers] == [500, 429, 202]
    assert answers[1][1]["Retry-After"] == "1"
    assert fake.delivery_counts() == {"ada@example.com": 1}


def test_a_held_request_is_accepted_and_answered_on_release(fake):
    fake.hold_requests(1, after=1)
    assert _post(fake, _body("first@example.com"))[0] == 202
    answered = []
    sender = threading.Thread(target=lambda: answered.append(_post(fake, _body("held@example.com"))[0]))
    sender.start()

    assert fake.wait_for_held(5)
    assert answered == []
    assert fake.delivery_counts() == {"first@example.com": 1, "held@example.com": 1}
    fake.release()
    sender.join(5)
    assert answered == [202]
