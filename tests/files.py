"""Files in submissions, as a client handles them, for the tests: the store a test's files go to, a
file asked for and sent, a download followed.

Fixtures (registered through ``pytest_plugins`` in ``tests/conftest.py``):

- ``store``: each test using it runs twice, with files on moto's S3 server (a bucket of its own) and
  on the local disk (a folder of its own): a ``Store``, which sends a file as a client does and lists
  what the store holds.
- ``online``: the standing test, taking online submissions, unlimited attempts.
"""

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from grading.models import Upload
from tests.s3 import send_upload

ESSAY = b"An essay on grading, in PDF.\n" * 500
PDF = "application/pdf"


class Store:
    """The store files go to in a test, and what a client does with it."""

    def __init__(self, kind, folder=None, server=None, bucket=None):
        self.kind, self.folder, self.server, self.bucket = kind, folder, server, bucket

    def send(self, answer: dict, data: bytes, name: str = "essay.pdf", content_type: str = PDF) -> int:
        """Sends the file as a client does: a multipart POST of the upload's fields, then the file."""
        if self.kind == "s3":
            status, _ = send_upload(answer["upload_url"], answer["upload_fields"], name, data, content_type)
            return status
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = Client().post(
            answer["upload_url"], {**answer["upload_fields"], "file": SimpleUploadedFile(name, data, content_type)}
        )
        return response.status_code

    def keys(self) -> set[str]:
        """Every object the store holds."""
        if self.kind == "s3":
            listed = self.server.client().list_objects_v2(Bucket=self.bucket)
            return {item["Key"] for item in listed.get("Contents", [])}
        return {
            str(path.relative_to(self.folder))
            for path in (self.folder / "uploads").rglob("*")
            if path.is_file() and not path.name.endswith(".content-type")
        }

    def put(self, key: str, data: bytes, content_type: str = PDF) -> None:
        """An object placed in the store directly, as another client might."""
        if self.kind == "s3":
            self.server.client().put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        else:
            path = self.folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            (self.folder / f"{key}.content-type").write_text(content_type)


@pytest.fixture(params=["s3", "local"])
def store(request):
    if request.param == "s3":
        return Store("s3", server=request.getfixturevalue("s3_server"), bucket=request.getfixturevalue("s3_bucket"))
    return Store("local", folder=request.getfixturevalue("local_files"))


@pytest.fixture
def online(test_):
    test_.submission_type = "online"
    test_.allowed_attempts = None
    test_.save()
    return test_


def uploads_url(test):
    return f"/api/tests/{test.pk}/uploads/"


def submissions_url(test):
    return f"/api/tests/{test.pk}/submissions/"


def ask(client, test, name="essay.pdf", size=None, content_type=PDF, **extra):
    size = len(ESSAY) if size is None else size
    return client.post(
        uploads_url(test), {"name": name, "size": size, "content_type": content_type, **extra}, format="json"
    )


def uploaded(client, store, test, data=ESSAY, name="essay.pdf", content_type=PDF) -> int:
    """An upload asked for and its file sent: its id."""
    answer = ask(client, test, name=name, size=len(data), content_type=content_type)
    assert answer.status_code == 201, answer.json()
    assert store.send(answer.json(), data, name, content_type) in (201, 204)
    return answer.json()["id"]


def asked_ago(upload_id: int, **ago) -> int:
    """The upload, as though it had been asked for that long ago."""
    Upload.objects.filter(pk=upload_id).update(created_at=timezone.now() - timedelta(**ago))
    return upload_id


def fetch(response) -> tuple[bytes, dict]:
    """A download's bytes and headers (names in lower case), following the store's redirect as a browser does."""
    if response.status_code == 302:
        with urllib.request.urlopen(response["Location"], timeout=30) as stored:
            return stored.read(), {name.lower(): value for name, value in stored.headers.items()}
    assert response.status_code == 200, response.content[:300]
    return b"".join(response.streaming_content), {name.lower(): value for name, value in response.items()}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
