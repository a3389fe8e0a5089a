#!/usr/bin/env python3
"""Scaling benchmark: the API direct to PostgreSQL, through PgBouncer, and with a read replica.

What it measures: requests/s, latency and the number of server connections PostgreSQL holds, for
the same load in three database configurations of the app (gradingsite/settings.py):

- ``direct``: ``DATABASE_URL`` only; every gunicorn thread keeps its own connection to the primary;
- ``pooled``: ``DATABASE_CONNECTION_POOL_URL`` too, a PgBouncer in transaction mode
  (``pool_size`` 10, ``max_client_conn`` 500) in front of the primary;
- ``pooled + replica``: ``DATABASE_REPLICA_URLS`` too, a streaming hot standby
  (``REPLICA_MAX_LAG_SECONDS=10``) for the lag-tolerant reads (lists, gradebook, stats, grades).

What it does (nothing outside this machine is touched):

1. starts a throwaway primary and its streaming replica (``tests.servers.ReplicaPair``), creates
   ``bench_scaling`` on the primary, migrates it (``--database direct``), loads
   ``manage.py seed --students 1000 --tests 20 --courses 1``, issues a teacher's token, runs
   ``ANALYZE`` and waits for the replica to catch up;
2. starts a PgBouncer in front of the primary (``tests.servers.PgBouncer``);
3. per configuration: 2 gunicorn instances x 4 workers (the Procfile's web command with
   gunicorn.conf.py, ``WEB_CONCURRENCY=4``, DEBUG off, loopback only), checks every endpoint answers
   200, warms up, then per endpoint runs two wrk processes at once, one per instance (2 threads,
   ``--connections`` each), while sampling every 0.2 s the client backends of ``bench_scaling`` on
   the primary and on the replica (the maximum is kept); then stops the instances and empties
   PgBouncer's pool. With ``--repeat N`` the N rounds each go over every configuration;
4. writes ``bench/SCALING.md`` (``--output``) and stops everything it started, also after an
   error, Ctrl-C or SIGTERM.

Run from the project root: ``.venv/bin/python bench/scaling.py`` (``--help`` for options; about
2 minutes per round with the default 8 s runs). Needs wrk, PostgreSQL's server binaries and pgbouncer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import PgBouncer, ReplicaPair, find_binary, free_ports  # noqa: E402

BENCH = ROOT / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
DB = "bench_scaling"
INSTANCES, WORKERS, THREADS = 2, 4, 2  # threads: gunicorn.conf.py's
POOL_SIZE, MAX_CLIENT_CONN, MAX_LAG = 10, 500, 10
SAMPLE_SECONDS = 0.2
# The seed's bulk course and its teacher (the demo teacher, grace@hey.com, teaches only the demo course).
COURSE, TEACHER = "Bulk course 001", "teacher001@bulk.example.com"
CONFIGS = ["direct", "pooled", "pooled + replica"]
ENDPOINTS = {
    "gradebook": ("GET /api/courses/{id}/gradebook/", "/api/courses/{course}/gradebook/"),
    "stats": ("GET /api/tests/{id}/stats/", "/api/tests/{test}/stats/"),
    "grades": ("GET /api/courses/{id}/grades/?page_size=1000", "/api/courses/{course}/grades/?page_size=1000"),
    "results": ("GET /api/tests/{id}/results/?page_size=1000", "/api/tests/{test}/results/?page_size=1000"),
    "courses": ("GET /api/courses/", "/api/courses/"),
}
COUNT_SQL = (
    "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND datname = %s"
    " AND pid <> pg_backend_pid()"  # not the sampling connection itself
)


@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    bad: int  # non-2xx responses and socket errors
    primary: int
    replica: int
    load: float


@dataclass
class Started:
    """Everything to stop on the way out."""

    pair: ReplicaPair | None = None
    bouncer: PgBouncer | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stop_processes(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                except ProcessLookupError:
                    pass
        self.processes.clear()

    def stop(self) -> None:
        self.stop_processes()
        if self.bouncer:
            self.bouncer.stop()
        if self.pair:
            self.pair.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per wrk run (default 8)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds over every configuration (default 1)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections per instance (default 32)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated endpoint keys (default all: {','.join(ENDPOINTS)})"
    )
    parser.add_argument("--output", default=str(BENCH / "SCALING.md"), help="markdown file to write")
    args = parser.parse_args()
    keys = [key.strip() for key in args.only.split(",") if key.strip()] or list(ENDPOINTS)
    if unknown := set(keys) - set(ENDPOINTS):
        sys.exit(f"unknown endpoint key(s) {', '.join(sorted(unknown))}: choose from {', '.join(ENDPOINTS)}")

    signal.signal(signal.SIGTERM, _interrupt)
    started = Started()
    logs = Path(tempfile.mkdtemp(prefix="bench-scaling-"))
    ok = False
    try:
        runs = _bench(args, keys, started, logs)
        text = _report(args, keys, runs, started, _log_trouble(logs))
        Path(args.output).write_text(text)
        print(f"\n{text}\nwritten to {args.output}")
        ok = True
        return 0
    finally:
        started.stop()
        if ok:
            shutil.rmtree(logs, ignore_errors=True)
        else:
            print(f"gunicorn logs kept: {logs}")


def _log_trouble(logs: Path) -> str:
    """What the servers' logs say went wrong: tracebacks, and replicas found unfit (gradingsite.replicas)."""
    text = "\n".join(log.read_text(errors="replace") for log in sorted(logs.glob("*.log")))
    tracebacks, unfit = text.count("Traceback"), text.count("reading from the primary")
    if not tracebacks and not unfit:
        return "The servers' logs hold no traceback and no replica found unfit."
    return f"**The servers' logs hold {tracebacks} traceback(s) and {unfit} warning(s) of a replica found unfit.**"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _step(message: str) -> None:
    print(f"==> {message}", flush=True)


