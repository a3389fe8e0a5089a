"""Files in submissions: uploads asked for, checked in the store, attached once; downloads.

A file never passes whole through a web process (on S3; the local store of a deployment without a
bucket takes it in chunks). The steps, as a client takes them:

1. ``upload_create``: a student who may submit now (the rules of submitting,
   ``submissions.open_for``) asks to upload one file, ``{name, size, content_type}``. The limits are
   checked before anything is stored: ``size`` at most ``FILE_MAX_BYTES``, the name's ending among
   the test's ``allowed_extensions`` (null: any), and at most ``max_files`` uploads asked for in the
   last ``files.UPLOAD_SECONDS`` and not attached yet. The answer is an ``Upload`` row and where to
   send the file (``files.Store.presigned_upload``: a key of its own, the exact size and the
   content type pinned, 15 minutes).
2. The client sends the file to the store.
3. ``Attachment``: submitting with ``files: [upload ids]`` checks each upload (the caller's, on
   this test, not attached yet, asked for within ``UNATTACHED_HOURS``) and what the store holds for
   it (a HEAD: there, of the declared size and content type), outside any lock; then, in the
   submission's transaction, locks the uploads, checks the test's limits again and attaches them in
   the order given. An upload is attached once.

Deleting: every upload row deleted, whatever deleted it, leaves its key in ``DeletedObject`` (a
trigger, in the same transaction); ``delete_objects``, a job of the worker, deletes those objects
after the commit and tries again later when the store fails. ``sweep`` (periodic) deletes the
uploads never attached within ``UNATTACHED_HOURS``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateTimeField, OuterRef
from django.http import HttpRequest
from django.utils import timezone

from grading import submissions
from grading.models import DeletedObject, Submission, Test, Upload
from gradingsite import files
from gradingsite.errors import Invalid
from gradingsite.sql import JSONDateTime, JSONList, JSONObject

logger = logging.getLogger(__name__)

# An upload not attached to a submission within this many hours is deleted, object and row.
UNATTACHED_HOURS = 24
# ``type/subtype`` with optional parameters, as a Content-Type header writes it: what S3 stores and
# serves back with the file.
CONTENT_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}")
# An ending in ``allowed_extensions``: letters and digits, dots between (``tar.gz``).
EXTENSION = re.compile(r"[a-z0-9]{1,16}(\.[a-z0-9]{1,16}){0,3}")
MAX_EXTENSIONS = 50


def normalize_extensions(values: list[str] | None) -> list[str] | None:
    """``allowed_extensions`` as stored: lower case, without a leading dot, each once, in the order
    given; a ``ValidationError`` for an empty list, an item that isn't an ending, or more than
    ``MAX_EXTENSIONS``. None stays None (any file)."""
    if values is None:
        return None
    if not values:
        raise ValidationError("Give at least one ending, or null for any file.")
    if len(values) > MAX_EXTENSIONS:
        raise ValidationError(f"At most {MAX_EXTENSIONS} endings.")
    normalized: list[str] = []
    for value in values:
        ending = value.strip().lower().removeprefix(".")
        if not EXTENSION.fullmatch(ending):
            raise ValidationError(f"{value!r} is not a file name ending such as 'pdf' or 'tar.gz'.")
        if ending not in normalized:
            normalized.append(ending)
    return normalized


def _ending_allowed(name: str, allowed: list[str] | None) -> bool:
    lowered = name.lower()
    return allowed is None or any(lowered.endswith(f".{ending}") for ending in allowed)


def _endings(allowed: list[str]) -> str:
    shown = [f".{ending}" for ending in allowed]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def check_name(name: str, allowed: list[str] | None, *, field: str = "name", label: str = "") -> None:
    if not _ending_allowed(name, allowed):
        message = f"{label}This test takes only files ending in {_endings(allowed)} (allowed_extensions)."
        raise Invalid({field: [message]})


def check_size(size: int) -> None:
    if size > settings.FILE_MAX_BYTES:
        raise Invalid({"size": [f"A file may be at most {settings.FILE_MAX_BYTES} bytes (FILE_MAX_BYTES)."]})


@dataclass(frozen=True)
class NewUpload:
    """An upload asked for: its row, and where and how the client sends the file (the store's answer)."""

    upload: Upload
    target: files.Upload


@transaction.atomic
def upload_create(*, test: Test, student, name: str, size: int, content_type: str, request: HttpRequest) -> NewUpload:
    """Ask to upload one file for the student's next submission (the caller checked that they are a
    student of the course). ``Conflict`` naming the rule when they may not submit now; ``Invalid``
    naming the limit when the file is over one. Nothing is stored then."""
    window, now = submissions.open_for(test, student.pk)
    shown = files.display_name(name)
    check_size(size)
    check_name(shown, window.allowed_extensions)
    recent = Upload.objects.filter(
        test_id=test.pk,
        student_id=student.pk,
        submission__isnull=True,
        created_at__gt=now - timedelta(seconds=files.UPLOAD_SECONDS),
    ).count()
    if recent >= window.max_files:
        raise Invalid(
            f"You have {recent} uploads from the last {files.UPLOAD_SECONDS // 60} minutes not submitted yet; "
            f"a submission carries at most {window.max_files} files (max_files). Submit them, or wait."
        )
    key = files.new_key()
    target = files.store().presigned_upload(key, size=size, content_type=content_type, request=request)
    upload = Upload.objects.create(
        test=test, student_id=student.pk, key=key, name=shown, size=size, content_type=content_type, created_at=now
    )
    return NewUpload(upload=upload, target=target)


class Attachment:
    """The uploads a submission is to carry, checked as far as can be outside its transaction.

    ``Attachment(test, student, ids)`` reads the uploads and asks the store about each (a HEAD):
    ``Invalid`` on ``files`` naming the upload and what is wrong. Called as ``attach(window,
    submission)`` inside ``submissions.submit``'s transaction, it locks them, checks them and the
    test's limits again as they are now, and attaches them in the order of ``ids``.
    """

    def __init__(self, *, test: Test, student, ids: list[int]):
        self.test, self.student_id, self.ids = test, student.pk, ids
        if len(set(ids)) != len(ids):
            twice = next(i for i in ids if ids.count(i) > 1)
            raise Invalid({"files": [f"Upload {twice} is listed twice."]})
        _check_count(len(ids), test.max_files)
        rows = {upload.pk: upload for upload in Upload.objects.filter(pk__in=ids)}
        oldest = timezone.now() - timedelta(hours=UNATTACHED_HOURS)
        for upload_id in ids:
            upload = rows.get(upload_id)
            _check_row(upload_id, upload, test, self.student_id, oldest)
            check_name(upload.name, test.allowed_extensions, field="files", label=f"Upload {upload_id}: ")
        store = files.store()
        for upload_id in ids:
            _check_stored(rows[upload_id], store.stat(rows[upload_id].key))

    def __call__(self, window: submissions.Window, submission: Submission) -> None:
        _check_count(len(self.ids), window.max_files)
        locked = {
            upload.pk: upload for upload in Upload.objects.select_for_update().filter(pk__in=self.ids).order_by("pk")
        }
        oldest = submission.submitted_at - timedelta(hours=UNATTACHED_HOURS)
        for position, upload_id in enumerate(self.ids):
            upload = locked.get(upload_id)
            _check_row(upload_id, upload, self.test, self.student_id, oldest)
            check_name(upload.name, window.allowed_extensions, field="files", label=f"Upload {upload_id}: ")
            upload.submission, upload.uploaded_at, upload.position = submission, submission.submitted_at, position
        Upload.objects.bulk_update(locked.values(), ["submission", "uploaded_at", "position"])


def _check_count(count: int, max_files: int) -> None:
    if count > max_files:
        raise Invalid({"files": [f"A submission carries at most {max_files} files (max_files)."]})


def _check_row(upload_id: int, upload: Upload | None, test: Test, student_id: int, oldest: datetime) -> None:
    if upload is None or upload.test_id != test.pk or upload.student_id != student_id:
        raise Invalid({"files": [f"Upload {upload_id} is not one of your uploads for this test."]})
    if upload.submission_id is not None:
        raise Invalid({"files": [f"Upload {upload_id} is attached to a submission already: an upload is used once."]})
    if upload.created_at < oldest:
        raise Invalid(
            {"files": [f"Upload {upload_id} was not submitted within {UNATTACHED_HOURS} hours; upload the file again."]}
        )


def _check_stored(upload: Upload, stat: files.Stat | None) -> None:
    if stat is None:
        raise Invalid({"files": [f"Upload {upload.pk}'s file is not in storage: send it to its upload_url first."]})
    if (stat.size, stat.content_type) != (upload.size, upload.content_type):
        raise Invalid(
            {
                "files": [
                    f"Upload {upload.pk}'s file is {stat.size} bytes of {stat.content_type or 'no type'}, "
                    f"not the {upload.size} bytes of {upload.content_type} declared; upload it again."
                ]
            }
        )


# Reads.


def files_json(file_columns: dict[str, str]):
    """A submission's files as JSON text written by the database, in their order: each object with
    ``file_columns``' keys (key → column of ``Upload``), for a row of submissions (``OuterRef("pk")``)."""
    values = {
        key: JSONDateTime(column) if isinstance(Upload._meta.get_field(column), DateTimeField) else column
        for key, column in file_columns.items()
    }
    rows = Upload.objects.filter(submission_id=OuterRef("pk")).order_by("position", "id")
    return JSONList(rows.values(json=JSONObject(**values)))


# Deleting: the objects of uploads gone, by the worker.


class ObjectsNotDeleted(Exception):
    """The store refused or couldn't be reached for some objects: they stay queued, and the job is tried again."""


def delete_after_commit(uploads) -> None:
    """The ``uploads`` (a queryset) are about to be deleted in the caller's transaction: when there are
    any, the worker's job that deletes their objects is queued in that transaction, to run once it
    commits (its keys are recorded by the database as the rows go). At most one such job waits at a
    time; it takes every object due when it runs."""
    if uploads.exists():
        defer_deletion()


def defer_deletion() -> None:
    from procrastinate.exceptions import AlreadyEnqueued

    from grading.tasks import delete_file_objects

    try:
        with transaction.atomic():  # a savepoint: a job already waiting is a refused insert
            delete_file_objects.defer()
    except AlreadyEnqueued:
        pass  # the waiting job will take these too


DELETE_BATCH = 500


def delete_objects() -> int:
    """Delete the store's objects of the uploads deleted (``DeletedObject``), each tried once, in
    batches of ``DELETE_BATCH``: each batch's rows are locked (rows another worker holds are skipped),
    their objects deleted, and the rows of those the store deleted removed, in one transaction. The
    number deleted; ``ObjectsNotDeleted`` when the store refused some (their rows stay, with the
    attempt counted and the reason)."""
    store = files.store()
    deleted, refused, last = 0, {}, 0
    while True:
        with transaction.atomic():
            batch = list(
                DeletedObject.objects.select_for_update(skip_locked=True)
                .filter(pk__gt=last)
                .order_by("pk")[:DELETE_BATCH]
            )
            if not batch:
                break
            last = batch[-1].pk
            try:
                failed = store.delete_many([row.key for row in batch])
            except Exception as error:  # the store unreachable, credentials refused: every one stays
                logger.warning("The file store failed to delete %s objects: %s", len(batch), error)
                failed = {row.key: f"{type(error).__name__}: {error}" for row in batch}
            gone = [row.pk for row in batch if row.key not in failed]
            DeletedObject.objects.filter(pk__in=gone).delete()
            kept = [row for row in batch if row.key in failed]
            for row in kept:
                row.attempts += 1
                row.error = failed[row.key][:1000]
            DeletedObject.objects.bulk_update(kept, ["attempts", "error"])
            deleted += len(gone)
            refused |= {row.key: failed[row.key] for row in kept}
    if refused:
        key, reason = next(iter(refused.items()))
        raise ObjectsNotDeleted(f"{len(refused)} objects not deleted, such as {key}: {reason}")
    return deleted


def sweep() -> tuple[int, int]:
    """The periodic clean-up: uploads never attached within ``UNATTACHED_HOURS`` are deleted (their
    objects follow), then every object still to delete is tried. (uploads deleted, objects deleted)."""
    oldest = timezone.now() - timedelta(hours=UNATTACHED_HOURS)
    stale, _ = Upload.objects.filter(submission__isnull=True, created_at__lt=oldest).delete()
    return stale, delete_objects()
