"""Uploaded files on object storage: S3 (or any S3-compatible store) or the local file system, one interface.

A file's bytes never pass whole through a web process. The client asks the app for an upload
(``store().presigned_upload``), sends the file itself as a multipart POST of ``upload.fields`` and
then the file, as the field ``file`` and last, to ``upload.url``; the app then checks what arrived
(``stat``: a HEAD, never a download). A download (``download``) is a redirect to a short-lived
signed URL of the store or, on local storage, the file streamed from disk.

- ``S3Store`` (``AWS_STORAGE_BUCKET_NAME`` set; django-storages' ``S3Storage``): the upload is a
  presigned POST whose policy pins the object's key, its exact size (``content-length-range``) and
  its content type, valid for 15 minutes; the store refuses anything else. A download answers 302
  to a presigned GET valid for 5 minutes that makes the store send ``Content-Disposition:
  attachment`` with the file's name.
- ``LocalStore`` (no bucket; ``FileSystemStorage`` in ``MEDIA_ROOT``): the same steps against the
  app itself. ``upload.url`` is ``local_upload`` below and a signed token among the fields pins
  the same three things for the same 15 minutes; the view streams the file to disk in chunks and
  keeps it only if it matches. A download streams the file with the same headers.

Object keys are generated (``new_key``). The names people give their files are for display only:
``display_name`` cleans one for showing, for ``Content-Disposition`` and for a zip member.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core import signing
from django.core.files.storage import FileSystemStorage, storages
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

UPLOAD_SECONDS = 15 * 60
DOWNLOAD_SECONDS = 5 * 60
# Room for the form fields, boundaries and part headers around the file in a local upload's body.
MULTIPART_OVERHEAD = 16 * 1024
CHUNK_BYTES = 64 * 1024
# Keys per DeleteObjects request: S3's limit.
DELETE_BATCH = 1000
MAX_NAME_BYTES = 255
FALLBACK_NAME = "file"


@dataclass(frozen=True)
class Upload:
    """Where and how the client sends one file: a multipart POST of ``fields``, then ``file``, to ``url``."""

    key: str
    url: str
    fields: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class Stat:
    size: int
    content_type: str


def new_key() -> str:
    """A fresh object key, unguessable, that no person's file name takes part in."""
    return f"uploads/{uuid.uuid4().hex}"


def store() -> S3Store | LocalStore:
    """The store the settings configure (``STORAGES["default"]``)."""
    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        return LocalStore(storage)
    return S3Store(storage)


def _now() -> datetime:
    return datetime.now(UTC)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    return response


class S3Store:
    """Files in a bucket of S3 or an S3-compatible store, through django-storages' ``S3Storage``."""

    def __init__(self, storage):
        self.storage = storage

    @property
    def _client(self):
        # S3Storage keeps one boto3 connection per thread: boto3's resources aren't thread-safe.
        return self.storage.connection.meta.client

    def presigned_upload(self, key: str, *, size: int, content_type: str, request: HttpRequest) -> Upload:
        expires_at = _now() + timedelta(seconds=UPLOAD_SECONDS)
        post = self._client.generate_presigned_post(
            self.storage.bucket_name,
            key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", size, size]],
            ExpiresIn=UPLOAD_SECONDS,
        )
        return Upload(key=key, url=post["url"], fields=post["fields"], expires_at=expires_at)

    def stat(self, key: str) -> Stat | None:
        from botocore.exceptions import ClientError

        try:
            head = self._client.head_object(Bucket=self.storage.bucket_name, Key=key)
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                return None
            raise
        return Stat(size=head["ContentLength"], content_type=head.get("ContentType", ""))

    def download(self, key: str, *, name: str, content_type: str) -> HttpResponse:
        url = self.storage.url(
            key,
            parameters={
                "ResponseContentDisposition": content_disposition(name),
                "ResponseContentType": content_type,
            },
            expire=DOWNLOAD_SECONDS,
        )
        return _no_store(HttpResponseRedirect(url))

    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a stream read from the store as it is consumed; FileNotFoundError if missing."""
        from botocore.exceptions import ClientError

        try:
            return self._client.get_object(Bucket=self.storage.bucket_name, Key=key)["Body"]
        except ClientError as error:
            if error.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                raise FileNotFoundError(key) from error
            raise

    def delete(self, key: str) -> None:
        """Deletes the object; nothing happens if there is none."""
        self._client.delete_object(Bucket=self.storage.bucket_name, Key=key)

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        """Deletes the objects (one request per 1,000, S3's limit; one that isn't there is fine): the keys
        the store refused, each with its reason. A store that can't be reached raises."""
        refused: dict[str, str] = {}
        for start in range(0, len(keys), DELETE_BATCH):
            objects = [{"Key": key} for key in keys[start : start + DELETE_BATCH]]
            answer = self._client.delete_objects(
                Bucket=self.storage.bucket_name, Delete={"Objects": objects, "Quiet": True}
            )
            for error in answer.get("Errors", []):
                refused[error["Key"]] = f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
        return refused


