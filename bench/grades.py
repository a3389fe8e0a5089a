#!/usr/bin/env python3
"""Benchmark of a course's grades: response times of the grades and gradebook endpoints, and the SQL under them.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``), migrates it, loads
   ``manage.py seed --students 1000 --tests 20 --courses 1 --categories 4`` (one course of 1,000
   students x 20 tests in 4 weighted categories with drops, 20,000 results, one in 50 excused) and
   runs ``ANALYZE``, as autovacuum would have on a live database;
2. in one ``manage.py shell``, on one connection as a worker has it, after a warm-up:
   ``grading.grades.course_grades(course)`` ``--repeat`` times (its total, and the time spent in
   its queries' ``execute``); the grades statement alone (``execute``, and ``execute`` + ``fetchall``,
   as the worker runs it: prepared by psycopg after 5 runs; then with a custom plan forced); its
   ``EXPLAIN ANALYZE``; and each endpoint through Django's test client (the whole Django stack, no
   socket, no gunicorn), with the time of its queries;
3. starts gunicorn as production runs it (gunicorn.conf.py, DEBUG off, generated secrets) with ONE
   worker, gets the course teacher's token from ``manage.py issue_token``, checks each endpoint
   once (a 200 with every student), warms up, then times
   ``GET /api/courses/{id}/grades/?page_size=1000``, ``GET /api/courses/{id}/gradebook/`` and
   ``GET /api/courses/{id}/gradebook.csv`` ``--repeat`` times each, to the last byte of the body,
   the endpoints taking turns run by run (the first endpoint of each round rotating);
4. prints a markdown report (median / p90 / min per endpoint, the SQL beside it, the plan) and
   writes it to ``bench/GRADES.md`` (``--output``); stops gunicorn and drops the database on the
   way out, also after an error or Ctrl-C.

The goal: a median under 150 ms per endpoint with one worker.

Run from the project root: ``.venv/bin/python bench/grades.py`` (``--help`` for options). It takes
about a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
TEACHER = "teacher001@bulk.example.com"
COURSE = "Bulk course 001"
GOAL_MS = 150

# Runs in ``manage.py shell`` on the benchmark's database; its settings come in $BENCH_GRADES as
# JSON, and its last line of output is the measurements as JSON.
_IN_PROCESS = r"""
import json, os, re, statistics, time
from django.db import connection
from django.test import Client
from courses.models import Course
from grading import grades

cfg = json.loads(os.environ["BENCH_GRADES"])
course = Course.objects.get(pk=cfg["course_id"])
repeat, warmup = cfg["repeat"], 5


class Timer:
    # Every execute on the connection, timed: the server's work and the transfer of the rows
    # (psycopg decodes them later, in fetch). Fetches of server-side cursors are not seen.
    def __init__(self):
        self.calls = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.calls.append(((time.perf_counter() - started) * 1000, sql, params))


def label(sql):
    text = " ".join(sql.split())
    if text.startswith("WITH students AS"):
        return "the grades statement"
    table = re.search(r'\bFROM\s+"?(\w+)"?', text)
    verb = "DECLARE cursor" if text.startswith("DECLARE") else text.split(" ", 1)[0]
    return verb + (" ... FROM " + table.group(1) if table else "")


def measure(fn):
    for _ in range(warmup):
        fn()
    totals, sql, per_query, timer = [], [], {}, None
    for _ in range(repeat):
        timer = Timer()
        with connection.execute_wrapper(timer):
            started = time.perf_counter()
            fn()
            totals.append((time.perf_counter() - started) * 1000)
        sql.append(sum(ms for ms, _, _ in timer.calls))
        for i, (ms, text, _) in enumerate(timer.calls):
            per_query.setdefault((i, label(text)), []).append(ms)
    slowest = sorted(((statistics.median(v), k[1]) for k, v in per_query.items()), reverse=True)
    return {"total": totals, "sql": sql, "queries": len(timer.calls), "slowest": slowest[:4]}, timer


out = {}
with connection.cursor() as cursor:
    cursor.execute("SELECT version()")
    out["pg_version"] = cursor.fetchone()[0].split(" on ")[0]

rows = grades.course_grades(course)
out["grade_rows"] = len(rows)
out["course_grades"], timer = measure(lambda: grades.course_grades(course))
slowest_ms, sql, params = max(timer.calls, key=lambda call: call[0])
out["statement_share"] = slowest_ms / sum(ms for ms, _, _ in timer.calls)

