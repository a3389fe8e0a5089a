#!/usr/bin/env python3
"""Benchmark of files in submissions through local storage: a large upload and download through the
API, and a test's submissions as one zip; time and the web process's memory.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``) and migrates it; in one ``manage.py shell``, a course
   with an online test and ``--students`` students (default 200), each of whom handed in one attempt
   with a body and ``--files`` files (default 3) of ``--file-kilobytes`` KiB of random bytes (default
   1024), written to a temporary ``MEDIA_ROOT``; plus one more student who uploads below;
2. starts gunicorn as production runs it (DEBUG off, generated secrets, gunicorn.conf.py), one
   worker, with that ``MEDIA_ROOT`` and ``FILE_MAX_BYTES`` the large file's size;
3. warms the worker up (a small upload, submission and download through the API, and a zip), then
   reads its resident memory while idle;
4. a file of ``--megabytes`` MiB (default 100) through the API as a client sends it: ``POST
   /api/tests/{id}/uploads/``, the multipart POST of its fields and the file to ``upload_url``
   (streamed from disk), the submission, then ``GET /api/files/{id}/`` as the teacher to the last
   byte; both copies checked against the source's SHA-256;
5. ``GET /api/tests/{id}/submissions.zip`` as the teacher, to the last byte (then once more, written
   to disk and opened to check it holds every member); beside it, the time to read the same files
   from disk (the page cache warm for both), and the time to build the same zip in this process
   without HTTP (``grading.archive``'s zipfile on the same kind of stream) to show what HTTP adds;
6. for each request, the time and the worker's resident memory: before, its peak during the request
   (VmHWM, reset through ``/proc/<pid>/clear_refs``, and VmRSS sampled every 20 ms) and after; the
   goal is a peak within 20 MiB of the idle size;
7. prints a markdown table, stops gunicorn, drops the database and removes the temporary folders.

Run from the project root: ``.venv/bin/python bench/files.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradebook as bench  # the gradebook benchmark's database, gunicorn and memory helpers

ROOT = bench.ROOT
MIB = 1024 * 1024
CHUNK = MIB
GOAL_MIB = 20
TEACHER = "bench.teacher@example.com"
UPLOADER = "bench.uploader@example.com"

# Run by ``manage.py shell`` in the fresh database: the course, its students and their files. Reads
# its numbers from the environment; prints the test's id.
WORLD = """
import os
from pathlib import Path
from django.conf import settings
from django.utils import timezone
from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading.models import Submission, Test, Upload
from gradingsite import files

students, per_student, size = (int(os.environ[n]) for n in ("BENCH_STUDENTS", "BENCH_FILES", "BENCH_FILE_BYTES"))
course = Course.objects.create(name="Bench course")
teacher = User.objects.create_user(email="%(teacher)s", first_name="Bench", last_name="Teacher")
uploader = User.objects.create_user(email="%(uploader)s", first_name="Bench", last_name="Uploader")
Enrollment.objects.create(course=course, user=teacher, role=Role.TEACHER)
Enrollment.objects.create(course=course, user=uploader, role=Role.STUDENT)
test = Test.objects.create(
    course=course, name="Essay", date=timezone.now().date(), submission_type="online", allowed_attempts=None,
    max_files=max(per_student, 10),
)
users = User.objects.bulk_create(
    User(email=f"student{i:04d}@bench.example.com", first_name=f"First{i:04d}", last_name=f"Last{i:04d}")
    for i in range(students)
)
Enrollment.objects.bulk_create(Enrollment(course=course, user=u, role=Role.STUDENT) for u in users)
now = timezone.now()
handed_in = Submission.objects.bulk_create(
    Submission(test=test, student=u, attempt=1, submitted_at=now, body="My essay. " * 100) for u in users
)
root = Path(settings.MEDIA_ROOT)
rows = []
for submission in handed_in:
    for position in range(per_student):
        key = files.new_key()
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        Path(f"{path}.content-type").write_text("application/pdf")
        rows.append(Upload(
            test=test, student_id=submission.student_id, submission=submission, position=position, key=key,
            name=f"part {position + 1}.pdf", size=size, content_type="application/pdf", uploaded_at=now,
        ))
