#!/usr/bin/env python3
"""Benchmark of the gradebook CSV import's worst cases: time and the worker's memory per body.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``), migrates it and loads
   ``manage.py seed --students 1000 --tests 20 --courses 1`` (the import's limits are then 47
   columns and 1,100 rows after the header);
2. starts gunicorn as production runs it (DEBUG off, generated secrets, gunicorn.conf.py), one
   worker, from this checkout; with ``--baseline REF``, also a second one from ``git archive REF``
   (in a temporary folder, same database), so both versions are measured in the same run;
3. posts each body to ``POST /api/courses/{id}/gradebook/import/?dry_run=true`` (``text/csv``),
   ``--repeat`` times, the servers taking turns, and records the time to the last byte of the
   answer and the worker's peak resident memory during the request (``/proc/<pid>/status``
   VmHWM, reset before each request through ``/proc/<pid>/clear_refs``), less its VmRSS before;
4. prints a markdown table of the medians, stops gunicorn and drops the database.

The bodies, each at most the import's 10 MiB:

- ``columns``: ``email`` and 5,000,000 empty columns in the header (5 MB);
- ``blank_lines``: a header, then 10 MiB of ``\\n``;
- ``one_column_rows``: the header ``email``, then 10 MiB of ``x\\n``;
- ``commas``: 10 MiB of ``,``;
- ``export``: the course's own export (1,000 students x 20 tests), for an ordinary file.

Run from the project root: ``.venv/bin/python bench/csv_import.py --baseline HEAD~3`` (``--help``).
"""

from __future__ import annotations

import argparse
import http.client
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradebook as bench  # the gradebook benchmark's database and gunicorn helpers
from revisions import export_tree

ROOT = bench.ROOT
MIB = 1024 * 1024
BODY_BYTES = 10 * MIB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", help="a git revision to measure beside this checkout, e.g. HEAD~3")
    parser.add_argument("--repeat", type=int, default=3, help="requests per body and server (default 3)")
    parser.add_argument("--only", help="comma-separated bodies (default: all)")
    args = parser.parse_args()

    server = bench._server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database = f"bench_csv_import_{secrets.token_hex(4)}"
    servers: dict[str, tuple] = {}  # label → (gunicorn process, port, worker pid)
    results: dict[tuple[str, str], list[tuple[int, float, int]]] = {}
    statuses: dict[tuple[str, str], set[int]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-csv-import-") as scratch:
        try:
            env = bench._prepare(server, database, ["--students", "1000", "--tests", "20"])
            course_id, token = bench._world(env)
            trees = {"this checkout": ROOT}
            if args.baseline:
                trees = {args.baseline: export_tree(args.baseline, Path(scratch) / "baseline"), **trees}
            for label, tree in trees.items():
                process, port = bench._start(env, tree)
                servers[label] = (process, port, bench._worker_pid(process.pid))
            path = f"/api/courses/{course_id}/gradebook/import/?dry_run=true"
            export = _export(servers["this checkout"][1], course_id, token)
            bodies = _bodies(export)
            if args.only:
                bodies = {name: bodies[name] for name in args.only.split(",")}
            for _, port, _ in servers.values():  # warm-up: imports, connection
                _post(port, path, token, export)
            for round_ in range(args.repeat):
                for name, body in bodies.items():
                    # The servers take turns, in a different order each round.
                    labels = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                    for label in labels:
                        _, port, worker = servers[label]
                        status, seconds, peak = _measure(port, worker, path, token, body)
                        results.setdefault((name, label), []).append((status, seconds, peak))
                        statuses.setdefault((name, label), set()).add(status)
                        print(
                            f"    {name:<16} {label:<14} {status} {seconds * 1000:7.0f} ms "
                            f"peak {peak / 1024:+6.1f} MiB",
                            flush=True,
                        )
        finally:
            for process, _, _ in servers.values():
                bench._stop(process)
            bench._psql(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    labels = list(servers)
    print(f"\n{args.repeat} requests per body and server; medians.\n")
    print("| body | size | " + " | ".join(f"{label}: status, time, worker peak" for label in labels) + " |")
    print("|---|---|" + "---|" * len(labels))
    for name, body in bodies.items():
        cells = []
        for label in labels:
            runs = results[(name, label)]
            status = "/".join(str(s) for s in sorted(statuses[(name, label)]))
            seconds = statistics.median(run[1] for run in runs)
            peak = statistics.median(run[2] for run in runs)
            cells.append(f"{status}, {seconds * 1000:,.0f} ms, {peak / 1024:+.1f} MiB")
        print(f"| {name} | {len(body) / MIB:.1f} MiB | " + " | ".join(cells) + " |")
    return 0


def _bodies(export: bytes) -> dict[str, bytes]:
    header = export.split(b"\r\n", 1)[0] + b"\r\n"
    return {
        "columns": b"email" + b"," * 5_000_000 + b"\r\n",
        "blank_lines": header + b"\n" * (BODY_BYTES - len(header)),
        "one_column_rows": b"email\n" + b"x\n" * ((BODY_BYTES - 6) // 2),
        "commas": b"," * BODY_BYTES,
        "export": export,
    }


def _export(port: int, course_id: int, token: str) -> bytes:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request("GET", f"/api/courses/{course_id}/gradebook.csv", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"the export answered {response.status}")
    return body


def _post(port: int, path: str, token: str, body: bytes) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(
        "POST", path, body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    )
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _measure(port: int, worker: int, path: str, token: str, body: bytes) -> tuple[int, float, int]:
    """The status, the seconds to the answer's last byte, and the worker's peak RSS over its RSS before (KiB)."""
    before = bench._memory(worker)["VmRSS"]
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
    started = time.perf_counter()
    status = _post(port, path, token, body)
    seconds = time.perf_counter() - started
    return status, seconds, bench._memory(worker)["VmHWM"] - before


if __name__ == "__main__":
    sys.exit(main())
