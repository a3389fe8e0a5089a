"""The README's path for a newcomer works as written in a fresh clone: its commands and its links."""

import json
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.live import database_url, free_port

ROOT = Path(__file__).resolve().parent.parent


def test_every_link_in_the_readme_resolves_inside_the_project():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)#\s]+)", readme)
    local = [t for t in targets if not re.match(r"[a-z]+://", t)]

    missing = [t for t in local if not (ROOT / t).exists()]

    assert local, "the README links no project file at all"
    assert missing == []
    assert "../" not in readme  # nothing outside the clone


def _make(*args, **env):
    environment = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "MAKEFLAGS", "MAKELEVEL"}}
    environment["DATABASE_URL"] = database_url()
    environment.update(env)
    return subprocess.run(["make", "-s", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120)


@pytest.mark.django_db(transaction=True)
def test_make_token_prints_an_access_token_for_the_user():
    user = User.objects.create_user("newcomer@example.com")

    done = _make("token", "EMAIL=newcomer@example.com")

    assert done.returncode == 0, done.stderr
    token = AccessToken(done.stdout.strip().splitlines()[-1])
    assert token["user_id"] == str(user.pk)


@pytest.mark.django_db(transaction=True)
def test_make_superuser_makes_a_passwordless_admin():
    done = _make("superuser", "EMAIL=Boss@Example.com")

    assert done.returncode == 0, done.stderr
    admin = User.objects.get(email="boss@example.com")
    assert admin.is_superuser and admin.is_staff and not admin.has_usable_password()


def test_make_token_without_an_email_says_how_to_call_it():
    done = _make("token")

    assert done.returncode != 0
    assert "usage: make token EMAIL=" in done.stderr


def test_make_run_serves_on_the_port_asked_for_with_the_worker_beside_it():
    done = subprocess.run(["make", "-n", "run", "PORT=8765"], cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "runserver 127.0.0.1:8765" in done.stdout
    assert "manage.py worker" in done.stdout


# PostgreSQL's programs, server and client: hidden from make run below.
_POSTGRESQL_PROGRAMS = re.compile(r"(pg_.*|initdb|postgres|postmaster|psql|pgbench|(create|drop)(db|user)|vacuumdb)")


def _path_without_postgresql(directory: Path) -> str:
    """A PATH with every program of this one but PostgreSQL's, linked into ``directory``."""
    directory.mkdir()
    for entry in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(entry):
            continue
        for program in Path(entry).iterdir():
            link = directory / program.name
            if _POSTGRESQL_PROGRAMS.fullmatch(program.name) or link.is_symlink() or not os.access(program, os.X_OK):
                continue
            link.symlink_to(program)
    return str(directory)


class _MakeRun:
    """``make run`` as a newcomer starts it, in the background."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = free_port()
        self.log_path = log
        self.process = subprocess.Popen(
            ["make", "-s", "run", f"PORT={self.port}"],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str, token: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def wait_until_serving(self) -> dict:
        """/healthz's body once it answers; the first run installs, migrates and seeds first."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"make run exited:\n{self.log_path.read_text()}"
            try:
                return self.get("/healthz")[1]
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"make run did not answer within 300 s:\n{self.log_path.read_text()}")

    def stop(self) -> int:
        """TERM, as a terminal's closing or a process manager sends it; make's exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise


def test_make_run_without_postgresql_installed_serves_from_an_embedded_server_that_keeps_its_data(
    tmp_path, embedded_pg_data
):
    data = embedded_pg_data
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "MAKEFLAGS", "MAKELEVEL"}},
        "PATH": _path_without_postgresql(tmp_path / "bin"),
        "GRADING_PG_DATA": str(data),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DATABASE_URL", "DATABASE_CONNECTION_POOL_URL", "DATABASE_REPLICA_URLS"):
        env.pop(name, None)
    log = tmp_path / "make-run.log"

    first = _MakeRun(env, log)
    try:
        assert first.wait_until_serving() == {"up": True, "database": "ok"}
        assert (data / "postmaster.pid").exists()  # served from PostgreSQL, its data where asked
        # A command beside make run uses the same server, and leaves it running.
        made = subprocess.run(
            ["make", "-s", "superuser", "EMAIL=keeper@example.com"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert made.returncode == 0, made.stderr
        assert first.get("/healthz") == (200, {"up": True, "database": "ok"})
    finally:
        first.stop()
    assert not (data / "postmaster.pid").exists()  # the server stopped with make run

    second = _MakeRun(env, log)
    try:
        assert second.wait_until_serving() == {"up": True, "database": "ok"}
        token = subprocess.run(
            ["make", "-s", "token", "EMAIL=keeper@example.com"], cwd=ROOT, env=env, capture_output=True, timeout=120
        )
        assert token.returncode == 0, token.stderr
        status, profile = second.get("/api/profile/", token=token.stdout.decode().strip().splitlines()[-1])
        assert (status, profile["email"]) == (200, "keeper@example.com")
    finally:
        second.stop()
    assert not (data / "postmaster.pid").exists()