Upload.objects.bulk_create(rows, batch_size=1000)
print(test.pk)
""" % {"teacher": TEACHER, "uploader": UPLOADER}  # noqa: UP031


# Run by ``manage.py shell``: the seconds to build the test's zip to its last byte, and its size.
BUILD_ZIP = """
import time
from grading import archive
from grading.models import Test
test = Test.objects.get(pk=%(test)d)
size = sum(len(piece) for piece in archive.zip_chunks(test))  # a warm-up, as the server had
started = time.perf_counter()
size = sum(len(piece) for piece in archive.zip_chunks(test))
print(time.perf_counter() - started, size)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=int, default=100, help="the large file's size in MiB (default 100)")
    parser.add_argument("--students", type=int, default=200, help="students in the zip (default 200)")
    parser.add_argument("--files", type=int, default=3, help="files per student in the zip (default 3)")
    parser.add_argument("--file-kilobytes", type=int, default=1024, help="each such file's size (default 1024)")
    args = parser.parse_args()

    server = bench._server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database = f"bench_files_{secrets.token_hex(4)}"
    work = Path(tempfile.mkdtemp(prefix="bench-files-"))
    size = args.megabytes * MIB
    rows: list[tuple[str, str]] = []
    gunicorn = None
    try:
        source = work / "source.bin"
        digest = _write_random(source, size)
        env = {
            **os.environ,
            "DATABASE_URL": urlunsplit(urlsplit(server)._replace(path=f"/{database}")),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "JWT_SECRET": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "WEB_CONCURRENCY": "1",
            "LOG_LEVEL": "WARNING",
            "MEDIA_ROOT": str(work / "media"),
            "FILE_MAX_BYTES": str(size),
            "BENCH_STUDENTS": str(args.students),
            "BENCH_FILES": str(args.files),
            "BENCH_FILE_BYTES": str(args.file_kilobytes * 1024),
        }
        for name in ("DEBUG", "AWS_STORAGE_BUCKET_NAME"):
            env.pop(name, None)
        bench._step(f"database {database}: migrate; {args.students} students x {args.files} files")
        bench._psql(server, f'CREATE DATABASE "{database}"')
        bench._manage(env, "migrate", "--noinput")
        started = time.perf_counter()
        test_id = int(bench._manage(env, "shell", "--verbosity=0", "-c", WORLD).strip().splitlines()[-1])
        print(f"    made in {time.perf_counter() - started:.0f} s", flush=True)
        teacher = bench._manage(env, "issue_token", TEACHER).strip()
        uploader = bench._manage(env, "issue_token", UPLOADER).strip()

        gunicorn, port = bench._start(env)
        worker = bench._worker_pid(gunicorn.pid)
        api = Api(port, test_id)
        warm = work / "warm.bin"
        _write_random(warm, MIB)
        api.download(teacher, api.hand_in(uploader, warm))
        api.zip(teacher)
        idle = bench._memory(worker)["VmRSS"]
        rows.append(("worker RSS, idle after a warm-up", f"{idle / 1024:.1f} MiB"))
        print(f"    idle RSS {idle / 1024:.1f} MiB", flush=True)

        file_id, upload = _measure(worker, lambda: api.hand_in(uploader, source))
        stored = Path(env["MEDIA_ROOT"], api.last_key)
        if _sha256(stored) != digest:
            raise SystemExit("the stored file differs from the source")
        downloaded, download = _measure(worker, lambda: api.download(teacher, file_id))
        if downloaded != digest:
            raise SystemExit("the downloaded file differs from the source")
        for label, (seconds, before, peak, after) in (
            (f"{args.megabytes} MiB upload (ask, send, submit)", upload),
            (f"{args.megabytes} MiB download", download),
        ):
            rows.append((label, _figures(seconds, args.megabytes, before, peak, after, idle)))
            print(f"    {label}: {rows[-1][1]}", flush=True)

        # The zip holds the latest attempt of every student: the uploader's too (the large file).
        zipped, timing = _measure(worker, lambda: api.zip(teacher))  # read to the last byte, not kept
        seconds, before, peak, after = timing
        target = work / "submissions.zip"
        api.zip(teacher, target)  # again, kept on disk this time, to check what it holds
        with zipfile.ZipFile(target) as archive:
            members = len(archive.namelist())
        expected = args.students * (args.files + 1) + 1
        if members != expected:
            raise SystemExit(f"the zip holds {members} members, not {expected}")
        mib = zipped / MIB
        label = f"zip of {args.students} students x {args.files} files of {args.file_kilobytes} KiB (+ the large file)"
        rows.append((label, f"{mib:.0f} MiB, {members} members; " + _figures(seconds, mib, before, peak, after, idle)))
        print(f"    {label}: {rows[-1][1]}", flush=True)
        built = bench._manage(env, "shell", "--verbosity=0", "-c", BUILD_ZIP % {"test": test_id}).split()
        label = "the same zip built in one process, without HTTP (grading.archive.zip_chunks)"
        rows.append((label, f"{float(built[0]):.2f} s ({int(built[1]) / MIB / float(built[0]):.0f} MiB/s)"))
        print(f"    {label}: {rows[-1][1]}", flush=True)
        disk_seconds = _read_all(Path(env["MEDIA_ROOT"]))
        rows.append(
            (
                "reading the same files from disk (page cache warm)",
                f"{disk_seconds:.2f} s ({mib / disk_seconds:.0f} MiB/s)",
            )
        )
        print(f"    {rows[-1][0]}: {rows[-1][1]}", flush=True)
    finally:
        if gunicorn is not None:
            bench._stop(gunicorn)
        bench._psql(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)

    print("\n| measure | result |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    return 0


def _figures(seconds, mib, before, peak, after, idle) -> str:
    verdict = "within" if peak - idle <= GOAL_MIB * 1024 else "OVER"
    return (
        f"{seconds:.2f} s ({mib / seconds:.0f} MiB/s); worker RSS before {before / 1024:.1f} MiB, peak "
        f"{peak / 1024:.1f} MiB ({(peak - idle) / 1024:+.1f} MiB over idle: {verdict} {GOAL_MIB} MiB), "
        f"after {after / 1024:.1f} MiB"
    )


class Api:
    """The API as a client calls it, on one gunicorn."""

    def __init__(self, port: int, test_id: int):
        self.port, self.test_id = port, test_id
        self.last_key = ""

    def _call(self, method, path, token, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        answer = response.read()
        connection.close()
        if response.status not in (200, 201):
            raise SystemExit(f"{method} {path} answered {response.status}: {answer[:500]!r}")
        return json.loads(answer)

    def hand_in(self, token: str, path: Path) -> int:
        """Asks for an upload, sends ``path`` to it streamed from disk, submits it: the file's id."""
        size = path.stat().st_size
        answer = self._call(
            "POST",
            f"/api/tests/{self.test_id}/uploads/",
            token,
            {"name": path.name, "size": size, "content_type": "application/octet-stream"},
        )
        self.last_key = answer["upload_fields"]["key"]
        _send(answer["upload_url"], answer["upload_fields"], path)
        submission = self._call("POST", f"/api/tests/{self.test_id}/submissions/", token, {"files": [answer["id"]]})
        return submission["files"][0]["id"]

    def download(self, token: str, file_id: int) -> str:
        """Downloads the file to the last byte; its SHA-256."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        connection.request("GET", f"/api/files/{file_id}/", headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        if response.status != 200 or not response.getheader("Content-Disposition", "").startswith("attachment"):
            raise SystemExit(f"the download answered {response.status}")
        digest = hashlib.sha256()
        while chunk := response.read(CHUNK):
            digest.update(chunk)
        connection.close()
        return digest.hexdigest()

    def zip(self, token: str, target: Path | None = None) -> int:
        """Downloads the test's zip to the last byte, to ``target`` if given; its size."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        connection.request(
            "GET", f"/api/tests/{self.test_id}/submissions.zip", headers={"Authorization": f"Bearer {token}"}
        )
        response = connection.getresponse()
        if response.status != 200:
            raise SystemExit(f"the zip answered {response.status}: {response.read(500)!r}")
        size = 0
        out = target.open("wb") if target is not None else None
        try:
            while chunk := response.read(CHUNK):
                if out is not None:
                    out.write(chunk)
                size += len(chunk)
        finally:
            if out is not None:
                out.close()
        connection.close()
        return size


def _send(url: str, fields: dict, path: Path) -> None:
    """The multipart POST of ``fields`` and then the file, streamed from disk, as a client sends it."""
    size = path.stat().st_size
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK):
                yield chunk
        yield tail

    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
    connection.request(
        "POST",
        address.path,
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


def _read_all(root: Path) -> float:
    """Seconds to read every stored file once (twice, timing the second: the page cache as warm as the zip's)."""
    paths = [p for p in (root / "uploads").rglob("*") if p.is_file() and not p.name.endswith(".content-type")]
    for timed in (False, True):
        started = time.perf_counter()
        for path in paths:
            with path.open("rb") as stream:
                while stream.read(64 * 1024):
                    pass
        if timed:
            return time.perf_counter() - started
    raise AssertionError


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


if __name__ == "__main__":
    sys.exit(main())