class LocalStore:
    """Files on the local file system, under the storage's folder (``MEDIA_ROOT``).

    Each object is two files: its bytes at ``<root>/<key>`` and its content type beside it at
    ``<root>/<key>.content-type``. Uploads arrive in ``<root>/.incoming/`` and are linked into
    place only once they match their token.
    """

    TOKEN_SALT = "gradingsite.files.local-upload"

    def __init__(self, storage: FileSystemStorage):
        self.storage = storage
        self.root = Path(storage.location)

    def path(self, key: str) -> Path:
        return Path(self.storage.path(key))  # refuses a key that leaves the folder

    def _type_path(self, key: str) -> Path:
        return self.path(key).with_name(self.path(key).name + ".content-type")

    def presigned_upload(self, key: str, *, size: int, content_type: str, request: HttpRequest) -> Upload:
        token = signing.TimestampSigner(salt=self.TOKEN_SALT).sign_object(
            {"key": key, "size": size, "content_type": content_type}
        )
        return Upload(
            key=key,
            url=request.build_absolute_uri(reverse("files-local-upload")),
            fields={"key": key, "Content-Type": content_type, "token": token},
            expires_at=_now() + timedelta(seconds=UPLOAD_SECONDS),
        )

    def claim(self, token: str) -> dict:
        """What a token pins (key, size, content type); ``signing.BadSignature`` if tampered, expired or absent."""
        return signing.TimestampSigner(salt=self.TOKEN_SALT).unsign_object(token or "", max_age=UPLOAD_SECONDS)

    def stat(self, key: str) -> Stat | None:
        try:
            size = self.path(key).stat().st_size
        except FileNotFoundError:
            return None
        try:
            content_type = self._type_path(key).read_text()
        except FileNotFoundError:
            content_type = "application/octet-stream"
        return Stat(size=size, content_type=content_type)

    def download(self, key: str, *, name: str, content_type: str) -> HttpResponse:
        response = FileResponse(self.open(key), content_type=content_type)
        response["Content-Disposition"] = content_disposition(name)
        response["X-Content-Type-Options"] = "nosniff"
        # Served from the app's own origin: should a browser render it anyway, it runs nothing.
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return _no_store(response)

    def open(self, key: str) -> BinaryIO:
        """The file, opened for reading; FileNotFoundError if missing."""
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        """Deletes the file and its content type; nothing happens if there is none."""
        for path in (self.path(key), self._type_path(key)):
            path.unlink(missing_ok=True)

    def delete_many(self, keys: list[str]) -> dict[str, str]:
        """Deletes the files: the keys that couldn't be, each with its reason."""
        refused: dict[str, str] = {}
        for key in keys:
            try:
                self.delete(key)
            except OSError as error:
                refused[key] = str(error)
        return refused

    def incoming(self) -> Path:
        folder = self.root / ".incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def put(self, key: str, received: Path, content_type: str) -> bool:
        """Moves a received file into place at ``key``; False (and nothing changed) if ``key`` exists."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        type_path = self._type_path(key)
        pending_type = received.with_name(received.name + ".content-type")
        pending_type.write_text(content_type)
        try:
            os.link(received, target)  # never replaces an existing object, unlike a rename
        except FileExistsError:
            pending_type.unlink()
            return False
        os.replace(pending_type, type_path)
        return True


# --- the local upload endpoint ---------------------------------------------------------------


class _ToDisk(FileUploadHandler):
    """Writes the upload's ``file`` part to a new file in ``folder`` chunk by chunk, up to ``limit`` bytes.

    More than ``limit`` bytes stop the upload (``too_big``); any other file part is ignored and
    counted (``extra_files``).
    """

    chunk_size = CHUNK_BYTES

    def __init__(self, request, folder: Path, limit: int):
        super().__init__(request)
        self.path = folder / secrets.token_hex(16)
        self.limit = limit
        self.size = 0
        self.content_type = ""
        self.out = None
        self.too_big = False
        self.extra_files = 0

    def new_file(self, field_name, file_name, content_type, *args, **kwargs):
        super().new_file(field_name, file_name, content_type, *args, **kwargs)
        if field_name != "file" or self.out is not None:
            self.extra_files += 1
            return
        self.content_type = content_type
        self.out = self.path.open("xb")

    def receive_data_chunk(self, raw_data, start):
        if self.out is None or self.out.closed or self.field_name != "file":
            return None
        self.size += len(raw_data)
        if self.size > self.limit:
            self.too_big = True
            raise StopUpload(connection_reset=False)
        self.out.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self.out is None or self.out.closed:
            return None
        self.out.close()
        return UploadedFile(name=self.file_name, content_type=self.content_type, size=self.size)

    def discard(self):
        if self.out is not None:
            self.out.close()
        self.path.unlink(missing_ok=True)


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt  # the token in the form authenticates the request; no cookie is involved
def local_upload(request: HttpRequest) -> HttpResponse:
    """The local store's upload URL: the multipart POST of an upload's fields and ``file``.

    403 for a token that is missing, tampered with or expired; 413 for a body larger than any file
    may be (decided before reading it); 400 if the file is not exactly the size and content type
    the token pins (nothing is kept); 409 if the key holds a file already (a token uploads once);
    204 once the file is in place, as S3 answers a POST upload.
    """
    if request.method != "POST":
        response = _refuse(405, f'Method "{request.method}" not allowed.')
        response["Allow"] = "POST"
        return response
    local = store()
    if not isinstance(local, LocalStore):
        return _refuse(404, "Not found.")
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return _refuse(400, "Content-Length is not a number.")
    if length > settings.FILE_MAX_BYTES + MULTIPART_OVERHEAD:
        return _refuse(413, f"A file may be at most {settings.FILE_MAX_BYTES} bytes.")

    handler = _ToDisk(request, local.incoming(), limit=settings.FILE_MAX_BYTES)
    request.upload_handlers = [handler]
    try:
        try:
            fields, files = request.POST, request.FILES
        except MultiPartParserError as error:
            return _refuse(400, f"The body is not a readable multipart form: {error}")
        try:
            claim = local.claim(fields.get("token"))
        except signing.SignatureExpired:
            return _refuse(403, "This upload has expired; ask for a new one.")
        except signing.BadSignature:
            return _refuse(403, "This upload's token is missing or invalid.")
        if fields.get("key", claim["key"]) != claim["key"]:
            return _refuse(400, "The key field is not this upload's key.")
        if fields.get("Content-Type", claim["content_type"]) != claim["content_type"]:
            return _refuse(400, f"The Content-Type field must be {claim['content_type']!r}, as declared.")
        if handler.too_big:
            return _refuse(400, f"The file must be {claim['size']} bytes, as declared; more arrived.")
        if "file" not in files or handler.extra_files:
            return _refuse(400, "Send exactly one file, in the field 'file', after the other fields.")
        if handler.size != claim["size"]:
            return _refuse(400, f"The file must be {claim['size']} bytes, as declared; {handler.size} arrived.")
        if not local.put(claim["key"], handler.path, claim["content_type"]):
            return _refuse(409, "This upload is done already: its file can't be replaced.")
        return HttpResponse(status=204)
    finally:
        handler.discard()


# --- names -------------------------------------------------------------------------------------

_UNSAFE = re.compile(r'[<>:"|?*]')  # reserved on Windows, where a zip may be unpacked
_DOTS = re.compile(r"\.{2,}")
_SPACES = re.compile(r"\s+")


def display_name(name: str, *, fallback: str = FALLBACK_NAME) -> str:
    """A file name fit to show, to send in ``Content-Disposition`` and to name a zip member.

    Only the last component of a path is kept (``C:\\Users\\me\\essay.pdf`` is ``essay.pdf``);
    control and format characters (bidirectional overrides among them) go; characters Windows
    refuses become ``_``; runs of dots become one and dots or spaces at either end go, so the name
    is never ``.``, ``..`` or hidden; the name is cut to 255 bytes of UTF-8, keeping its extension.
    What is left empty becomes ``fallback``.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Zl", "Zp"})
    name = _SPACES.sub(" ", _DOTS.sub(".", _UNSAFE.sub("_", name))).strip(" .")
    if not name:
        return fallback
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem or len(extension.encode()) > 16:
        stem, dot, extension = name, "", ""
    room = MAX_NAME_BYTES - len((dot + extension).encode())
    stem = stem.encode()[:room].decode(errors="ignore").rstrip(" .")
    return f"{stem}{dot}{extension}" if stem else fallback


def content_disposition(name: str) -> str:
    """``attachment`` with the cleaned name: ASCII in ``filename`` (RFC 6266), all of it in ``filename*`` (RFC 5987)."""
    name = display_name(name)
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = display_name("".join(c if c.isascii() else "_" for c in decomposed if unicodedata.category(c) != "Mn"))
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
