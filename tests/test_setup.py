import os
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command

from accounts.models import User


@pytest.mark.django_db
def test_createsuperuser_works_with_only_an_email():
    with mock.patch.dict(os.environ, {"DJANGO_SUPERUSER_PASSWORD": "a-long-admin-passphrase"}):
        call_command("createsuperuser", "--noinput", "--email", "Boss@Example.com", stdout=StringIO())
    boss = User.objects.get(email="boss@example.com")
    assert boss.is_superuser and boss.is_staff
    assert boss.check_password("a-long-admin-passphrase")


@pytest.mark.django_db
def test_createsuperuser_without_a_password_makes_a_code_login_admin():
    call_command("createsuperuser", "--noinput", "--email", "ops@example.com", stdout=StringIO())
    ops = User.objects.get(email="ops@example.com")
    assert ops.is_superuser
    assert not ops.has_usable_password()


@pytest.mark.django_db(databases=["default", "direct"])
def test_migrations_are_complete():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def _start_with(env_overrides):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "JWT_SECRET"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_production_refuses_to_start_without_secrets_and_names_them_in_one_line():
    result = _start_with({})
    assert result.returncode == 1
    assert "SECRET_KEY and JWT_SECRET must be set" in result.stderr
    assert "DEBUG=1" in result.stderr  # what a developer on their own machine wants
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_production_names_the_one_missing_secret():
    result = _start_with({"SECRET_KEY": "s" * 50})
    assert result.returncode != 0
    assert "JWT_SECRET must be set" in result.stderr
    assert "SECRET_KEY and" not in result.stderr


def test_production_starts_with_both_secrets():
    result = _start_with({"SECRET_KEY": "s" * 50, "JWT_SECRET": "j" * 50})
    assert result.returncode == 0, result.stderr
