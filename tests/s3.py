"""A real S3-compatible HTTP server for tests: moto's standalone server, as a process of its own.

``S3Server`` runs ``python -m moto.server`` on a free port of 127.0.0.1; ``.endpoint_url`` is its
address and ``.client()`` a boto3 client for it. It stops on ``.stop()`` or when the Python
process exits.

Fixtures (registered through ``pytest_plugins`` in ``tests/conftest.py``):

- ``s3_server`` (session): a started ``S3Server``.
- ``s3_bucket`` (function): a fresh bucket on it, and the settings pointing the app's uploaded
  files at it (``STORAGES["default"]`` is django-storages' ``S3Storage``); its name::

      def test_upload(s3_bucket):
          upload = files.store().presigned_upload(...)

``send_upload(url, fields, name, data, content_type)`` does what a client does with an upload,
on either store: a multipart POST of the fields and then the file, over HTTP.

Moto answers the S3 API, presigned POST and GET included, but does not enforce a POST policy's
conditions (it stores a file of another size or content type than the policy allows, where S3
answers 403): what reached the store is checked with a HEAD (``Store.stat``) instead.
"""

from __future__ import annotations

import atexit
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import pytest

from tests.live import free_port

# Importing moto and Flask takes seconds, and tens of them on a machine busy with the suite.
START_TIMEOUT = 120.0
REGION = "us-east-1"
# moto takes any credentials; these only have to be the same on both sides.
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


class S3Server:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process, self.port = process, port
        self.endpoint_url = f"http://127.0.0.1:{port}"

    @classmethod
    def start(cls, port: int | None = None) -> S3Server:
        """A new server, on ``port`` (one of its own by default): an empty store."""
        port = port or free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = cls(process, port)
        atexit.register(server.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"moto's server exited at start with status {process.returncode}")
            try:
                urllib.request.urlopen(server.endpoint_url, timeout=10).close()
                return server
            except urllib.error.HTTPError:
                return server  # an answer, whatever it says: the server is up
            except OSError:  # not listening yet, or too slow to answer on a busy machine
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"moto's server did not answer on port {port} within {START_TIMEOUT:.0f} s")

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def environment(self, bucket: str) -> dict[str, str]:
        """The environment that points the app (another process of it: a worker) at ``bucket`` here."""
        return {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def storage_options(self, bucket: str) -> dict:
        """``STORAGES`` options of django-storages' ``S3Storage`` for ``bucket`` on this server."""
        return {
            "bucket_name": bucket,
            "endpoint_url": self.endpoint_url,
            "region_name": REGION,
            "access_key": ACCESS_KEY,
            "secret_key": SECRET_KEY,
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server.start()
    yield server
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, settings) -> str:
    bucket = f"test-{uuid.uuid4().hex}"
    s3_server.client().create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_server.storage_options(bucket)},
    }
    return bucket


def send_upload(url: str, fields: dict[str, str], name: str, data: bytes, content_type: str) -> tuple[int, bytes]:
    """POSTs ``fields`` and then ``data`` as the part ``file`` (S3 wants it last) to ``url``; (status, body)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'.encode()
        for field, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        url, data=b"".join(parts), method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