def _bench(args: argparse.Namespace, keys: list[str], started: Started, logs: Path) -> dict[tuple[str, str], list[Run]]:
    _step("primary and streaming replica")
    pair = started.pair = ReplicaPair.start()
    with psycopg.connect(pair.primary_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{DB}"')
    jwt_secret = secrets.token_urlsafe(50)
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "REPLICA_")) and k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "CONN_MAX_AGE"}
    }
    base_env |= {
        "DATABASE_URL": pair.primary_url(DB),
        "JWT_SECRET": jwt_secret,
        "ACCESS_TOKEN_MINUTES": "600",  # the token must outlive the run
        "PYTHONUNBUFFERED": "1",
    }
    manage_env = base_env | {"DEBUG": "1"}
    _step(f"migrate and seed {DB}")
    _manage(manage_env, "migrate", "--noinput", "--database", "direct")
    _manage(manage_env, "seed", "--students", "1000", "--tests", "20", "--courses", "1")
    token = _manage(manage_env, "issue_token", TEACHER).strip().splitlines()[-1]
    with psycopg.connect(pair.primary_url(DB), autocommit=True) as conn:
        conn.execute("ANALYZE")
        course = conn.execute("SELECT id FROM courses_course WHERE name = %s", [COURSE]).fetchone()[0]
        test = conn.execute(
            "SELECT id FROM grading_test WHERE course_id = %s ORDER BY date, id LIMIT 1", [course]
        ).fetchone()[0]
    pair.wait_caught_up(timeout=120)
    paths = {key: ENDPOINTS[key][1].format(course=course, test=test) for key in keys}

    _step(f"pgbouncer in front of the primary: pool_size {POOL_SIZE}, max_client_conn {MAX_CLIENT_CONN}")
    bouncer = started.bouncer = PgBouncer.start(
        "127.0.0.1", pair.primary_port, pool_size=POOL_SIZE, max_client_conn=MAX_CLIENT_CONN
    )
    configs = {
        "direct": {},
        "pooled": {"DATABASE_CONNECTION_POOL_URL": bouncer.url(DB)},
        "pooled + replica": {
            "DATABASE_CONNECTION_POOL_URL": bouncer.url(DB),
            "DATABASE_REPLICA_URLS": pair.replica_url(DB),
            "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
        },
    }
    server_env = base_env | {"SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1"}
    runs: dict[tuple[str, str], list[Run]] = {}
    with Sampler(pair) as sampler:
        for round_ in range(1, max(1, args.repeat) + 1):
            for config, extra in configs.items():
                _step(f"round {round_}: {config}")
                bases = _start_instances(server_env | extra, started, logs, f"{round_}-{config.replace(' + ', '-')}")
                try:
                    for path in paths.values():
                        _check(bases, path, token)
                    for path in paths.values():  # warm-up: connections opened, code paths run
                        _wrk_pair(bases, path, token, connections=8, duration=1)
                    for key, path in paths.items():
                        load = os.getloadavg()[0]
                        sampler.reset()
                        results = _wrk_pair(bases, path, token, connections=args.connections, duration=args.duration)
                        primary, replica = sampler.peak()
                        run = _run(results, primary, replica, load)
                        runs.setdefault((config, key), []).append(run)
                        print(
                            f"    {ENDPOINTS[key][0]:<46} {run.rps:8.1f} req/s  p50 {run.p50:6.1f} ms  "
                            f"p99 {run.p99:6.1f} ms  non-2xx+errors {run.bad}  connections: primary {primary}, "
                            f"replica {replica}  (load {load:.2f})",
                            flush=True,
                        )
                finally:
                    started.stop_processes()
                    _empty_pool(bouncer)
                    sampler.wait_idle()
    return runs


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(  # noqa: S603
        [str(PYTHON), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done.stdout


def _web_command() -> list[str]:
    """The Procfile's web command."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web":
            return shlex.split(command)
    raise RuntimeError("the Procfile has no web process")


def _start_instances(env: dict[str, str], started: Started, logs: Path, label: str) -> list[str]:
    """INSTANCES gunicorns of WORKERS workers each; their base URLs once each answers ``GET /``."""
    command = _web_command()
    command[0] = str(ROOT / ".venv" / "bin" / command[0])
    bases, processes = [], []
    for n, port in enumerate(free_ports(INSTANCES)):
        # gunicorn.conf.py binds [::]:$PORT (every address): bound to loopback here instead.
        argv = [*command, "--no-control-socket", "--bind", f"127.0.0.1:{port}"]
        log = logs / f"gunicorn-{label}-{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(  # noqa: S603
                argv,
                cwd=ROOT,
                env=env | {"WEB_CONCURRENCY": str(WORKERS), "PORT": str(port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.processes.append(process)
        processes.append(process)
        bases.append(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    for base, process in zip(bases, processes, strict=True):
        while _get(base + "/", "")[0] != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn at {base} did not start: see {logs}")
            time.sleep(0.2)
    print(f"    {INSTANCES} x {WORKERS} workers: {shlex.join(command[1:])} --no-control-socket on {', '.join(bases)}")
    return bases


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _check(bases: list[str], path: str, token: str) -> None:
    for base in bases:
        status, body = _get(base + path, token)
        if status != 200:
            raise RuntimeError(f"GET {path} on {base} answered {status}: {body[:300]!r}")
    data = json.loads(body)
    count = f", count {data['count']}" if isinstance(data, dict) and "count" in data else ""
    print(f"    GET {path}: 200 on both, {len(body):,} bytes{count}")


def _wrk_pair(bases: list[str], path: str, token: str, *, connections: int, duration: int) -> list[dict]:
    """One wrk per instance, at the same time; each one's BENCH_JSON summary (bench/requests.lua)."""
    env = os.environ | {"BENCH_TOKEN": token, "BENCH_MODE": "get", "BENCH_THREADS": "2"}
    script = str(BENCH / "requests.lua")
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "-s", script]
    processes = [
        subprocess.Popen([*argv, base + path], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: S603
        for base in bases
    ]
    results = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=duration + 60)
            line = next((x for x in out.splitlines() if x.startswith("BENCH_JSON ")), None)
            if process.returncode or line is None:
                raise RuntimeError(f"wrk exited {process.returncode}:\n{out}\n{err}")
            results.append(json.loads(line.removeprefix("BENCH_JSON ")))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


def _run(results: list[dict], primary: int, replica: int, load: float) -> Run:
    return Run(
        rps=sum(r["s2xx"] / (r["duration_us"] / 1e6) for r in results),
        p50=max(r["p50_us"] for r in results) / 1000,
        p99=max(r["p99_us"] for r in results) / 1000,
        bad=sum(
            r["requests"] - r["s2xx"] + r["connect_errors"] + r["read_errors"] + r["write_errors"] + r["timeouts"]
            for r in results
        ),
        primary=primary,
        replica=replica,
        load=load,
    )


def _empty_pool(bouncer: PgBouncer) -> None:
    """Close PgBouncer's server connections, so the next configuration's counts start from none."""
    with psycopg.connect(bouncer.url("pgbouncer"), autocommit=True, prepare_threshold=None) as conn:
        conn.execute(f"KILL {DB}")
        conn.execute(f"RESUME {DB}")


class Sampler:
    """Every SAMPLE_SECONDS, the client backends of DB on the primary and on the replica; keeps the maxima."""

    def __init__(self, pair: ReplicaPair) -> None:
        self._conns = [psycopg.connect(url, autocommit=True) for url in (pair.primary_url(DB), pair.replica_url(DB))]
        self._max = [0, 0]
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        for conn in self._conns:
            conn.close()

    def _counts(self) -> list[int]:
        return [conn.execute(COUNT_SQL, [DB]).fetchone()[0] for conn in self._conns]

    def _loop(self) -> None:
        while not self._done.wait(SAMPLE_SECONDS):
            counts = self._counts()
            with self._lock:
                self._max = [max(m, c) for m, c in zip(self._max, counts, strict=True)]

    def reset(self) -> None:
        with self._lock:
            self._max = [0, 0]

    def peak(self) -> tuple[int, int]:
        with self._lock:
            return self._max[0], self._max[1]

    def wait_idle(self, timeout: float = 30) -> None:
        """Wait until the instances' connections are gone from both servers."""
        deadline = time.monotonic() + timeout
        while any(self._counts()) and time.monotonic() < deadline:
            time.sleep(SAMPLE_SECONDS)


def _median_run(runs: list[Run]) -> Run:
    """The run with the median rate (the lower middle one for an even count)."""
    return sorted(runs, key=lambda run: run.rps)[(len(runs) - 1) // 2]


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)  # noqa: S603, S607
    return done.stdout.strip()


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.machine(),
    )
    return f"{os.cpu_count()} cores ({cpu})"


