#!/usr/bin/env python3
"""Load benchmark of the API under production settings, compared with the original Node app.

What it does, start to end (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database ``bench_<random>`` on the server of ``$DATABASE_URL``
   (default ``postgres://postgres@127.0.0.1:5432``; user ``postgres`` with trust auth);
2. migrates it and loads ``manage.py seed --students 1000 --tests 20 --courses 3``;
3. gets access tokens with ``manage.py issue_token`` for a bulk course's teacher and a student;
4. starts gunicorn as production runs it (``gunicorn.conf.py``: sync workers, access log; DEBUG off,
   generated ``SECRET_KEY``/``JWT_SECRET``), 2 workers bound to ``127.0.0.1:<port>``, no control socket;
5. runs wrk (``bench/requests.lua``) at 16 and 64 connections, ~10 s each, against five endpoints;
   the POST grades a fresh (test, student) pair on every request, so each should be a 201;
6. prints requests/s (2xx only) and p50/p99 latency per endpoint, writes ``bench/RESULTS.md``,
   stops gunicorn and drops the database.

Run it from the project root: ``.venv/bin/python bench/run.py`` (``--help`` for options). Needs
``wrk`` (``apt-get install wrk``). It takes about three minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"

# Requests/s of the original app (Node 20, Hapi, Prisma 6) on this machine at 16 connections.
BASELINE_16 = {
    "course": 490,
    "results": 140,
    "user_results": 490,
    "profile": 650,
    "post_result": 330,
}

STUDENTS, TESTS, COURSES = 1000, 20, 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", default="16,64", help="comma-separated connection counts (default 16,64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--port", type=int, default=0, help="port for gunicorn (default: a free one)")
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        help="one more gunicorn argument, e.g. --gunicorn-arg=--threads=4",
    )
    parser.add_argument("--only", default="", help="comma-separated endpoint keys to run (default: all)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per endpoint and connection count; the best is kept (default 1)"
    )
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database at the end")
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"), help="markdown file to write")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    port = args.port or _free_port()

    server = _server_url(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    db_name = f"bench_{secrets.token_hex(4)}"
    env = _production_env(_with_db(server, db_name))

    gunicorn = None
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    _psql(server, f'CREATE DATABASE "{db_name}"')
    try:
        _step(f"database {db_name}: migrate")
        _manage(env, "migrate", "--noinput", quiet=True)
        _step(f"seed --students {STUDENTS} --tests {TESTS} --courses {COURSES}")
        started = time.monotonic()
        _manage(env, "seed", "--students", str(STUDENTS), "--tests", str(TESTS), "--courses", str(COURSES))
        print(f"    seeded in {time.monotonic() - started:.1f} s")
        world = _world(env)
        teacher_token = _manage(env, "issue_token", world["teacher_email"], capture=True).strip()
        post_teacher_token = _manage(env, "issue_token", world["post_teacher_email"], capture=True).strip()
        student_token = _manage(env, "issue_token", world["student_email"], capture=True).strip()

        _step(f"gunicorn: {args.workers} workers on 127.0.0.1:{port} (log: {log.name})")
        gunicorn = subprocess.Popen(  # noqa: S603
            [
                str(VENV_BIN / "gunicorn"),
                "gradingsite.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--no-control-socket",
                *args.gunicorn_arg,
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base, gunicorn)

        endpoints = {
            "course": ("GET /api/courses/{id}/", f"/api/courses/{world['course_id']}/", teacher_token),
            "results": (
                "GET /api/tests/{id}/results/?page_size=1000",
                f"/api/tests/{world['test_id']}/results/?page_size=1000",
                teacher_token,
            ),
            "user_results": (
                "GET /api/users/{id}/test-results/?page_size=20",
                f"/api/users/{world['student_id']}/test-results/?page_size=20",
                student_token,
            ),
            "profile": ("GET /api/profile/", "/api/profile/", student_token),
            "post_result": ("POST /api/tests/{id}/results/", None, post_teacher_token),
        }
        if args.only:
            wanted = {key.strip() for key in args.only.split(",")}
            endpoints = {key: value for key, value in endpoints.items() if key in wanted}

        _check_responses(base, endpoints)
        _step("warm-up: 2 s per GET endpoint")
        for _, path, token in endpoints.values():
            if path:
                _wrk(base + path, token, connections=16, duration=2, threads=args.threads)

        # Rounds over every endpoint rather than repeats back to back: a burst of other work on the
        # machine then spoils one run of several endpoints instead of every run of one.
        best: dict[tuple[str, int], dict] = {}
        for round_ in range(1, max(1, args.repeat) + 1):
            for key, (label, path, token) in endpoints.items():
                for conns in connections:
                    extra = {}
                    if key == "post_result":
                        # Enough fresh (test, student) pairs for far more requests than a run can make.
                        pairs = _fresh_pairs(env, world, 3000 * args.duration, conns)
                        extra = {"BENCH_MODE": "post", "BENCH_PAIRS": pairs}
                    _step(f"{label} at {conns} connections for {args.duration} s (round {round_})")
                    load = os.getloadavg()[0]
                    url = base + (path or "/")
                    stats = _wrk(url, token, connections=conns, duration=args.duration, threads=args.threads, env=extra)
                    row = _row(key, label, conns, stats, load)
                    print(
                        f"    {row['rps']:8.1f} req/s (2xx)   p50 {row['p50']:7.1f} ms   p99 {row['p99']:7.1f} ms"
                        f"   non-2xx {row['non_2xx']}   errors {row['errors']}   (load before: {load:.2f})"
                    )
                    kept = best.get((key, conns))
                    if kept is None or row["rps"] > kept["rps"]:
                        best[(key, conns)] = row
        rows = list(best.values())
        table = _table(rows, connections)
        print("\n" + table)
        _write_results(Path(args.output), table, args)
        print(f"\nwritten to {args.output}")
        return 0
    finally:
        for path in _PAIR_FILES:
            Path(path).unlink(missing_ok=True)
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(gunicorn.pid, signal.SIGKILL)
        if args.keep_db:
            print(f"kept database {db_name}")
        else:
            _psql(server, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))


def _with_db(server: str, name: str) -> str:
    parts = urlsplit(server)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def _production_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SECRET=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # The tokens must outlive the whole run.
        ACCESS_TOKEN_MINUTES="120",
        PYTHONUNBUFFERED="1",
    )
    return env


def _psql(server: str, sql: str) -> None:
    """Run one statement on the server's maintenance database, outside a transaction."""
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        "    conn.execute(sys.argv[2])\n"
    )
    subprocess.run([str(VENV_BIN / "python"), "-c", code, server, sql], check=True)  # noqa: S603