with connection.cursor() as cursor:

    def statement():
        started = time.perf_counter()
        cursor.execute(sql, params)
        executed = time.perf_counter()
        result = cursor.fetchall()
        done = time.perf_counter()
        return (executed - started) * 1000, (done - started) * 1000, len(result)

    for mode in ("auto", "force_custom_plan"):
        cursor.execute(f"SET plan_cache_mode = {mode}")
        for _ in range(warmup + 5):  # past psycopg's prepare threshold, and PostgreSQL's 5 custom plans
            statement()
        runs = [statement() for _ in range(repeat)]
        out[f"statement_{mode}"] = {
            "execute": [run[0] for run in runs],
            "fetch": [run[1] for run in runs],
            "rows": runs[-1][2],
        }
    cursor.execute("RESET plan_cache_mode")
    cursor.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + sql, params)
    plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    out["explain"] = {"planning": plan[0]["Planning Time"], "execution": plan[0]["Execution Time"]}
    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
    out["plan"] = "\n".join(row[0] for row in cursor.fetchall())

client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION="Bearer " + cfg["token"])


def get(path):
    def run():
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        if response.status_code != 200:
            raise SystemExit(f"GET {path} answered {response.status_code}: {body[:300]!r}")
        return body

    return run


out["views"] = {}
for key, path in cfg["paths"].items():
    out["views"][key], _ = measure(get(path))
print(json.dumps(out))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--categories", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per endpoint and measure (default 30)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "GRADES.md"), help="markdown file to write")
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database at the end")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    # A SIGTERM unwinds like Ctrl-C does: the finally below stops gunicorn and drops the database.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored (`cmd &`)
    server = _server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database = f"bench_grades_{secrets.token_hex(4)}"
    seed_args = [
        "--students",
        str(args.students),
        "--tests",
        str(args.tests),
        "--courses",
        "1",
        "--categories",
        str(args.categories),
    ]
    gunicorn = None
    created = False
    try:
        _step(f"database {database}: migrate, seed {' '.join(seed_args)}, ANALYZE")
        _psql(server, f'CREATE DATABASE "{database}"')
        created = True
        env = _environment(server, database)
        seeded = _prepare(env, seed_args)
        course_id, token = _world(env)
        paths = {
            "grades": f"/api/courses/{course_id}/grades/?page_size=1000",
            "gradebook": f"/api/courses/{course_id}/gradebook/",
            "csv": f"/api/courses/{course_id}/gradebook.csv",
        }

        _step(f"in process: course_grades(), the statement, EXPLAIN ANALYZE, each view ({args.repeat} runs each)")
        config = {"course_id": course_id, "token": token, "repeat": args.repeat, "paths": paths}
        output = _manage({**env, "BENCH_GRADES": json.dumps(config)}, "shell", "--verbosity=0", "-c", _IN_PROCESS)
        db = json.loads(output.strip().splitlines()[-1])
        if db["grade_rows"] != args.students:
            raise SystemExit(f"course_grades gave {db['grade_rows']} rows, not {args.students}")
        _print_in_process(db)

        gunicorn, port, log = _start(env)
        _step("HTTP: check each endpoint once, warm up")
        sizes = {key: _check(port, key, path, token, args) for key, path in paths.items()}
        for _ in range(3):
            for path in paths.values():
                _get(port, path, token)
        _step(f"HTTP: {args.repeat} runs per endpoint, taking turns")
        load = os.getloadavg()[0]
        times: dict[str, list[float]] = {key: [] for key in paths}
        keys = list(paths)
        for run in range(args.repeat):
            for key in keys[run % len(keys) :] + keys[: run % len(keys)]:
                started = time.perf_counter()
                _get(port, paths[key], token)
                times[key].append((time.perf_counter() - started) * 1000)
        for key in keys:
            print(f"    {key:<10} {_summary(times[key])}", flush=True)
        worker = _worker_class(log)
    finally:
        if gunicorn is not None:
            _stop(gunicorn)
        if created and not args.keep_db:
            _psql(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        elif created:
            print(f"kept database {database}")

    report = _report(args, seeded, paths, sizes, times, db, load, worker)
    Path(args.output).write_text(report)  # first: a closed stdout (| head) must not lose it
    print("\n" + report)
    print(f"written to {args.output}")
    return 0


def _interrupted(signum, frame):
    raise KeyboardInterrupt


# Setup, as bench/gradebook.py does it ---------------------------------------------------------


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _server_url(database_url: str) -> str:
    parts = urlsplit(database_url)
    return urlunsplit(parts._replace(path="/postgres"))


def _psql(server: str, sql: str) -> None:
    code = "import sys, psycopg\nwith psycopg.connect(sys.argv[1], autocommit=True) as c:\n    c.execute(sys.argv[2])\n"
    subprocess.run([str(PYTHON), "-c", code, server, sql], check=True)  # noqa: S603


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-2000:] + done.stderr[-4000:])
        raise SystemExit(f"manage.py {args[0]} failed ({done.returncode})")
    return done.stdout


