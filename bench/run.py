#!/usr/bin/env python3
"""Load benchmark of the API as production serves it, per worker, against the original Node app.

What it does, start to end (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database ``bench_<random>`` on the server of ``$DATABASE_URL``
   (default ``postgres://postgres@127.0.0.1:5432``; user ``postgres`` with trust auth), migrates it
   and loads the issue's data set: ``manage.py seed --students 1000 --tests 20 --courses 1`` (one
   course of 1,000 students x 20 tests), then, in one ``manage.py shell``, users up to 2,000 and
   courses up to 50, among them 40 courses of 50 tests in which one student has 2,000 results, and
   a course whose own students the POST grades;
2. gets access tokens with ``manage.py issue_token``;
3. starts one gunicorn per worker count of ``--workers`` (default ``1,2``), each with the Procfile's
   ``web`` command and ``gunicorn.conf.py``, ``WEB_CONCURRENCY`` set to that count, on
   ``127.0.0.1:<free port>``, DEBUG off, generated ``SECRET_KEY``/``JWT_SECRET``;
4. checks every endpoint once on every server (status and size; the POST must answer 201), warms
   every server up, then runs wrk (``bench/requests.lua``) at 16 and 64 connections against seven
   endpoints, alternating the servers run by run (1 worker, 2 workers, 1 worker, ...);
5. prints requests/s (2xx only), p50/p99 and the CPU time per answer of the server and of the
   database's backends per run, then a table per endpoint and worker count with requests/s per
   worker, the ratio to the Node app and both CPU times per answer, writes it to
   ``bench/RESULTS.md``, stops the servers and drops the database.

Run it from the project root: ``.venv/bin/python bench/run.py`` (``--help`` for options). Needs
``wrk`` (``apt-get install wrk``). It takes about six minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psutil
from revisions import export_tree, short_name

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV_BIN = ROOT / ".venv" / "bin"

# Requests/s of the original app (Node 20, Hapi, Prisma 6), one process, on this kind of machine with
# the same data, wrk at 16 connections: the bar the per-core goal is set against (twice these).
# Node runs JavaScript on one core: these are its figures per core.
NODE = {
    "root": 12_395,
    "profile": 622,
    "course": 454,
    "results": 128,
    "user_results": 427,
    "post_result": 301,
}
ENDPOINT_KEYS = ["root", "profile", "course", "results", "user_results", "user_results_2000", "post_result"]

# The data set: 2,000 users, 50 courses, one course of 1,000 students x 20 tests.
STUDENTS, TESTS = 1000, 20
USERS, COURSES = 2000, 50
# The student with many results: this many courses of this many tests, a result in each.
HEAVY_COURSES, HEAVY_TESTS = 40, 50
# The POST makes at most this many requests per second: enough fresh pairs for any run.
POST_MAX_RATE = 3000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run (default 10)")
    parser.add_argument("--connections", default="16,64", help="comma-separated connection counts (default 16,64)")
    parser.add_argument(
        "--workers", default="1,2", help="comma-separated WEB_CONCURRENCY values, one server each (default 1,2)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--gunicorn-arg",
        action="append",
        default=[],
        help="one more gunicorn argument for every server, e.g. --gunicorn-arg=--threads=4",
    )
    parser.add_argument(
        "--only", default="", help=f"comma-separated endpoint keys to run (default: all of {','.join(ENDPOINT_KEYS)})"
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds over every run; each figure is the median round's (default 1)"
    )
    parser.add_argument(
        "--baseline",
        default="",
        help="a git revision to measure beside this checkout: its servers take turns with ours, same database",
    )
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database at the end")
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"), help="markdown file to write")
    args = parser.parse_args()

    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk")
    connections = [int(c) for c in args.connections.split(",") if c.strip()]
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    keys = ENDPOINT_KEYS
    if args.only:
        wanted = {key.strip() for key in args.only.split(",")}
        unknown = wanted - set(ENDPOINT_KEYS)
        if unknown:
            sys.exit(f"unknown endpoint key(s) {', '.join(sorted(unknown))}: choose from {', '.join(ENDPOINT_KEYS)}")
        keys = [key for key in ENDPOINT_KEYS if key in wanted]
    rounds = max(1, args.repeat)

    server = _server_url(os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres")
    db_name = f"bench_{secrets.token_hex(4)}"
    env = _production_env(_with_db(server, db_name))

    servers: list[Server] = []
    baseline = _Baseline(args.baseline) if args.baseline else None
    _psql(server, f'CREATE DATABASE "{db_name}"')
    try:
        world = _prepare(env)
        endpoints = {key: _endpoint(key, world) for key in keys}
        # One file of fresh (test, student) pairs per POST run, made in one go before any load.
        trees = [None, baseline] if baseline else [None]
        server_count = len(worker_counts) * len(trees)
        post_runs = rounds * len(connections) * server_count if "post_result" in endpoints else 0
        pair_files = _fresh_pairs(env, world, post_runs + server_count, args.duration)
        check_pairs = pair_files[post_runs:]

        for count in worker_counts:
            for tree in trees:
                servers.append(Server.start(env, count, args.gunicorn_arg, tree))
        for srv in servers:
            srv.wait_until_up()
        for srv, pairs in zip(servers, check_pairs, strict=True):
            _step(f"{srv.label}: check each endpoint once")
            for key, endpoint in endpoints.items():
                _check(srv.base, endpoint, pairs if key == "post_result" else None)
        _step("warm-up: 2 s per GET endpoint and server")
        for srv in servers:
            for endpoint in endpoints.values():
                if endpoint["method"] == "GET":
                    _wrk(
                        srv.base + endpoint["path"], endpoint["token"], connections=16, duration=2, threads=args.threads
                    )

        # The servers take turns run by run (A B A B ...), and rounds go over everything rather than
        # repeating one run back to back: a burst of other work on the machine then spoils one run
        # of several configurations instead of every run of one.
        runs: dict[tuple[str, int, int], list[dict]] = {}
        post_files = iter(pair_files[:post_runs])
        for round_ in range(1, rounds + 1):
            for key, endpoint in endpoints.items():
                for conns in connections:
                    for srv in servers:
                        extra = {}
                        if key == "post_result":
                            extra = {"BENCH_MODE": "post", "BENCH_PAIRS": next(post_files)}
                        load = os.getloadavg()[0]
                        cpu_before = srv.cpu_seconds()
                        db_before = _database_cpu(server, db_name)
                        stats = _wrk(
                            srv.base + (endpoint["path"] or "/"),
                            endpoint["token"],
                            connections=conns,
                            duration=args.duration,
                            threads=args.threads,
                            env=extra,
                        )
                        db_cpu = _database_cpu(server, db_name, db_before)
                        row = _row(stats, load, srv.cpu_seconds() - cpu_before, db_cpu)
                        runs.setdefault((key, srv.label, conns), []).append(row)
                        print(
                            f"    [{round_}] {endpoint['label']:<44} {srv.label} @{conns:<3} "
                            f"{row['rps']:8.1f} req/s  p50 {row['p50']:6.1f} ms  p99 {row['p99']:6.1f} ms"
                            f"  non-2xx {row['non_2xx']}  errors {row['errors']}"
                            + (f"  non-201 {row['non_201']}" if key == "post_result" else "")
                            + f"  server CPU {row['cpu_ms']:.2f} ms/req"
                            + (f"  database CPU {row['db_cpu_ms']:.2f} ms/req" if row["db_cpu_ms"] is not None else "")
                            + f" (load {load:.2f})",
                            flush=True,
                        )
        table = _table(endpoints, runs, servers, connections)
        print("\n" + table)
        _write_results(Path(args.output), table, args, rounds, worker_counts, servers)
        print(f"\nwritten to {args.output}")
        return 0
    finally:
        for path in _PAIR_FILES:
            Path(path).unlink(missing_ok=True)
        for srv in servers:
            srv.stop()
        if baseline:
            baseline.remove()
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
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "WEB_CONCURRENCY"}}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        JWT_SECRET=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        # The tokens must outlive the whole run.
        ACCESS_TOKEN_MINUTES="240",
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


# Everything the data set has beyond the seed, in bulk (a few seconds): users up to USERS,
# courses up to COURSES, each with a teacher; HEAVY_COURSES of them with HEAVY_TESTS tests and the
# heavy student's result in each; and the POST course, whose students are the remaining users (not
# the bulk course's, so the results the POST adds never show in another endpoint's data).
_EXTRA = """
import json, random
from datetime import date, timedelta
from decimal import Decimal
from django.contrib.auth.hashers import make_password
from django.db import transaction
from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading.models import GradeCategory, Test, TestResult

