"""POST /api/auth/login/: creating users, emailing codes through SendGrid, and the login limits."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.utils import timezone

from accounts.models import LoginCode, LoginThrottle, User

LOGIN = "/api/auth/login/"


@pytest.fixture
def api(client_for):
    return client_for(None)


def login(api, email, **extra):
    return api.post(LOGIN, {"email": email}, format="json", **extra)


def test_login_emails_a_code_through_sendgrid(api, fake_sendgrid, db):
    response = login(api, "Ada@Example.com")

    assert response.status_code == 200
    assert set(response.json()) == {"detail"}
    [message] = fake_sendgrid.messages
    assert message.path == "/v3/mail/send"
    assert message.authorization == f"Bearer {fake_sendgrid.api_key}"
    assert message.from_email == fake_sendgrid.from_email
    assert message.to == ["ada@example.com"]
    assert message.subject == "Your sign-in code"
    code = fake_sendgrid.latest_code("ada@example.com")
    assert len(code) == 8
    assert "10 minutes" in message.text
    assert "did not ask" in message.text


def test_login_creates_a_new_user_with_the_lowercased_email(api, fake_sendgrid, db):
    login(api, "  New.Person@Example.COM ")

    user = User.objects.get()
    assert user.email == "new.person@example.com"
    assert not user.has_usable_password()
    assert LoginCode.objects.filter(user=user).count() == 1


def test_login_for_an_existing_user_creates_no_one(api, fake_sendgrid, student):
    response = login(api, "STUDENT@example.com")

    assert response.status_code == 200
    assert User.objects.count() == 1
    assert fake_sendgrid.last_message_to("student@example.com")


def test_login_works_without_a_trailing_slash(api, fake_sendgrid, db):
    response = api.post("/api/auth/login", {"email": "a@example.com"}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize("body", [{}, {"email": ""}, {"email": "not-an-email"}, {"email": ["a@example.com"]}])
def test_login_rejects_a_bad_email_with_400(api, fake_sendgrid, db, body):
    response = api.post(LOGIN, body, format="json")

    assert response.status_code == 400
    assert "email" in response.json()
    assert fake_sendgrid.messages == []
    assert User.objects.count() == 0


def test_login_ignores_a_stale_bearer_token(api, fake_sendgrid, db):
    api.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert login(api, "a@example.com").status_code == 200


def test_login_for_a_deactivated_user_answers_the_same_and_sends_nothing(api, fake_sendgrid, student):
    student.is_active = False
    student.save()

    response = login(api, "student@example.com")

    assert response.status_code == 200
    assert fake_sendgrid.messages == []
    assert not LoginCode.objects.exists()


def test_without_a_sendgrid_key_the_code_goes_to_the_log(api, settings, caplog, db):
    settings.SENDGRID_API_KEY = None

    with caplog.at_level("INFO", logger="accounts.email"):
        response = login(api, "dev@example.com")

    assert response.status_code == 200
    assert "dev@example.com" in caplog.text
    assert LoginCode.objects.filter(user__email="dev@example.com").exists()


def test_with_real_email_the_code_is_never_logged(api, fake_sendgrid, caplog, db):
    with caplog.at_level("DEBUG"):
        login(api, "ada@example.com")

    code = fake_sendgrid.latest_code("ada@example.com")
    assert code not in caplog.text
    assert fake_sendgrid.api_key not in caplog.text


@pytest.mark.parametrize("mode", ["500", "timeout", "refused"])
def test_sendgrid_failing_is_a_quick_503_with_json(api, fake_sendgrid, settings, db, mode):
    settings.SENDGRID_TIMEOUT_SECONDS = 1
    fake_sendgrid.fail_with(mode)

    started = time.monotonic()
    response = login(api, "ada@example.com")
    elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()
    assert elapsed < 3
    if mode != "refused":
        assert fake_sendgrid.last_message_to("ada@example.com").path == "/v3/mail/send"


def test_sendgrid_recovering_sends_again(api, fake_sendgrid, db):
    fake_sendgrid.fail_with("refused")
    assert login(api, "ada@example.com").status_code == 503

    fake_sendgrid.fail_with(None)
    assert login(api, "ada@example.com").status_code == 200
    assert fake_sendgrid.latest_code("ada@example.com")


# --- limits ---------------------------------------------------------------------------


def test_sixth_code_for_one_email_within_an_hour_is_429_with_retry_after(api, fake_sendgrid, settings, db):
    settings.LOGIN_CODES_PER_EMAIL_PER_HOUR = 5
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            assert login(api, "ada@example.com").status_code == 200
            traveller.shift(60)

        response = login(api, "ADA@example.com")

        assert response.status_code == 429
        assert "detail" in response.json()
        # The first code was counted 5 minutes ago: it leaves the hour window in 55 minutes.
        assert int(response["Retry-After"]) == 55 * 60
        assert len(fake_sendgrid.messages) == 5

        traveller.shift(55 * 60)
        assert login(api, "ada@example.com").status_code == 200


def test_the_email_limit_does_not_touch_other_addresses(api, fake_sendgrid, settings, db):
    settings.LOGIN_CODES_PER_EMAIL_PER_HOUR = 2
    for _ in range(2):
        login(api, "ada@example.com")

    assert login(api, "ada@example.com").status_code == 429
    assert login(api, "bob@example.com").status_code == 200


def test_thirty_first_login_request_from_one_ip_is_429(api, fake_sendgrid, settings, db):
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 30
    for n in range(30):
        assert login(api, f"user{n}@example.com").status_code == 200

    response = login(api, "one-more@example.com")

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert not User.objects.filter(email="one-more@example.com").exists()
    assert len(fake_sendgrid.messages) == 30


def test_another_ip_has_its_own_limit(api, fake_sendgrid, settings, db):
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 2
    for n in range(2):
        login(api, f"user{n}@example.com", REMOTE_ADDR="10.0.0.1")

    assert login(api, "x@example.com", REMOTE_ADDR="10.0.0.1").status_code == 429
    assert login(api, "x@example.com", REMOTE_ADDR="10.0.0.2").status_code == 200


def test_a_refused_request_is_not_counted(api, fake_sendgrid, settings, db):
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        login(api, "a@example.com")
        traveller.shift(600)
        login(api, "b@example.com")
        for _ in range(5):
            traveller.shift(60)
            assert login(api, "c@example.com").status_code == 429

        # 60 minutes after the first request one slot frees up, whatever was refused meanwhile.
        traveller.shift(3600 - 600 - 5 * 60)
        assert login(api, "c@example.com").status_code == 200


def test_spoofed_x_forwarded_for_does_not_reset_the_ip_limit(api, fake_sendgrid, settings, db):
    # Behind one proxy (Heroku's router), which appends the address it saw, the client's own, and
    # always sets X-Forwarded-Proto.
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 3
    routed = {"HTTP_X_FORWARDED_PROTO": "https", "secure": True}
    for n in range(3):
        response = login(api, f"user{n}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.9", **routed)
        assert response.status_code == 200

    response = login(api, "next@example.com", HTTP_X_FORWARDED_FOR="198.51.100.77, 203.0.113.9", **routed)

    assert response.status_code == 429
    assert LoginThrottle.objects.filter(key="ip:203.0.113.9").exists()
    assert not LoginThrottle.objects.filter(key__startswith="ip:198.51.100.").exists()
    # Another client behind the same router is counted on its own.
    assert login(api, "next@example.com", HTTP_X_FORWARDED_FOR="203.0.113.10", **routed).status_code == 200


def test_a_client_talking_to_the_process_directly_cannot_pick_its_address(api, fake_sendgrid, settings, db):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 3
    for n in range(3):
        assert login(api, f"user{n}@example.com", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code == 200

    response = login(api, "next@example.com", HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429
    assert list(LoginThrottle.objects.filter(key__startswith="ip:").values_list("key", flat=True)) == ["ip:127.0.0.1"]


def test_with_no_trusted_proxy_x_forwarded_for_is_ignored(api, fake_sendgrid, settings, db):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 1
    login(api, "a@example.com", HTTP_X_FORWARDED_FOR="1.1.1.1")

    response = login(api, "b@example.com", HTTP_X_FORWARDED_FOR="2.2.2.2")

    assert response.status_code == 429
    assert LoginThrottle.objects.filter(key="ip:127.0.0.1").exists()


def test_old_limit_rows_are_cleared(api, fake_sendgrid, db):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        login(api, "old@example.com")
        traveller.shift(2 * 3600)
        login(api, "new@example.com", REMOTE_ADDR="10.9.9.9")

    assert not LoginThrottle.objects.filter(key="email:old@example.com").exists()
    assert LoginThrottle.objects.filter(key="email:new@example.com").exists()


# --- limits shared by every process ----------------------------------------------------


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def _gunicorn(env: dict):
    """A one-worker gunicorn of this app on a free port, in its own process; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "gradingsite.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            "--workers=1",
            "--preload",
            "--no-control-socket",
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        seen = []
        for line in process.stderr:  # blocks until gunicorn has loaded the app and started its worker
            seen.append(line)
            if "Booting worker" in line:
                break
        else:
            pytest.fail("gunicorn did not start:\n" + "".join(seen))
        threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _post(url: str, body: dict) -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"{}")


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_share_the_login_limits(fake_sendgrid):
    env = {
        "DEBUG": "1",
        "DATABASE_URL": _database_url(),
        "CONN_MAX_AGE": "0",
        "TRUSTED_PROXY_COUNT": "0",
        "LOGIN_REQUESTS_PER_IP_PER_HOUR": "4",
        "LOGIN_CODES_PER_EMAIL_PER_HOUR": "2",
        "SENDGRID_API_KEY": fake_sendgrid.api_key,
        "SENDGRID_API_HOST": fake_sendgrid.url,
        "DEFAULT_FROM_EMAIL": fake_sendgrid.from_email,
    }
    with _gunicorn(env) as one, _gunicorn(env) as two:
        # Two codes for one address, one through each process: the third is refused by either.
        assert _post(f"{one}/api/auth/login/", {"email": "ada@example.com"})[0] == 200
        assert _post(f"{two}/api/auth/login/", {"email": "ada@example.com"})[0] == 200
        status, headers, body = _post(f"{one}/api/auth/login/", {"email": "ada@example.com"})
        assert status == 429
        assert int(headers["Retry-After"]) > 0
        assert "detail" in body

        # The address 127.0.0.1 has made 2 counted requests; two more fit, one per process.
        assert _post(f"{two}/api/auth/login/", {"email": "bob@example.com"})[0] == 200
        assert _post(f"{one}/api/auth/login/", {"email": "cy@example.com"})[0] == 200
        assert _post(f"{two}/api/auth/login/", {"email": "dee@example.com"})[0] == 429
        assert _post(f"{one}/api/auth/login/", {"email": "dee@example.com"})[0] == 429

        # A code emailed by one process is redeemed through the other, once.
        code = fake_sendgrid.latest_code("bob@example.com")
        status, headers, body = _post(f"{one}/api/auth/authenticate/", {"email": "bob@example.com", "code": code})
        assert status == 200
        assert headers["Authorization"] == f"Bearer {body['access']}"
        assert _post(f"{two}/api/auth/authenticate/", {"email": "bob@example.com", "code": code})[0] == 401

    assert len(fake_sendgrid.messages) == 4
    assert len(LoginThrottle.objects.get(key="ip:127.0.0.1").hits) == 4


