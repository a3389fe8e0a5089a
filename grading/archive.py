"""A test's submissions as one zip, for grading offline: every student's latest attempt, its files and
its text, streamed as it is built.

The zip holds a folder per student, ``Lastname_Firstname_<student id>/attempt-<N>/``, with the
attempt's files under their names and its text as ``body.txt`` (none when the body is empty). Every
part of a member's name is a cleaned display name (``files.display_name``: no path separators, no
``.`` or ``..``, no control characters, at most 255 bytes), so no member can be written outside its
folder (zip-slip); two files of one attempt with the same name (compared case-insensitively, as
Windows and macOS do) become ``name (2).ext``. A file the store can't give any more is left out, a
``<name>.missing.txt`` saying so in its place.

Memory stays flat whatever the size: the students' attempts are read ``CHUNK`` at a time, each
file is copied from the store ``COPY_BYTES`` at a time, and each piece of the zip is handed to the
response as soon as it is written (``zipfile`` on a stream it can't seek writes each member's
sizes after its data).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from itertools import groupby

from django.http import StreamingHttpResponse

from grading.models import Submission, Test, Upload
from grading.submissions import latest_only
from gradingsite import files

# Students' attempts read at a time (with their bodies: at most 100,000 characters each).
CHUNK = 100
# Bytes of a file copied at a time, and handed to the response at once. Measured (bench/files.py):
# 64 and 256 KiB copy at 500-800 MiB/s here, 1 MiB at under 200 (each buffer a fresh mapping).
COPY_BYTES = 256 * 1024
BODY_NAME = "body.txt"


class _Pieces:
    """A file ``zipfile`` writes to: it keeps what is written until ``take()``, and can't seek."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))  # no copy of a bytes object, which is what zipfile writes
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
        self.parts.clear()
        return data


def _part(text: str, fallback: str) -> str:
    """One part of a member's name: a cleaned display name, its path separators and spaces as underscores."""
    flat = text.replace("/", "_").replace("\\", "_")
    return files.display_name(flat, fallback=fallback).replace(" ", "_")


def student_folder(last_name: str, first_name: str, student_id: int) -> str:
    return _part(f"{last_name}_{first_name}_{student_id}", fallback=str(student_id))


def unique_names(names: list[str], taken: set[str]) -> list[str]:
    """``names`` cleaned, each made unique among the others and ``taken`` (lower case) by `` (2)``,
    `` (3)``… before its extension."""
    unique = []
    for name in names:
        shown = files.display_name(name)
        stem, dot, extension = shown.rpartition(".")
        if not dot or not stem:
            stem, dot, extension = shown, "", ""
        candidate, number = shown, 1
        while candidate.lower() in taken:
            number += 1
            candidate = files.display_name(f"{stem} ({number}){dot}{extension}")
        taken.add(candidate.lower())
        unique.append(candidate)
    return unique


def _latest(test: Test) -> list[int]:
    """The ids of every student's latest attempt, by the student's last name, first name, id."""
    latest = latest_only(Submission.objects.filter(test_id=test.pk))
    ordered = latest.order_by("student__last_name", "student__first_name", "student_id")
    return list(ordered.values_list("pk", flat=True))


def _member(name: str, when, size: int, compress: int = zipfile.ZIP_STORED) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6])
    info.compress_type = compress
    info.file_size = size  # known: zipfile decides on ZIP64 before the data, as it can't go back
    info.external_attr = 0o644 << 16
    return info


def zip_chunks(test: Test) -> Iterator[bytes]:
    """The zip of the test's latest attempts, piece by piece."""
    store = files.store()
    out = _Pieces()
    with zipfile.ZipFile(out, mode="w", allowZip64=True) as archive:
        ids = _latest(test)
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            rows = (
                Submission.objects.filter(pk__in=chunk)
                .order_by("student__last_name", "student__first_name", "student_id")
                .values_list(
                    "pk", "attempt", "submitted_at", "body", "student_id", "student__last_name", "student__first_name"
                )
            )
            uploads = Upload.objects.filter(submission_id__in=chunk).order_by("submission_id", "position", "id")
            by_submission = {
                submission_id: list(group)
                for submission_id, group in groupby(
                    uploads.values_list("submission_id", "key", "name", "size"), key=lambda row: row[0]
                )
            }
            for pk, attempt, submitted_at, body, student_id, last_name, first_name in rows:
                folder = f"{student_folder(last_name, first_name, student_id)}/attempt-{attempt}"
                taken: set[str] = set()
                if body:
                    data = body.encode()
                    taken.add(BODY_NAME)
                    member = _member(f"{folder}/{BODY_NAME}", submitted_at, len(data), zipfile.ZIP_DEFLATED)
                    archive.writestr(member, data)
                    yield out.take()
                attached = by_submission.get(pk, [])
                names = unique_names([row[2] for row in attached], taken)
                for (_, key, _, size), name in zip(attached, names, strict=True):
                    yield from _copy(archive, out, store, key, f"{folder}/{name}", submitted_at, size)
    yield out.take()


def _copy(archive, out: _Pieces, store, key: str, name: str, when, size: int) -> Iterator[bytes]:
    try:
        source = store.open(key)
    except FileNotFoundError:
        note = b"This file could not be read from storage when the zip was made.\n"
        archive.writestr(_member(f"{name}.missing.txt", when, len(note)), note)
        yield out.take()
        return
    try:
        with archive.open(_member(name, when, size), mode="w") as member:
            while chunk := source.read(COPY_BYTES):
                member.write(chunk)
                yield out.take()
    finally:
        source.close()
    yield out.take()


def zip_response(test: Test) -> StreamingHttpResponse:
    """The zip of the test's latest attempts, as a download streamed as it is built."""
    response = StreamingHttpResponse(zip_chunks(test), content_type="application/zip")
    response["Content-Disposition"] = files.content_disposition(f"{test.name} submissions.zip")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
