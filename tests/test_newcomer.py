"""The README's path for a newcomer works as written in a fresh clone: its commands and its links."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from tests.live import database_url

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