def _manage(env: dict, *args: str, capture: bool = False, quiet: bool = False) -> str:
    command = [str(VENV_BIN / "python"), "manage.py", *args]
    if args[0] == "shell":
        command.insert(3, "--verbosity=0")  # no "N objects imported automatically" on stdout
    if capture or quiet:
        done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)  # noqa: S603
        return done.stdout
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603
    return ""


_WORLD = """
import json
from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading.models import Test
course = Course.objects.get(name="Bulk course 001")
post_course = Course.objects.get(name="Bulk course 003")
test = Test.objects.filter(course=course).order_by("date", "id").first()
student = User.objects.get(email="student00001@bulk.example.com")
enrolled = Enrollment.objects.filter(course=post_course, role=Role.STUDENT).order_by("user_id")
students = list(enrolled.values_list("user_id", flat=True))
print(json.dumps({
    "course_id": course.pk,
    "test_id": test.pk,
    "results": test.results.count(),
    "teacher_email": "teacher001@bulk.example.com",
    "post_course_id": post_course.pk,
    "post_teacher_email": "teacher003@bulk.example.com",
    "student_id": student.pk,
    "student_email": student.email,
    "post_students": students,
}))
"""


def _world(env: dict) -> dict:
    world = json.loads(_manage(env, "shell", "-c", _WORLD, capture=True))
    print(f"    course {world['course_id']}, test {world['test_id']} with {world['results']} results")
    return world


_FRESH_TESTS = """
import json
from datetime import date
from grading.models import Test
tests = Test.objects.bulk_create(
    [Test(course_id={course_id}, name=f"Load test POST {{i}}", date=date(2027, 1, 1)) for i in range({count})]
)
print(json.dumps([t.pk for t in tests]))
"""


_PAIR_FILES: list[str] = []


