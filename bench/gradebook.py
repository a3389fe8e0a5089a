#!/usr/bin/env python3
"""Benchmark of the gradebook: JSON and CSV response times, and the server's memory on a huge CSV.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``), migrates it and loads
   ``manage.py seed --students 1000 --tests 20 --courses 1`` (20,000 results);
2. starts gunicorn as production runs it (DEBUG off, generated secrets, gunicorn.conf.py), one worker,
   so every request lands on the process whose memory is read;
3. times ``GET /api/courses/{id}/gradebook/`` (JSON) and ``/gradebook.csv`` for that course,
   ``--repeat`` times each after a warm-up, to the last byte of the body;
4. in a second fresh database, loads a course of ``--big-students`` students (default 100,000)
   with one test, and restarts gunicorn; then streams the 100,000-row CSV while sampling the
   worker's resident memory (``/proc/<pid>/status``: VmRSS every 20 ms, and VmHWM, the kernel's
   peak), and does the same for the JSON gradebook of that course for contrast;
5. prints a markdown table, stops gunicorn and drops both databases.

Run from the project root: ``.venv/bin/python bench/gradebook.py`` (``--help`` for options).
It takes a few minutes, most of it loading the big course.
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
GUNICORN = ROOT / ".venv" / "bin" / "gunicorn"
TEACHER = "teacher001@bulk.example.com"
COURSE = "Bulk course 001"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=10, help="timed requests per format (default 10)")
    parser.add_argument("--big-students", type=int, default=100_000, help="rows of the memory run (default 100000)")
    args = parser.parse_args()

    server = _server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    suffix = secrets.token_hex(4)
    databases = [f"bench_gradebook_{suffix}", f"bench_gradebook_big_{suffix}"]
    rows: list[tuple[str, str]] = []
    gunicorn = None
    try:
        # 1-3: response times on 1,000 students x 20 tests.
        env = _prepare(server, databases[0], ["--students", str(args.students), "--tests", str(args.tests)])
        gunicorn, port = _start(env)
        course_id, token = _world(env)
        paths = {
            "json": f"/api/courses/{course_id}/gradebook/",
            "csv": f"/api/courses/{course_id}/gradebook.csv",
        }
        for fmt, path in paths.items():
            _get(port, path, token)  # warm-up
            times, size = [], 0
            for _ in range(args.repeat):
                started = time.perf_counter()
                size = _get(port, path, token)
                times.append((time.perf_counter() - started) * 1000)
            label = f"gradebook {fmt.upper()}, {args.students:,} students x {args.tests} tests"
            rows.append(
                (
                    label,
                    f"median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, "
                    f"max {max(times):.0f} ms ({args.repeat} runs, {size / 1024:.0f} KiB)",
                )
            )
            print(f"    {label}: {rows[-1][1]}", flush=True)
        _stop(gunicorn)
        gunicorn = None

        # 4: memory while streaming a CSV of --big-students rows.
        env = _prepare(server, databases[1], ["--students", str(args.big_students), "--tests", "1"])
        gunicorn, port = _start(env)
        course_id, token = _world(env)
        worker = _worker_pid(gunicorn.pid)
        _get(port, f"/api/courses/{course_id}/", token)  # warm-up: imports, connection
        baseline = _memory(worker)["VmHWM"]
        rows.append(("worker memory after warm-up (peak so far)", f"{baseline / 1024:.1f} MiB"))
        for fmt, path in (
            ("CSV", f"/api/courses/{course_id}/gradebook.csv"),
            ("JSON", f"/api/courses/{course_id}/gradebook/"),
        ):
            sampler = _Sampler(worker)
            started = time.perf_counter()
            size = _get(port, path, token)
            elapsed = time.perf_counter() - started
            sampler.stop()
            hwm = _memory(worker)["VmHWM"]
            label = f"{fmt} of {args.big_students:,} rows"
            rows.append(
                (
                    f"{label}: time, size",
                    f"{elapsed:.1f} s, {size / 1024 / 1024:.1f} MiB",
                )
            )
            rows.append(
                (
                    f"{label}: worker peak RSS",
                    f"{sampler.peak / 1024:.1f} MiB sampled, {hwm / 1024:.1f} MiB VmHWM "
                    f"(+{(hwm - baseline) / 1024:.1f} MiB over warm-up)",
                )
            )
            print(f"    {rows[-2][0]}: {rows[-2][1]}\n    {rows[-1][0]}: {rows[-1][1]}", flush=True)
            baseline = hwm
    finally:
        if gunicorn is not None:
            _stop(gunicorn)
        for name in databases:
            _psql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print("\n| measure | result |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


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
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return done.stdout


def _prepare(server: str, name: str, seed_args: list[str]) -> dict:
    _step(f"database {name}: migrate, seed {' '.join(seed_args)}")
    _psql(server, f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": urlunsplit(urlsplit(server)._replace(path=f"/{name}")),
        "SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",
        "WEB_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("DEBUG", None)
    _manage(env, "migrate", "--noinput")
    started = time.perf_counter()
    _manage(env, "seed", *seed_args, "--courses", "1")
    print(f"    seeded in {time.perf_counter() - started:.0f} s", flush=True)
    return env


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


def _start(env: dict, tree: Path = ROOT, app: str = "gradingsite.wsgi"):
    """One gunicorn worker serving ``app`` from the checkout ``tree`` (this one by default); (process, port)."""
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log", delete=False)  # noqa: SIM115
    _step(f"gunicorn from {tree}: 1 worker on 127.0.0.1:{port} (log: {log.name})")
    process = subprocess.Popen(  # noqa: S603
        [str(GUNICORN), app, "--bind", f"127.0.0.1:{port}", "--workers", "1", "--no-control-socket"],
        cwd=tree,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not start; see {log.name}")


def _stop(process) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _get(port: int, path: str, token: str) -> int:
    """GET to the last byte; the body's size. Fails loudly on anything but a 200."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    size = 0
    while chunk := response.read(64 * 1024):
        size += len(chunk)
    if response.status != 200:
        raise SystemExit(f"GET {path} answered {response.status}")
    connection.close()
    return size


def _worker_pid(master: int) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("no gunicorn worker")


def _memory(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values


class _Sampler:
    """Samples a process's VmRSS every 20 ms in a thread; ``peak`` in KiB."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._done.is_set():
            self.peak = max(self.peak, _memory(self.pid)["VmRSS"])
            self._done.wait(0.02)

    def stop(self):
        self._done.set()
        self._thread.join()


if __name__ == "__main__":
    sys.exit(main())