def _environment(server: str, name: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(urlsplit(server)._replace(path=f"/{name}")),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
        "ACCESS_TOKEN_MINUTES": "60",  # the token must outlive the run
    }
    env.pop("DEBUG", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _prepare(env: dict, seed_args: list[str]) -> str:
    _manage(env, "migrate", "--noinput")
    started = time.perf_counter()
    seeded = _manage(env, "seed", *seed_args).strip().splitlines()[-1]
    print(f"    {seeded} ({time.perf_counter() - started:.0f} s)", flush=True)
    # As autovacuum would have by now on a live database: the planner knows the tables' sizes.
    _manage(env, "dbshell", "--", "-qc", "ANALYZE")
    return seeded


def _world(env: dict) -> tuple[int, str]:
    course_id = _manage(
        env,
        "shell",
        "--verbosity=0",
        "-c",
        f"from courses.models import Course; print(Course.objects.get(name={COURSE!r}).pk)",
    )
    token = _manage(env, "issue_token", TEACHER).strip()
    return int(course_id.strip().splitlines()[-1]), token


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(env: dict):
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-grades-", suffix=".log", delete=False)  # noqa: SIM115
    _step(f"gunicorn: 1 worker on 127.0.0.1:{port} (log: {log.name})")
    process = subprocess.Popen(  # noqa: S603
        [str(GUNICORN), "gradingsite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return process, port, log.name
        except OSError:
            time.sleep(0.2)
    _stop(process)
    raise SystemExit(f"gunicorn did not start; see {log.name}")


def _stop(process) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _worker_class(log: str) -> str:
    """gunicorn's own line on its worker, e.g. "Using worker: gthread" (the log level may hide it)."""
    for line in Path(log).read_text(errors="replace").splitlines():
        if "Using worker:" in line:
            return line.split("Using worker:", 1)[1].strip()
    return "gthread, 2 threads (gunicorn.conf.py)"


def _request(port: int, path: str, token: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def _get(port: int, path: str, token: str) -> int:
    """GET to the last byte; the body's size. Fails loudly on anything but a 200."""
    status, body = _request(port, path, token)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
    return len(body)


def _check(port: int, key: str, path: str, token: str, args) -> int:
    """One request: a 200 holding every student (and, for the grades, a percent and the categories each)."""
    status, body = _request(port, path, token)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}: {body[:300]!r}")
    if key == "grades":
        page = json.loads(body)
        rows = page["results"]
        if page["count"] != args.students or len(rows) != args.students:
            raise SystemExit(f"grades: {page['count']} students, {len(rows)} on the page; expected {args.students}")
        if any(row["current_percent"] is None or len(row["categories"]) != args.categories for row in rows):
            raise SystemExit("grades: a row without a percent or without every category")
    elif key == "gradebook":
        students = len(json.loads(body)["students"])
        if students != args.students:
            raise SystemExit(f"gradebook: {students} students, expected {args.students}")
    else:
        lines = body.decode().count("\r\n")
        if lines != args.students + 1:
            raise SystemExit(f"gradebook.csv: {lines} lines, expected {args.students + 1}")
    print(f"    {key}: 200, {len(body) / 1024:.0f} KiB", flush=True)
    return len(body)


# Figures and the report ----------------------------------------------------------------------------


def _p90(values: list[float]) -> float:
    """The nearest-rank 90th percentile: the smallest value with 90% of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def _summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, p90 {_p90(values):.1f} ms, min {min(values):.1f} ms"


def _print_in_process(db: dict) -> None:
    grades = db["course_grades"]
    print(f"    course_grades(): {_summary(grades['total'])}; its SQL: {_summary(grades['sql'])}")
    print(f"    the statement, execute: {_summary(db['statement_auto']['execute'])}")
    print(f"    EXPLAIN ANALYZE: execution {db['explain']['execution']:.1f} ms", flush=True)
    for key, view in db["views"].items():
        print(f"    view {key}: {_summary(view['total'])}; its SQL: {_summary(view['sql'])}", flush=True)


LABELS = {
    "grades": "`GET /api/courses/{id}/grades/?page_size=1000`",
    "gradebook": "`GET /api/courses/{id}/gradebook/`",
    "csv": "`GET /api/courses/{id}/gradebook.csv`",
}


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{platform.node()}: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def _versions() -> str:
    code = "import django, gunicorn, psycopg; print(django.__version__, gunicorn.__version__, psycopg.__version__)"
    done = subprocess.run([str(PYTHON), "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    django, gunicorn, psycopg = done.stdout.split()
    return f"Python {platform.python_version()}, Django {django}, gunicorn {gunicorn}, psycopg {psycopg}"


def _code_version() -> str:
    """The commit measured, and whether the application's code differs from it."""

    def git(*args):
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)  # noqa: S603, S607
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("log", "-1", "--format=%h %s")
    if not commit:
        return "Code: not a git checkout"
    dirty = git("status", "--porcelain", "--", "accounts", "courses", "grading", "gradingsite")
    return f"Code: commit {commit}" + (" (with uncommitted changes to the application)" if dirty else "")


def _row(*cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _ms(values: list[float]) -> tuple[str, str, str]:
    return f"{statistics.median(values):.1f}", f"{_p90(values):.1f}", f"{min(values):.1f}"


def _report(args, seeded, paths, sizes, times, db, load, worker) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "bench/grades.py" + "".join(f" {a}" for a in sys.argv[1:])
    lines = [
        "# Course grades benchmark",
        "",
        f"Written by `{command}` on {now}.",
        "",
        f"- Machine: {_machine()}; load average {load:.2f} before the HTTP runs.",
        f"- {_versions()}; {db['pg_version']} on the same machine.",
        f"- {_code_version()}.",
        f"- Data: `seed --students {args.students} --tests {args.tests} --courses 1 --categories {args.categories}`"
        f" then `ANALYZE`: {seeded}",
        f"- Server: gunicorn with gunicorn.conf.py, **one worker** ({worker}), DEBUG off, on loopback; "
        "a new connection per request, timed to the last byte of the body.",
        f"- {args.repeat} timed runs per endpoint after a warm-up, the endpoints taking turns run by run.",
        "",
        f"**Goal: a median under {GOAL_MS} ms per endpoint with one worker.**",
        "",
        "## Over HTTP",
        "",
        _row("Endpoint", "median ms", "p90 ms", "min ms", "body", f"median < {GOAL_MS} ms"),
        "|---|--:|--:|--:|--:|---|",
    ]
    for key in paths:
        median = statistics.median(times[key])
        lines.append(
            _row(
                LABELS[key],
                *_ms(times[key]),
                f"{sizes[key] / 1024:.0f} KiB",
                "yes" if median < GOAL_MS else "**no**",
            )
        )
    lines += [
        "",
        "## Where the time goes",
        "",
        "In one `manage.py shell` on the same database, one connection (as a worker keeps it), "
        f"{args.repeat} runs each after a warm-up. *SQL* is the time spent in the queries' `execute` "
        "(PostgreSQL's work and the rows' transfer; psycopg decodes the rows afterwards, in `fetch`, "
        "which counts as Python here; the CSV's server-side cursor fetches are not seen). "
        "The views go through the whole Django stack with the test client (middleware, "
        "authentication, rendering), without gunicorn or a socket.",
        "",
        _row("Measure", "queries", "median ms", "p90 ms", "min ms", "SQL median ms", "rest (Python) median ms"),
        "|---|--:|--:|--:|--:|--:|--:|",
    ]

    def split_row(label, measured):
        total, sql = statistics.median(measured["total"]), statistics.median(measured["sql"])
        return _row(label, measured["queries"], *_ms(measured["total"]), f"{sql:.1f}", f"{total - sql:.1f}")

    lines.append(split_row("`grading.grades.course_grades(course)`", db["course_grades"]))
    for key in paths:
        lines.append(split_row(f"view of {LABELS[key]}, in process", db["views"][key]))
    lines += ["", "The slowest queries of each (median ms of its `execute`):", ""]
    for label, measured in [("`course_grades`", db["course_grades"])] + [
        (f"`{key}` view", db["views"][key]) for key in paths
    ]:
        slowest = ", ".join(f"{name} {ms:.1f}" for ms, name in measured["slowest"])
        lines.append(f"- {label}: {slowest}")
    auto, custom = db["statement_auto"], db["statement_force_custom_plan"]
    lines += [
        "",
        f"The grades statement alone ({auto['rows']:,} rows: one per student, category and mode; "
        f"{db['statement_share']:.0%} of `course_grades`'s SQL time):",
        "",
        _row("Measure", "median ms", "p90 ms", "min ms"),
        "|---|--:|--:|--:|",
        _row("`execute`, as the worker runs it (prepared by psycopg after 5 runs)", *_ms(auto["execute"])),
        _row("`execute` + `fetchall`", *_ms(auto["fetch"])),
        _row("`execute` with `plan_cache_mode = force_custom_plan`", *_ms(custom["execute"])),
        _row(
            "`EXPLAIN (ANALYZE, TIMING OFF)`: execution (planning) time",
            f"{db['explain']['execution']:.1f} ({db['explain']['planning']:.1f})",
            "",
            "",
        ),
        "",
        "<details><summary>EXPLAIN (ANALYZE, BUFFERS) of the grades statement</summary>",
        "",
        "```",
        db["plan"],
        "```",
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
