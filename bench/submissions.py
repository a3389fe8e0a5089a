#!/usr/bin/env python3
"""Benchmark of submissions: the submit POST against a result POST, and the grading queue of a test
of 1,000 students against the 1,000-result list of the same test.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``), migrates it and loads ``manage.py seed --students
   1000 --tests 1 --courses 1`` (1,000 results); makes that test online, due yesterday, in a course
   with a late policy, and gives every student one attempt after the results were written (so all
   1,000 are in the queue), and every fifth an extension;
2. starts gunicorn as production runs it (DEBUG off, gunicorn.conf.py), one worker;
3. times, one request at a time, to the last byte, ``--repeat`` requests each after a warm-up, the
   two requests of each comparison taking turns:
   ``GET /api/tests/{id}/submissions/?latest=true&graded=false&page_size=1000`` (the queue) and
   ``GET /api/tests/{id}/results/?page_size=1000``; ``POST /api/tests/{id}/submissions/`` (a
   student's next attempt; the seeded student's, attempts unlimited) and ``POST
   /api/tests/{id}/results/`` (a fresh student each time, on a second test of the course);
4. prints a markdown table with the medians and their ratios, stops gunicorn and drops the database.

Run from the project root: ``.venv/bin/python bench/submissions.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradebook as bench  # the gradebook benchmark's database and gunicorn helpers

SETUP = """
from datetime import timedelta
from django.utils import timezone
from courses.models import Course, Role
from grading.models import Extension, Submission, Test, TestResult
from accounts.models import User
course = Course.objects.get(name={course!r})
course.late_policy = {{"deduction_percent": 10, "interval": "day", "minimum_percent": 50}}
course.save(update_fields=["late_policy"])
test = Test.objects.filter(course=course).order_by("id").first()
Test.objects.filter(pk=test.pk).update(
    submission_type="online", due_at=timezone.now() - timedelta(days=1), allowed_attempts=None
)
students = list(User.objects.filter(enrollments__course=course, enrollments__role=Role.STUDENT).order_by("id"))
now = timezone.now()
Submission.objects.bulk_create(
    [Submission(test=test, student=s, attempt=1, submitted_at=now, body="An essay. " * 50) for s in students]
)
Extension.objects.bulk_create(
    [Extension(test=test, student=s, due_at=now + timedelta(days=1)) for s in students[::5]]
)
other = Test.objects.create(course=course, name="Bench POST", date=test.date)
print(json.dumps({{"test": test.pk, "other": other.pk, "students": [s.pk for s in students],
                  "student_email": students[0].email}}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed requests per endpoint (default 30)")
    args = parser.parse_args()

    server = bench._server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database = f"bench_submissions_{secrets.token_hex(4)}"
    gunicorn = None
    try:
        env = bench._prepare(server, database, ["--students", "1000", "--tests", "1"])
        _course_id, teacher = bench._world(env)
        world = json.loads(
            bench._manage(
                env, "shell", "--verbosity=0", "-c", "import json\n" + SETUP.format(course=bench.COURSE)
            ).splitlines()[-1]
        )
        student = bench._manage(env, "issue_token", world["student_email"]).strip()
        gunicorn, port = bench._start(env)
        test, other = world["test"], world["other"]
        queue = f"/api/tests/{test}/submissions/?latest=true&graded=false&page_size=1000"
        results = f"/api/tests/{test}/results/?page_size=1000"
        fresh = iter(world["students"][1:])
        measured = _timed(
            args.repeat,
            {
                "queue": lambda: _call(port, "GET", queue, teacher, expect=200, count=1000),
                "results": lambda: _call(port, "GET", results, teacher, expect=200, count=1000),
            },
        ) | _timed(
            args.repeat,
            {
                "submit": lambda: _call(
                    port, "POST", f"/api/tests/{test}/submissions/", student, {"body": "Again."}, 201
                ),
                "grade": lambda: _call(
                    port, "POST", f"/api/tests/{other}/results/", teacher, {"student": next(fresh), "score": 7}, 201
                ),
            },
        )
        _report(measured, args.repeat)
    finally:
        if gunicorn is not None:
            bench._stop(gunicorn)
        bench._psql(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


def _call(port: int, method: str, path: str, token: str, body=None, expect: int = 200, count: int | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=headers)
    response = connection.getresponse()
    content = response.read()
    connection.close()
    if response.status != expect:
        raise SystemExit(f"{method} {path} answered {response.status}: {content[:300]!r}")
    if count is not None and len(json.loads(content)["results"]) != count:
        raise SystemExit(f"{method} {path} listed {len(json.loads(content)['results'])}, not {count}")
    return len(content)


def _timed(repeat: int, calls: dict) -> dict[str, list[float]]:
    """``repeat`` timings (ms) of each call after a warm-up, the calls taking turns request by request
    (so a busy moment of the machine falls on both sides of a comparison)."""
    for call in calls.values():
        for _ in range(3):
            call()
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(repeat):
        for key, call in calls.items():
            started = time.perf_counter()
            call()
            times[key].append((time.perf_counter() - started) * 1000)
    return times


def _report(measured: dict[str, list[float]], repeat: int) -> None:
    median = {key: statistics.median(times) for key, times in measured.items()}
    names = {
        "queue": "grading queue, 1,000 students (`?latest=true&graded=false&page_size=1000`)",
        "results": "results list, 1,000 results (`?page_size=1000`)",
        "submit": "`POST /api/tests/{id}/submissions/`",
        "grade": "`POST /api/tests/{id}/results/`",
    }
    print(f"\n| request (one worker, one at a time, {repeat} runs) | median ms | min | max |")
    print("|---|---|---|---|")
    for key, times in measured.items():
        print(f"| {names[key]} | {median[key]:.1f} | {min(times):.1f} | {max(times):.1f} |")
    print(f"\nqueue / results list: {median['queue'] / median['results']:.2f}x (goal: at most 1.5x)")
    print(f"submit / result POST: {median['submit'] / median['grade']:.2f}x (goal: at most 1.5x)")


if __name__ == "__main__":
    sys.exit(main())