def _fresh_pairs(env: dict, world: dict, needed: int, tag: int) -> str:
    """New tests with no results in the POST course, and a file of (test, student) pairs to grade."""
    students = world["post_students"]
    code = _FRESH_TESTS.format(course_id=int(world["post_course_id"]), count=-(-needed // len(students)))
    test_ids = json.loads(_manage(env, "shell", "-c", code, capture=True))
    handle, path = tempfile.mkstemp(prefix=f"bench-pairs-{tag}-", suffix=".txt")
    _PAIR_FILES.append(path)
    with os.fdopen(handle, "w") as out:
        for test_id in test_ids:  # test by test, as a teacher grades: concurrent POSTs share a test
            for student_id in students:
                out.write(f"{test_id} {student_id}\n")
    return path


def _wait_until_up(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("gunicorn exited while starting: see its log")
        try:
            with urllib.request.urlopen(base + "/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not answer within 30 s")


def _check_responses(base: str, endpoints: dict) -> None:
    """One request per GET endpoint before loading it: a 4xx/5xx here would make the numbers meaningless."""
    for label, path, token in endpoints.values():
        if not path:
            continue
        request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            body = json.loads(response.read())
        size = len(body["results"]) if isinstance(body, dict) and "results" in body else 1
        print(f"    {label}: {response.status}, {size} item(s)")


def _wrk(url: str, token: str, *, connections: int, duration: int, threads: int, env: dict | None = None) -> dict:
    run_env = dict(os.environ, BENCH_TOKEN=token, BENCH_THREADS=str(threads), **(env or {}))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "requests.lua"),
        url,
    ]
    done = subprocess.run(command, env=run_env, check=True, capture_output=True, text=True)  # noqa: S603
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")


def _row(key: str, label: str, connections: int, stats: dict, load: float) -> dict:
    seconds = stats["duration_us"] / 1e6
    return {
        "load": load,
        "key": key,
        "label": label,
        "connections": connections,
        "rps": stats["s2xx"] / seconds,
        "p50": stats["p50_us"] / 1000,
        "p99": stats["p99_us"] / 1000,
        "non_2xx": stats["requests"] - stats["s2xx"],
        "errors": stats["connect_errors"] + stats["read_errors"] + stats["write_errors"] + stats["timeouts"],
    }


def _table(rows: list[dict], connections: list[int]) -> str:
    header = ["Endpoint", "Node @16"]
    for conns in connections:
        header += [f"req/s @{conns}", f"p50 ms @{conns}", f"p99 ms @{conns}"]
    header += ["vs Node @16", "non-2xx", "load avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    by_key: dict[str, dict[int, dict]] = {}
    for row in rows:
        by_key.setdefault(row["key"], {})[row["connections"]] = row
    for key, runs in by_key.items():
        first = next(iter(runs.values()))
        cells = [f"`{first['label']}`", str(BASELINE_16[key])]
        for conns in connections:
            run = runs.get(conns)
            cells += [f"{run['rps']:.0f}", f"{run['p50']:.1f}", f"{run['p99']:.1f}"] if run else ["", "", ""]
        at16 = runs.get(16)
        cells.append(f"{at16['rps'] / BASELINE_16[key]:.2f}x" if at16 else "")
        cells.append(str(sum(run["non_2xx"] + run["errors"] for run in runs.values())))
        cells.append(" / ".join(f"{run['load']:.1f}" for run in runs.values()))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_results(path: Path, table: str, args) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    extra = f" (also {' '.join(args.gunicorn_arg)})" if args.gunicorn_arg else " (sync)"
    text = f"""# Load benchmark results

Written by `bench/run.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit or "?"}`, on
{os.cpu_count()} CPU cores ({platform.machine()}, Python {platform.python_version()}).
gunicorn with production settings, {args.workers} workers{extra}, PostgreSQL on the same machine; wrk with
{args.threads} threads, {args.duration} s per run, from 127.0.0.1, best of {max(1, args.repeat)} run(s) each. Data:
`seed --students {STUDENTS} --tests {TESTS} --courses {COURSES}`. Requests/s count 2xx responses only;
"non-2xx" adds up every other response and socket error over the kept runs of that endpoint. "Node @16"
is the original app on the same machine. "load avg" is the machine's 1-minute load average just
before each kept run (16 / 64 connections): other work on the machine lowers the numbers.

{table}
"""
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
