"""``make run`` serves from SQLite: the representations the database writes are the same there.

The course page's teachers and tests are written as JSON by the database (``gradingsite.sql``);
this runs the demo data on a fresh SQLite file in a separate process and reads the API as a client
would.
"""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

READ_THE_API = """
import json
from django.test import Client
from accounts.models import User
from accounts.tokens import issue_tokens
from courses.models import Course

teacher = User.objects.get(email="grace@hey.com")
client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Bearer " + issue_tokens(teacher)["access"])
course = Course.objects.get(name="CRUD with Prisma")
out = {
    "course": client.get(f"/api/courses/{course.pk}/").json(),
    "list": client.get("/api/courses/").json(),
    "tests": client.get(f"/api/courses/{course.pk}/tests/").json(),
}
print(json.dumps(out))
"""


def _run(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )


def test_the_course_page_on_sqlite_matches_the_tests_endpoint(tmp_path):
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    _run("migrate", "--noinput", env=env)
    _run("seed", env=env)
    body = json.loads(_run("shell", "--verbosity", "0", "-c", READ_THE_API, env=env).stdout.splitlines()[-1])

    course = body["course"]
    assert course["my_role"] == "TEACHER"
    assert [t["email"] for t in course["teachers"]] == ["grace@hey.com"]
    assert set(course["teachers"][0]) == {"id", "email", "first_name", "last_name"}
    # The embedded tests are the tests endpoint's rows: same keys, types, order and time format.
    assert len(course["tests"]) == 3
    assert course["tests"] == body["tests"]["results"]
    assert all(t["results_published"] is True and t["updated_at"].endswith("Z") for t in course["tests"])
    assert body["list"]["results"] == [course]


CHANGE_A_RESULT = """
from django.test import Client
from accounts.models import User
from accounts.tokens import issue_tokens
from grading.models import TestResult

teacher = User.objects.get(email="grace@hey.com")
client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Bearer " + issue_tokens(teacher)["access"])
result = TestResult.objects.get(student__email="devi@prisma.io", test__name="First test")
response = client.patch(f"/api/test-results/{result.pk}/", {"score": 777}, content_type="application/json")
assert response.status_code == 200, response.content
"""


def test_on_sqlite_the_worker_sends_due_notices_without_a_job_queue(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "RESULT_NOTIFY_DELAY_SECONDS": "0",
        "SENDGRID_API_KEY": "",
    }
    _run("migrate", "--noinput", env=env)
    _run("seed", env=env)
    _run("shell", "--verbosity", "0", "-c", CHANGE_A_RESULT, env=env)

    worker = subprocess.Popen(
        [sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(line.decode() for line in worker.stdout), daemon=True)
    reader.start()
    # Wait for the email in the log, however long a busy machine takes to start the worker.
    deadline = time.monotonic() + 120
    try:
        while not any("Your result:" in line for line in lines) and time.monotonic() < deadline:
            if worker.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        reader.join(timeout=60)
    log = "".join(lines)

    assert "to devi@prisma.io" in log
    assert "Your result: 777 out of 1000 (77.7%)" in log
    assert "david@prisma.io" not in log  # only the student whose result changed
    assert worker.returncode == 0  # SIGTERM ends it cleanly
