#!/usr/bin/env python3
"""Benchmark of a large file through local storage: upload and download time, and the web process's memory.

What it does (nothing outside this machine is touched, no database is used):

1. writes a file of ``--megabytes`` MiB (default 100) of random bytes to a temporary folder;
2. starts gunicorn as production runs it (DEBUG off, generated secrets, gunicorn.conf.py), one
   worker, with the local store in a temporary ``MEDIA_ROOT`` and ``FILE_MAX_BYTES`` the file's
   size, serving ``bench/files_app.py``: the app plus ``GET /bench/download/<key>``, the local
   store's download of a key (the API's own download route needs submissions);
3. warms the worker up (one small upload and download), then reads its resident memory while idle;
4. asks for an upload as the API does (``files.store().presigned_upload``, in this process with
   the server's secret) and sends the file to its ``upload_url`` as one multipart POST of its
   fields and the file, streamed from disk; then downloads it to the last byte; checks both copies
   against the source's SHA-256;
5. for each, records the time and the worker's resident memory: before, its peak during the
   request (VmHWM, reset through ``/proc/<pid>/clear_refs``, and VmRSS sampled every 20 ms) and
   after; the goal is a peak within 20 MiB of the idle size;
6. prints a markdown table, stops gunicorn and removes the temporary folders.

Run from the project root: ``.venv/bin/python bench/files.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradebook as bench  # the gradebook benchmark's gunicorn and memory helpers

ROOT = bench.ROOT
MIB = 1024 * 1024
CHUNK = MIB
GOAL_MIB = 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="the file's size in MiB (default 100)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    source = work / "source.bin"
    size = args.megabytes * MIB
    digest = _write_random(source, size)
    # This process asks for the uploads as the server would: same settings, same secret.
    os.environ.update(
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SECRET": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": str(work / "media"),
            "FILE_MAX_BYTES": str(size),
            "DJANGO_SETTINGS_MODULE": "gradingsite.settings",
        }
    )
    for name in ("DEBUG", "AWS_STORAGE_BUCKET_NAME"):
        os.environ.pop(name, None)
    env = dict(os.environ)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()

    rows: list[tuple[str, str]] = []
    gunicorn = None
    try:
        gunicorn, port = bench._start(env, app="bench.files_app:application")
        worker = bench._worker_pid(gunicorn.pid)
        warm = work / "warm.bin"
        _write_random(warm, MIB)
        key = _upload(port, warm)
        _download(port, key)
        idle = bench._memory(worker)["VmRSS"]
        rows.append(("worker RSS, idle after a warm-up", f"{idle / 1024:.1f} MiB"))
        print(f"    idle RSS {idle / 1024:.1f} MiB", flush=True)

        key, upload = _measure(worker, lambda: _upload(port, source))
        if _sha256(Path(env["MEDIA_ROOT"], key)) != digest:
            raise SystemExit("the stored file differs from the source")
        downloaded, download = _measure(worker, lambda: _download(port, key))
        if downloaded != digest:
            raise SystemExit("the downloaded file differs from the source")
        for label, (seconds, before, peak, after) in (("upload", upload), ("download", download)):
            verdict = "within" if peak - idle <= GOAL_MIB * 1024 else "OVER"
            rows.append(
                (
                    f"{args.megabytes} MiB {label}",
                    f"{seconds:.2f} s ({args.megabytes / seconds:.0f} MiB/s); worker RSS before "
                    f"{before / 1024:.1f} MiB, peak {peak / 1024:.1f} MiB ({(peak - idle) / 1024:+.1f} MiB over "
                    f"idle: {verdict} {GOAL_MIB} MiB), after {after / 1024:.1f} MiB",
                )
            )
            print(f"    {rows[-1][0]}: {rows[-1][1]}", flush=True)
    finally:
        if gunicorn is not None:
            bench._stop(gunicorn)
        shutil.rmtree(work, ignore_errors=True)

    print("\n| measure | result |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


def _measure(worker: int, run):
    """``run()``'s result, and its seconds and the worker's RSS before, at its peak and after (KiB)."""
    before = bench._memory(worker)["VmRSS"]
    Path(f"/proc/{worker}/clear_refs").write_text("5")  # VmHWM := VmRSS
    sampler = bench._Sampler(worker)
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    sampler.stop()
    memory = bench._memory(worker)
    return result, (seconds, before, max(memory["VmHWM"], sampler.peak), memory["VmRSS"])


def _write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        for _ in range(size // CHUNK):
            chunk = os.urandom(CHUNK)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _upload(port: int, path: Path) -> str:
    """Asks for an upload as the API does and sends ``path`` to it, streamed; the object's key."""
    from django.test import RequestFactory

    from gradingsite import files

    size = path.stat().st_size
    request = RequestFactory().get("/", HTTP_HOST=f"127.0.0.1:{port}")
    upload = files.store().presigned_upload(
        files.new_key(), size=size, content_type="application/octet-stream", request=request
    )
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in upload.fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
        yield tail

    url = urlsplit(upload.url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=300)
    connection.request(
        "POST",
        url.path,
        body=body(),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        },
    )
    response = connection.getresponse()
    answer = response.read()
    connection.close()
    if response.status != 204:
        raise SystemExit(f"the upload answered {response.status}: {answer[:500]!r}")
    return upload.key


def _download(port: int, key: str) -> str:
    """Downloads ``key`` to the last byte; its SHA-256."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request("GET", f"/bench/download/{key}")
    response = connection.getresponse()
    if response.status != 200 or not response.getheader("Content-Disposition", "").startswith("attachment"):
        raise SystemExit(f"the download answered {response.status}")
    digest = hashlib.sha256()
    while chunk := response.read(CHUNK):
        digest.update(chunk)
    connection.close()
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