def _report(
    args: argparse.Namespace, keys: list[str], runs: dict[tuple[str, str], list[Run]], started: Started, trouble: str
) -> str:
    assert started.pair is not None
    bouncer_binary = find_binary("pgbouncer") or "pgbouncer"
    with psycopg.connect(started.pair.primary_url(DB)) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    version = subprocess.run([bouncer_binary, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    bouncer_version = version.stdout.split("\n")[0]
    commit = _git("rev-parse", "--short", "HEAD")
    dirty = _git("status", "--porcelain", "--", "accounts", "courses", "grading", "gradingsite")
    rounds = max(1, args.repeat)
    command = "bench/scaling.py" + "".join(f" {shlex.quote(a)}" for a in sys.argv[1:])
    kept = {(config, key): _median_run(runs[config, key]) for config in CONFIGS for key in keys}
    peaks = {
        (config, key): (max(r.primary for r in runs[config, key]), max(r.replica for r in runs[config, key]))
        for config in CONFIGS
        for key in keys
    }
    lines = [
        "# Scaling benchmark: direct, pooled, pooled + replica",
        "",
        f"Written by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`"
        + (" (with uncommitted changes to the application)" if dirty else "")
        + f", on {_machine()}: **PostgreSQL (primary and replica), PgBouncer, {INSTANCES * WORKERS} gunicorn workers "
        "and wrk all share these cores**, so the figures compare configurations on this machine, not what "
        "separate servers would do.",
        "",
        f"Data: `seed --students 1000 --tests 20 --courses 1` (one course of 1,000 students x 20 tests), then "
        f"`ANALYZE`. Databases: a throwaway primary and a streaming hot standby (PostgreSQL {pg_version}, "
        f"`fsync=off`), {bouncer_version} in transaction mode (`default_pool_size` {POOL_SIZE}, `max_client_conn` "
        f"{MAX_CLIENT_CONN}). Server: {INSTANCES} gunicorn instances x {WORKERS} workers x {THREADS} threads "
        f"(`{shlex.join(_web_command())} --no-control-socket` with gunicorn.conf.py, on 127.0.0.1, DEBUG off, "
        f"`CONN_MAX_AGE` default), as the bulk course's teacher. Configurations: `direct` (`DATABASE_URL`), "
        "`pooled` (+ `DATABASE_CONNECTION_POOL_URL` through PgBouncer), `pooled + replica` "
        f"(+ `DATABASE_REPLICA_URLS`, `REPLICA_MAX_LAG_SECONDS={MAX_LAG}`), each started fresh, checked "
        "(every endpoint a 200) and warmed up (1 s per endpoint). Load: two wrk processes at once, one per "
        f"instance, 2 threads and {args.connections} keep-alive connections each, {args.duration} s per endpoint; "
        f"{rounds} round(s) over every configuration"
        + (", each figure from the run with the median rate" if rounds > 1 else "")
        + ".",
        "",
        "req/s: 2xx responses per second, the two instances added. p50/p99: the higher of the two wrk "
        "processes' percentiles. Connections: the most client backends of `bench_scaling` seen at once on each "
        f"server (sampled every {SAMPLE_SECONDS} s during the run, the sampler's own left out"
        + (", the maximum over the rounds" if rounds > 1 else "")
        + "); through PgBouncer they are its server connections. non-2xx: other responses and socket errors. "
        "load avg: the 1-minute load average before the run; the benchmark's own earlier runs count in it, so it "
        "tells little about other work on the machine.",
        "",
        "| Endpoint | Configuration | req/s | p50 ms | p99 ms | connections: primary | replica | non-2xx | load avg |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for key in keys:
        for config in CONFIGS:
            run, (primary, replica) = kept[config, key], peaks[config, key]
            bad = sum(r.bad for r in runs[config, key])
            lines.append(
                f"| `{ENDPOINTS[key][0]}` | {config} | {run.rps:,.0f} | {run.p50:.1f} | {run.p99:.1f} | {primary} | "
                f"{replica} | {bad} | {run.load:.1f} |"
            )
    lines += ["", "## What this shows", "", _findings(keys, kept, peaks, rounds) + " " + trouble, ""]
    return "\n".join(lines)


def _findings(
    keys: list[str], kept: dict[tuple[str, str], Run], peaks: dict[tuple[str, str], tuple[int, int]], rounds: int
) -> str:
    """The paragraph, from the numbers: connections held, and each configuration's rate against direct."""

    def span(config: str) -> str:
        ratios = [kept[config, key].rps / kept["direct", key].rps for key in keys if kept["direct", key].rps]
        return f"{min(ratios):.2f}x to {max(ratios):.2f}x" if ratios else "-"

    def most(config: str, which: int) -> int:
        return max(peaks[config, key][which] for key in keys)

    threads = INSTANCES * WORKERS * THREADS
    pooled = max(most("pooled", 0), most("pooled + replica", 0))
    bounded = "within" if pooled <= POOL_SIZE else "**above**"
    per_key = "; ".join(f"{key} " + " / ".join(f"{kept[config, key].rps:,.0f}" for config in CONFIGS) for key in keys)
    unused = [key for key in keys if peaks["pooled + replica", key][1] == 0]
    text = (
        f"Connections: direct, the primary held up to {most('direct', 0)} connections ({threads} gunicorn threads "
        f"could each keep one); through PgBouncer at most {pooled}, {bounded} its pool of {POOL_SIZE}. With the "
        f"replica, it held up to {most('pooled + replica', 1)} connections for the lag-tolerant reads, while the "
        f"primary still held up to {most('pooled + replica', 0)} (each request's other queries, authentication among "
        "them, stay on the primary). "
        f"Rates (req/s, direct / pooled / pooled + replica): {per_key}. Pooled ran at {span('pooled')} the direct "
        f"rate per endpoint, pooled + replica at {span('pooled + replica')}. "
    )
    if unused:
        text += f"The replica saw no connection during: {', '.join(unused)}. "
    text += (
        "The replica and PgBouncer run on the same cores as the workers and wrk, so here they add no capacity: "
        "these runs show the configurations under load and the connections each holds, not the throughput "
        "separate machines would give"
        + (
            "; with one round there is no measure of the run-to-run noise, so small differences mean little."
            if rounds == 1
            else "."
        )
    )
    return text


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
