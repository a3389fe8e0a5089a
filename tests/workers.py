"""Real worker processes for tests: ``python manage.py worker`` as the Procfile starts it, on the
test database, with the fake SendGrid over real HTTP.

Fixtures (registered through ``pytest_plugins`` in ``tests/conftest.py``):

- ``start_worker(**environment)``: starts a worker (transactional tests: it reads what they commit),
  stopped at the end of the test, its log shown then; the job queue is emptied before and after.
- ``sendgrid``: the fake SendGrid the worker sends to.

``wait_until(condition, timeout, what)`` waits for what a worker does, with a generous deadline.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.live import database_url

ROOT = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 40


def wait_until(condition, timeout=WAIT_SECONDS, what="the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _clear_job_queue():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM procrastinate_jobs")
        cursor.execute("DELETE FROM procrastinate_workers")


@pytest.fixture
def sendgrid(fake_sendgrid):
    return fake_sendgrid


@pytest.fixture
def start_worker(transactional_db, sendgrid, tmp_path):
    """``start_worker(**settings)``: a worker process on the test database, stopped at the end of the test;
    ``settings`` override its environment (``NOTIFY_RETRY_BASE_SECONDS=3600``)."""
    _clear_job_queue()
    started = []
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SENDGRID_API_KEY": sendgrid.api_key,
        "SENDGRID_API_HOST": sendgrid.url,
        "DEFAULT_FROM_EMAIL": sendgrid.from_email,
        "SENDGRID_TIMEOUT_SECONDS": "5",
        "WORKER_POLL_SECONDS": "1",
        "WORKER_STALLED_SECONDS": "2",
        "NOTIFY_RETRY_BASE_SECONDS": "1",
        "NOTIFY_MAX_ATTEMPTS": "4",
    }

    def start(**settings) -> subprocess.Popen:
        log = open(tmp_path / f"worker{len(started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "manage.py", "worker"],
            cwd=ROOT,
            env=env | {name: str(value) for name, value in settings.items()},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append((process, log))
        return process

    yield start
    for process, log in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
    for path in sorted(tmp_path.glob("worker*.log")):
        sys.stderr.write(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}\n")
    _clear_job_queue()