@pytest.mark.parametrize(
    ("hop", "counted_as"),
    [
        ("a" * 70, "127.0.0.1"),  # not an address: the connection's own
        ("6.6.6.6:8080", "127.0.0.1"),
        ("::ffff:6.6.6.6", "6.6.6.6"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        (" 6.6.6.6 ", "6.6.6.6"),
    ],
)
def test_the_hop_counted_is_an_address_normalised_and_ipv6_by_its_64(api, fake_sendgrid, settings, db, hop, counted_as):
    settings.TRUSTED_PROXY_COUNT = 1
    login(api, "a@example.com", HTTP_X_FORWARDED_FOR=hop, HTTP_X_FORWARDED_PROTO="https", secure=True)

    assert list(LoginThrottle.objects.filter(key__startswith="ip:").values_list("key", flat=True)) == [
        f"ip:{counted_as}"
    ]


def test_addresses_of_one_client_share_its_limit(api, fake_sendgrid, settings, db):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_REQUESTS_PER_IP_PER_HOUR = 3
    routed = {"HTTP_X_FORWARDED_PROTO": "https", "secure": True}
    spellings = ["6.6.6.6", "::ffff:6.6.6.6", "::FFFF:6.6.6.6"]
    for n, address in enumerate(spellings):
        assert login(api, f"u{n}@example.com", HTTP_X_FORWARDED_FOR=address, **routed).status_code == 200
    # Another address in the same IPv6 /64 is the same subscriber.
    for n, address in enumerate(["2001:db8::1", "2001:db8::2", "2001:db8::ffff:1"]):
        assert login(api, f"v{n}@example.com", HTTP_X_FORWARDED_FOR=address, **routed).status_code == 200

    assert login(api, "w@example.com", HTTP_X_FORWARDED_FOR="6.6.6.6", **routed).status_code == 429
    assert login(api, "w@example.com", HTTP_X_FORWARDED_FOR="2001:db8::9", **routed).status_code == 429


@pytest.mark.parametrize(("dyno", "expected"), [(None, "0"), ("web.1", "1")])
def test_proxies_are_trusted_by_default_only_in_a_heroku_dyno(dyno, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DYNO", "TRUSTED_PROXY_COUNT"}}
    env |= {"SECRET_KEY": "s" * 50, "JWT_SECRET": "j" * 50} | ({"DYNO": dyno} if dyno else {})
    env.pop("DEBUG", None)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.TRUSTED_PROXY_COUNT)",
        ],
        env={**env, "DJANGO_SETTINGS_MODULE": "gradingsite.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == expected, done.stderr