rng = random.Random(7)
with transaction.atomic():
    new_courses = {courses} - Course.objects.count()
    teachers = User.objects.bulk_create(
        [User(email=f"teacher-x{{i:03d}}@bench.example.com", first_name="Teacher", last_name=f"X{{i:03d}}",
              password=make_password(None)) for i in range(new_courses)]
    )
    heavy = User.objects.create(email="student-heavy@bench.example.com", first_name="Heavy", last_name="Student")
    others = User.objects.bulk_create(
        [User(email=f"student-p{{i:04d}}@bench.example.com", first_name="Student", last_name=f"P{{i:04d}}",
              password=make_password(None)) for i in range({users} - User.objects.count())]
    )
    courses = Course.objects.bulk_create(
        [Course(name=f"Bench course {{i:03d}}", details="Load-test data.") for i in range(new_courses)]
    )
    # bulk_create skips post_save, which gives every course its "Tests" category: made here instead.
    categories = GradeCategory.objects.bulk_create(
        [GradeCategory(course=c, name="Tests", weight=Decimal(100), position=0) for c in courses]
    )
    category_of = {{g.course_id: g for g in categories}}
    Enrollment.objects.bulk_create(
        [Enrollment(user=t, course=c, role=Role.TEACHER) for t, c in zip(teachers, courses)]
        + [Enrollment(user=heavy, course=c, role=Role.STUDENT) for c in courses[:{heavy_courses}]]
        + [Enrollment(user=s, course=courses[-1], role=Role.STUDENT) for s in others]
    )
    tests = Test.objects.bulk_create(
        [Test(course=c, category=category_of[c.pk], name=f"Test {{m:02d}}", date=date(2025, 1, 1) + timedelta(days=m))
         for c in courses[:{heavy_courses}] for m in range(1, {heavy_tests} + 1)]
    )
    grader = {{c.pk: t.pk for t, c in zip(teachers, courses)}}
    TestResult.objects.bulk_create(
        [TestResult(test=t, student=heavy, grader_id=grader[t.course_id], score=Decimal(rng.randint(0, 10_000)) / 100)
         for t in tests],
        batch_size=1000,
    )
    bulk_course = Course.objects.get(name="Bulk course 001")
    bulk_test = Test.objects.filter(course=bulk_course).order_by("date", "id").first()
    student = User.objects.get(email="student00001@bulk.example.com")
print(json.dumps({{
    "users": User.objects.count(),
    "courses": Course.objects.count(),
    "results": TestResult.objects.count(),
    "course_id": bulk_course.pk,
    "test_id": bulk_test.pk,
    "test_results": bulk_test.results.count(),
    "teacher_email": "teacher001@bulk.example.com",
    "student_id": student.pk,
    "student_email": student.email,
    "student_results": TestResult.objects.filter(student=student).count(),
    "heavy_id": heavy.pk,
    "heavy_email": heavy.email,
    "heavy_results": TestResult.objects.filter(student=heavy).count(),
    "post_course_id": courses[-1].pk,
    "post_teacher_email": teachers[-1].email,
    "post_students": [s.pk for s in others],
}}))
"""


def _prepare(env: dict) -> dict:
    db = env["DATABASE_URL"].rsplit("/", 1)[1]
    _step(f"database {db}: migrate")
    _manage(env, "migrate", "--noinput", quiet=True)
    started = time.monotonic()
    _step(f"seed --students {STUDENTS} --tests {TESTS} --courses 1, then the rest of the data set")
    _manage(env, "seed", "--students", str(STUDENTS), "--tests", str(TESTS), "--courses", "1", quiet=True)
    code = _EXTRA.format(users=USERS, courses=COURSES, heavy_courses=HEAVY_COURSES, heavy_tests=HEAVY_TESTS)
    world = json.loads(_manage(env, "shell", "-c", code, capture=True))
    print(
        f"    {world['users']} users, {world['courses']} courses, {world['results']} results"
        f" (test {world['test_id']}: {world['test_results']}; student {world['student_id']}:"
        f" {world['student_results']}; student {world['heavy_id']}: {world['heavy_results']})"
        f" in {time.monotonic() - started:.1f} s"
    )
    # As autovacuum would have by now on a live database: the planner knows the tables' sizes, and
    # the visibility map the pages every transaction sees whole (index-only scans read no rows there).
    _manage(env, "dbshell", "--", "-qc", "VACUUM ANALYZE", quiet=True)
    for who in ("teacher", "post_teacher", "student", "heavy"):
        world[f"{who}_token"] = _manage(env, "issue_token", world[f"{who}_email"], capture=True).strip()
    return world


def _endpoint(key: str, world: dict) -> dict:
    course, test = world["course_id"], world["test_id"]
    student, heavy = world["student_id"], world["heavy_id"]
    table = {
        "root": ("GET /", "/", None, None),
        "profile": ("GET /api/profile/", "/api/profile/", "student", None),
        "course": ("GET /api/courses/{id}/", f"/api/courses/{course}/", "teacher", None),
        "results": (
            "GET /api/tests/{id}/results/?page_size=1000",
            f"/api/tests/{test}/results/?page_size=1000",
            "teacher",
            world["test_results"],
        ),
        # Both pages hold 20 rows: the page costs the same whatever else the student has.
        "user_results": (
            f"GET /api/users/{{id}}/test-results/?page_size=20 ({world['student_results']:,})",
            f"/api/users/{student}/test-results/?page_size=20",
            "student",
            world["student_results"],
        ),
        "user_results_2000": (
            f"GET /api/users/{{id}}/test-results/?page_size=20 ({world['heavy_results']:,})",
            f"/api/users/{heavy}/test-results/?page_size=20",
            "heavy",
            world["heavy_results"],
        ),
        "post_result": ("POST /api/tests/{id}/results/", None, "post_teacher", None),
    }
    label, path, who, count = table[key]
    return {
        "key": key,
        "label": label,
        "method": "POST" if key == "post_result" else "GET",
        "path": path,
        "token": world[f"{who}_token"] if who else "",
        "count": count,
    }


_FRESH_TESTS = """
import json
from datetime import date
from grading.models import GradeCategory, Test
# bulk_create skips Test.save(), which would have picked the course's first category.
category = GradeCategory.objects.filter(course_id={course_id}).order_by("position", "id").first()
tests = Test.objects.bulk_create(
    [Test(course_id={course_id}, category=category, name=f"Load test POST {{i}}", date=date(2027, 1, 1))
     for i in range({count})]
)
print(json.dumps([t.pk for t in tests]))
"""


_PAIR_FILES: list[str] = []


def _fresh_pairs(env: dict, world: dict, files: int, duration: int) -> list[str]:
    """Files of fresh (test, student) pairs to grade, one per POST run, from new tests of the POST course."""
    if not files:
        return []
    students = world["post_students"]
    per_file = -(-POST_MAX_RATE * duration // len(students))
    code = _FRESH_TESTS.format(course_id=int(world["post_course_id"]), count=per_file * files)
    test_ids = json.loads(_manage(env, "shell", "-c", code, capture=True))
    paths = []
    for n in range(files):
        handle, path = tempfile.mkstemp(prefix=f"bench-pairs-{n}-", suffix=".txt")
        _PAIR_FILES.append(path)
        paths.append(path)
        with os.fdopen(handle, "w") as out:
            # Test by test, as a teacher grades: concurrent POSTs grade the same test.
            for test_id in test_ids[n * per_file : (n + 1) * per_file]:
                for student_id in students:
                    out.write(f"{test_id} {student_id}\n")
    return paths


class _Baseline:
    """Another revision's files (``git archive``) in a temporary folder, served by the same venv on the
    same database (migrated by this checkout): ``--baseline main`` measures a change against main in
    the same run, the servers taking turns."""

    def __init__(self, revision: str):
        self.name = short_name(revision)
        self.path = export_tree(self.name, Path(tempfile.mkdtemp(prefix=f"bench-baseline-{self.name}-")))
        _step(f"baseline {revision} ({self.name}) in {self.path}")

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


class Server:
    """One gunicorn, started with the Procfile's web command and WEB_CONCURRENCY=workers."""

    def __init__(self, workers: int, port: int, process: subprocess.Popen, log: str, baseline: _Baseline | None):
        self.workers = workers
        # "1w", or "1w @ <revision>" for a server of the baseline's code.
        self.label = f"{workers}w" + (f" @ {baseline.name}" if baseline else "")
        self.base = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    @classmethod
    def start(cls, env: dict, workers: int, extra_args: list[str], baseline: _Baseline | None = None) -> Server:
        port = _free_port()
        command = _web_command()
        command[0] = str(VENV_BIN / command[0])
        # Bound to loopback only (the Procfile's [::]:$PORT would listen on every address).
        command += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", *extra_args]
        log = tempfile.NamedTemporaryFile(prefix=f"bench-gunicorn-{workers}w-", suffix=".log", delete=False)  # noqa: SIM115
        _step(f"gunicorn, WEB_CONCURRENCY={workers}, on 127.0.0.1:{port}: {shlex.join(command[1:])} (log: {log.name})")
        process = subprocess.Popen(  # noqa: S603
            command,
            cwd=baseline.path if baseline else ROOT,
            env=dict(env, WEB_CONCURRENCY=str(workers), PORT=str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(workers, port, process, log.name, baseline)

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited while starting: see {self.log}")
            try:
                with urllib.request.urlopen(self.base + "/", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        print(f"    {self.label} up: {self.worker_class()}")
                        return
            except OSError:
                time.sleep(0.2)
        sys.exit(f"gunicorn did not answer within 30 s: see {self.log}")

    def cpu_seconds(self) -> float:
        """User and system CPU time used so far by gunicorn's master and workers."""
        master = psutil.Process(self.process.pid)
        total = 0.0
        for process in [master, *master.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def worker_class(self) -> str:
        """The worker class gunicorn reports it uses (sync with threads > 1 silently becomes gthread)."""
        for line in Path(self.log).read_text(errors="replace").splitlines():
            if "Using worker: " in line:
                return line.split("Using worker: ", 1)[1].strip()
        return "?"

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)


def _web_command() -> list[str]:
    """The Procfile's web command as a list, with $PORT left for gunicorn.conf.py to read."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            return shlex.split(command)
    sys.exit("the Procfile has no web process")


def _check(base: str, endpoint: dict, pairs: str | None) -> None:
    """One request before any load: a wrong status here would make the numbers meaningless."""
    headers = {"Authorization": f"Bearer {endpoint['token']}"} if endpoint["token"] else {}
    if endpoint["method"] == "POST":
        test_id, student_id = Path(pairs).read_text().split("\n", 1)[0].split()
        url = f"{base}/api/tests/{test_id}/results/"
        body = json.dumps({"student": int(student_id), "score": 73.5}).encode()
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        expected = 201
    else:
        request = urllib.request.Request(base + endpoint["path"], headers=headers)  # noqa: S310
        expected = 200
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    if status != expected:
        sys.exit(f"{endpoint['label']}: expected {expected}, got {status}: {raw[:300]!r}")
    body = json.loads(raw)
    items = len(body["results"]) if isinstance(body, dict) and "results" in body else 1
    total = f" of {body['count']}" if isinstance(body, dict) and "count" in body else ""
    print(f"    {endpoint['label']}: {status}, {items} item(s){total}, {len(raw):,} bytes")
    if endpoint["count"] is not None and body.get("count") != endpoint["count"]:
        sys.exit(f"{endpoint['label']}: expected a count of {endpoint['count']}, got {body.get('count')}")


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


def _database_cpu(server: str, db_name: str, before: dict | None = None):
    """CPU seconds (user + system) of the PostgreSQL backends serving ``db_name``, by process id; with
    ``before``, the seconds they spent since then. None when the server's processes can't be read
    (a server on another machine, or another user's processes)."""
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as conn:\n"
        '    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "\n'
        "                        \"'client backend' AND pid <> pg_backend_pid()\", (sys.argv[2],)).fetchall()\n"
        "print(' '.join(str(pid) for (pid,) in rows))\n"
    )
    done = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "python"), "-c", code, server, db_name], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return None
    times = {}
    for pid in map(int, done.stdout.split()):
        try:
            cpu = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        except psutil.AccessDenied:
            return None
        times[pid] = cpu.user + cpu.system
    if before is None:
        return times
    if not times and not before:
        return None
    # A backend that ended meanwhile is left out; one that started counts from its start.
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in times.items())


def _row(stats: dict, load: float, cpu_seconds: float, db_cpu_seconds: float | None = None) -> dict:
    seconds = stats["duration_us"] / 1e6
    return {
        "load": load,
        # CPU time of gunicorn's processes per answer: what a core pays for one, whatever else runs.
        "cpu_ms": cpu_seconds * 1000 / max(1, stats["requests"]),
        # CPU time of the database's backends per answer: work the database's core does for one.
        "db_cpu_ms": None if db_cpu_seconds is None else db_cpu_seconds * 1000 / max(1, stats["requests"]),
        "rps": stats["s2xx"] / seconds,
        "p50": stats["p50_us"] / 1000,
        "p99": stats["p99_us"] / 1000,
        "non_2xx": stats["requests"] - stats["s2xx"],
        "non_201": stats["requests"] - stats["s201"],
        "errors": stats["connect_errors"] + stats["read_errors"] + stats["write_errors"] + stats["timeouts"],
    }


def _median_run(rows: list[dict]) -> dict:
    """The run with the median rate (the lower of the two middle ones for an even count)."""
    ordered = sorted(rows, key=lambda row: row["rps"])
    return ordered[(len(ordered) - 1) // 2]


def _table(endpoints: dict, runs: dict, servers: list[Server], connections: list[int]) -> str:
    header = ["Endpoint", "Node", "workers"]
    for conns in connections:
        header += [f"req/s @{conns}", f"p50 ms @{conns}", f"p99 ms @{conns}"]
    header += ["req/s per worker", "per worker / Node", "server CPU ms/req", "database CPU ms/req"]
    header += ["non-2xx", "load avg"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, endpoint in endpoints.items():
        node = NODE.get(key)
        for srv in servers:
            workers = srv.workers
            cells = [f"`{endpoint['label']}`", f"{node:,}" if node else "-", srv.label.replace("w", "", 1)]
            kept, bad, loads, cpu, db_cpu = [], 0, [], [], []
            for conns in connections:
                rows = runs.get((key, srv.label, conns), [])
                # For the POST every answer must be a 201: a 200 counts too.
                miss = "non_201" if key == "post_result" else "non_2xx"
                bad += sum(row[miss] + row["errors"] for row in rows)
                if not rows:
                    cells += ["", "", ""]
                    continue
                run = _median_run(rows)
                kept.append(run)
                loads.append(run["load"])
                cpu += [row["cpu_ms"] for row in rows]
                db_cpu += [row["db_cpu_ms"] for row in rows if row.get("db_cpu_ms") is not None]
                cells += [f"{run['rps']:,.0f}", f"{run['p50']:.1f}", f"{run['p99']:.1f}"]
            per_worker = max((run["rps"] for run in kept), default=0) / workers
            cells.append(f"{per_worker:,.0f}")
            cells.append(f"{per_worker / node:.2f}x" if node and kept else "-")
            cells.append(f"{sorted(cpu)[(len(cpu) - 1) // 2]:.2f}" if cpu else "-")
            cells.append(f"{sorted(db_cpu)[(len(db_cpu) - 1) // 2]:.2f}" if db_cpu else "-")
            cells.append(str(bad))
            cells.append(" / ".join(f"{load:.1f}" for load in loads))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _write_results(path: Path, table: str, args, rounds: int, worker_counts: list[int], servers: list[Server]) -> None:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    command = shlex.join(_web_command() + args.gunicorn_arg)
    worker_class = ", ".join(sorted({srv.worker_class() for srv in servers}))
    changes = " with local changes" if dirty else ""
    baselines = sorted({srv.label.split(" @ ", 1)[1] for srv in servers if " @ " in srv.label})
    baseline_note = (
        f"\nRows whose workers read `N @ {baselines[0]}` are commit `{baselines[0]}`'s code (`--baseline`),\n"
        "its servers taking turns with this checkout's on the same database.\n"
        if baselines
        else ""
    )
    text = f"""# Load benchmark results

Written by `bench/run.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit or "?"}`{changes},
on {os.cpu_count()} CPU cores ({platform.machine()}, Python {platform.python_version()}), PostgreSQL and wrk
on the same machine. Server: `{command}` with `gunicorn.conf.py` (worker class {worker_class}),
WEB_CONCURRENCY = {", ".join(map(str, worker_counts))}. wrk with {args.threads} threads, {args.duration} s per run, the
servers taking turns run by run; {rounds} round(s), each figure from the median round. Data: {USERS:,} users,
{COURSES} courses, one course of {STUDENTS:,} students x {TESTS} tests, a student with {HEAVY_COURSES * HEAVY_TESTS:,}
results.

Requests/s count 2xx responses only. "Node" is the original app (one process, so one core) on
this machine with the same data. "req/s per worker" is the better of the connection counts
divided by the workers; with 1 worker it is our rate per core, and "per worker / Node" is then
the per-core ratio (the goal is 2x). With 2 workers the two cores are shared with PostgreSQL and
wrk, so the rate per worker drops. "non-2xx" adds up other responses (for the POST: any but a 201)
and socket errors over every run of that row; "load avg" is the 1-minute load average before each
kept run. "server CPU ms/req" is the CPU time (user + system) gunicorn's processes spent per
answer, the median over the row's runs: unlike requests/s it barely moves when other work shares
the machine, so it is the figure to compare before and after on a busy one. "database CPU ms/req"
is the same for PostgreSQL's backends serving the benchmark's database (the database's core; "-"
when its processes can't be read, a server on another machine).
{baseline_note}
{table}
"""
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
