"""Uploaded files on object storage (gradingsite.files): a real S3-compatible server over HTTP, and the local disk.

Each store is driven as a client and the app drive it: an upload asked for, the file sent over
HTTP as a multipart POST, its stat (HEAD), a download, a streaming read, a delete.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core import signing
from django.test import RequestFactory
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from gradingsite import files
from tests.s3 import send_upload

ESSAY = b"An essay on grading.\n" * 1000
PDF = "application/pdf"


def _request(host="testserver"):
    return RequestFactory().get("/", HTTP_HOST=host)


def _upload(data=ESSAY, content_type=PDF, host="testserver"):
    return files.store().presigned_upload(
        files.new_key(), size=len(data), content_type=content_type, request=_request(host)
    )


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


# --- S3: moto's server over HTTP --------------------------------------------------------------


def test_a_presigned_post_puts_the_file_in_the_bucket(s3_bucket, s3_server):
    upload = _upload()
    assert upload.url == f"{s3_server.endpoint_url}/{s3_bucket}"

    status, _ = send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)

    assert status == 204
    assert files.store().stat(upload.key) == files.Stat(size=len(ESSAY), content_type=PDF)
    stored = s3_server.client().get_object(Bucket=s3_bucket, Key=upload.key)["Body"].read()
    assert stored == ESSAY


def test_the_presigned_post_policy_pins_the_key_the_exact_size_and_the_content_type_for_15_minutes(s3_bucket):
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False):
        upload = _upload()

    policy = json.loads(base64.b64decode(upload.fields["policy"]))
    assert ["content-length-range", len(ESSAY), len(ESSAY)] in policy["conditions"]
    assert {"Content-Type": PDF} in policy["conditions"]
    assert {"key": upload.key} in policy["conditions"]
    assert {"bucket": s3_bucket} in policy["conditions"]
    assert policy["expiration"] == "2026-03-01T12:15:00Z"
    assert upload.expires_at == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
    assert upload.fields["key"] == upload.key
    assert upload.fields["Content-Type"] == PDF
    assert upload.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"


@pytest.mark.parametrize(
    ("data", "content_type"), [(ESSAY + b"more", PDF), (ESSAY, "text/html")], ids=["another size", "another type"]
)
def test_what_reached_the_bucket_shows_in_its_stat_whatever_was_declared(s3_bucket, data, content_type):
    # S3 refuses these by the policy (403); moto keeps them: the stat, not the upload, is the proof.
    upload = _upload(data=ESSAY, content_type=PDF)

    send_upload(upload.url, {**upload.fields, "Content-Type": content_type}, "essay.pdf", data, content_type)

    assert files.store().stat(upload.key) == files.Stat(size=len(data), content_type=content_type)


def test_the_stat_of_an_object_never_uploaded_is_none(s3_bucket):
    assert files.store().stat(files.new_key()) is None


def test_an_s3_download_redirects_to_a_presigned_get_that_serves_an_attachment_for_5_minutes(s3_bucket):
    upload = _upload()
    send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)

    response = files.store().download(upload.key, name="Résumé final.pdf", content_type=PDF)

    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["300"]
    with urllib.request.urlopen(location, timeout=30) as stored:
        assert stored.read() == ESSAY
        assert stored.headers["Content-Type"] == PDF
        assert stored.headers["Content-Disposition"] == (
            "attachment; filename=\"Resume final.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"
        )


def test_a_presigned_get_with_a_tampered_signature_is_refused_by_the_store(s3_bucket):
    upload = _upload()
    send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)
    location = files.store().download(upload.key, name="essay.pdf", content_type=PDF)["Location"]
    other_key = location.replace(upload.key, files.new_key())

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(other_key, timeout=30)

    assert refused.value.code == 403


def test_an_s3_object_is_read_as_a_stream(s3_bucket):
    upload = _upload()
    send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)

    with files.store().open(upload.key) as stream:
        chunks = list(iter(lambda: stream.read(4096), b""))

    assert b"".join(chunks) == ESSAY
    assert len(chunks) == -(-len(ESSAY) // 4096)


def test_opening_a_missing_s3_object_raises_file_not_found(s3_bucket):
    with pytest.raises(FileNotFoundError):
        files.store().open(files.new_key())


def test_an_s3_object_once_deleted_is_gone_and_deleting_it_again_is_fine(s3_bucket, s3_server):
    upload = _upload()
    send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)

    files.store().delete(upload.key)
    files.store().delete(upload.key)

    assert files.store().stat(upload.key) is None
    assert s3_server.client().list_objects_v2(Bucket=s3_bucket)["KeyCount"] == 0


def test_the_local_upload_url_is_not_found_while_files_go_to_a_bucket(s3_bucket, client):
    response = client.post("/api/uploads/local/", {"token": "x"})

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


# --- the local disk ----------------------------------------------------------------------------


def test_a_local_upload_points_at_the_app_itself_with_a_token_among_the_fields(local_files):
    upload = _upload(host="localhost:8000")

    assert upload.url == "http://localhost:8000/api/uploads/local/"
    assert set(upload.fields) == {"key", "Content-Type", "token"}
    assert upload.fields["key"] == upload.key
    assert upload.fields["Content-Type"] == PDF


def test_a_file_sent_over_http_to_the_local_upload_url_is_stored(local_files, live_server):
    host = urlsplit(live_server.url).netloc
    upload = _upload(host=host)

    status, body = send_upload(upload.url, upload.fields, "essay.pdf", ESSAY, PDF)

    assert (status, body) == (204, b"")
    assert files.store().stat(upload.key) == files.Stat(size=len(ESSAY), content_type=PDF)
    assert (local_files / upload.key).read_bytes() == ESSAY
    assert list((local_files / ".incoming").iterdir()) == []


def _post(client, upload, data=ESSAY, name="essay.pdf", content_type=PDF, **overrides):
    from django.core.files.uploadedfile import SimpleUploadedFile

    fields = {**upload.fields, **overrides}
    return client.post(upload.url, {**fields, "file": SimpleUploadedFile(name, data, content_type)})


def test_a_local_upload_is_accepted_until_its_15_minutes_are_up(local_files, client):
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False) as traveller:
        upload = _upload()
        assert upload.expires_at == datetime(2026, 3, 1, 12, 15, tzinfo=UTC)
        traveller.shift(timedelta(minutes=15))

        assert _post(client, upload).status_code == 204


def test_an_expired_local_upload_is_refused_and_nothing_is_kept(local_files, client):
    with time_machine.travel(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), tick=False) as traveller:
        upload = _upload()
        traveller.shift(timedelta(minutes=15, seconds=1))

        response = _post(client, upload)

    assert response.status_code == 403
    assert response.json() == {"detail": "This upload has expired; ask for a new one."}
    assert files.store().stat(upload.key) is None


def _claim(token: str) -> dict:
    payload = token.split(":", 1)[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _tampered(token: str, **changes) -> str:
    payload = base64.urlsafe_b64encode(json.dumps({**_claim(token), **changes}).encode()).decode().rstrip("=")
    return f"{payload}:{token.split(':', 1)[1]}"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda token: _tampered(token, size=len(ESSAY) + 10), id="another size"),
        pytest.param(lambda token: _tampered(token, key="uploads/chosen-by-the-client"), id="another key"),
        pytest.param(lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"), id="another signature"),
        pytest.param(
            lambda token: signing.TimestampSigner(salt="elsewhere").sign_object(_claim(token)), id="signed elsewhere"
        ),
        pytest.param(lambda token: "", id="empty"),
    ],
)
def test_a_local_upload_with_a_tampered_or_missing_token_is_refused(local_files, client, token):
    upload = _upload()

    response = _post(client, upload, token=token(upload.fields["token"]))

    assert response.status_code == 403
    assert response.json() == {"detail": "This upload's token is missing or invalid."}
    assert files.store().stat(upload.key) is None
    assert os.listdir(local_files / ".incoming") == []


@pytest.mark.parametrize("data", [ESSAY[:-1], ESSAY + b"!", b""], ids=["one byte short", "one byte more", "empty"])
def test_a_local_upload_of_another_size_than_declared_is_refused_and_nothing_is_kept(local_files, client, data):
    upload = _upload()

    response = _post(client, upload, data=data)

    assert response.status_code == 400
    assert response.json() == {"detail": f"The file must be {len(ESSAY)} bytes, as declared; {len(data)} arrived."}
    assert files.store().stat(upload.key) is None
    assert os.listdir(local_files / ".incoming") == []


def test_a_local_upload_larger_than_any_file_may_be_is_refused_and_nothing_is_kept(local_files, client, settings):
    settings.FILE_MAX_BYTES = len(ESSAY)
    upload = _upload()

    response = _post(client, upload, data=ESSAY + b"x" * 100)

    assert response.status_code == 400
    assert response.json() == {"detail": f"The file must be {len(ESSAY)} bytes, as declared; more arrived."}
    assert files.store().stat(upload.key) is None
    assert os.listdir(local_files / ".incoming") == []


def test_a_local_upload_of_another_content_type_than_declared_is_refused(local_files, client):
    upload = _upload()

    response = _post(client, upload, **{"Content-Type": "text/html"})

    assert response.status_code == 400
    assert response.json() == {"detail": "The Content-Type field must be 'application/pdf', as declared."}
    assert files.store().stat(upload.key) is None


def test_a_local_upload_naming_another_key_than_its_token_is_refused(local_files, client):
    upload = _upload()

    response = _post(client, upload, key=files.new_key())

    assert response.status_code == 400
    assert files.store().stat(upload.key) is None


def test_a_local_upload_without_a_file_is_refused(local_files, client):
    upload = _upload()

    response = client.post(upload.url, upload.fields)

    assert response.status_code == 400
    assert response.json() == {"detail": "Send exactly one file, in the field 'file', after the other fields."}


def test_a_local_upload_of_two_files_is_refused_and_neither_is_kept(local_files, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = _upload()
    two = [SimpleUploadedFile("a.pdf", ESSAY, PDF), SimpleUploadedFile("b.pdf", ESSAY, PDF)]

    response = client.post(upload.url, {**upload.fields, "file": two})

    assert response.status_code == 400
    assert files.store().stat(upload.key) is None
    assert os.listdir(local_files / ".incoming") == []


def test_a_second_upload_with_the_same_token_is_refused_and_the_first_file_stays(local_files, client):
    upload = _upload()
    assert _post(client, upload).status_code == 204

    response = _post(client, upload, data=ESSAY.upper())

    assert response.status_code == 409
    assert response.json() == {"detail": "This upload is done already: its file can't be replaced."}
    assert (local_files / upload.key).read_bytes() == ESSAY
    assert os.listdir(local_files / ".incoming") == []


def test_a_body_larger_than_any_file_may_be_is_refused_before_it_is_read(local_files, live_server, settings):
    settings.FILE_MAX_BYTES = 1000
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    connection.putrequest("POST", "/api/uploads/local/")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(1000 + files.MULTIPART_OVERHEAD + 1))
    connection.endheaders()  # and no body: an answer now means nothing was waited for

    response = connection.getresponse()

    assert response.status == 413
    assert json.loads(response.read()) == {"detail": "A file may be at most 1000 bytes."}
    connection.close()


def test_the_local_upload_url_answers_only_post(local_files, client):
    response = client.get("/api/uploads/local/")

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_a_local_download_streams_the_file_as_an_attachment_that_is_never_sniffed(local_files, client):
    upload = _upload()
    _post(client, upload)

    response = files.store().download(upload.key, name="../../Résumé final.pdf", content_type=PDF)

    assert response.status_code == 200
    assert response.streaming
    assert _body(response) == ESSAY
    assert response["Content-Type"] == PDF
    assert response["Content-Length"] == str(len(ESSAY))
    assert response["Content-Disposition"] == (
        "attachment; filename=\"Resume final.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9%20final.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"


def test_a_local_file_is_read_as_a_stream(local_files, client):
    upload = _upload()
    _post(client, upload)

    with files.store().open(upload.key) as stream:
        assert stream.read(10) == ESSAY[:10]
        assert stream.read() == ESSAY[10:]


def test_a_local_file_once_deleted_is_gone_and_deleting_it_again_is_fine(local_files, client):
    upload = _upload()
    _post(client, upload)

    files.store().delete(upload.key)
    files.store().delete(upload.key)

    assert files.store().stat(upload.key) is None
    with pytest.raises(FileNotFoundError):
        files.store().open(upload.key)
    assert [p for p in local_files.rglob("*") if p.is_file()] == []


def test_a_local_key_outside_the_folder_is_refused(local_files):
    from django.core.exceptions import SuspiciousFileOperation

    with pytest.raises(SuspiciousFileOperation):
        files.store().open("../outside")


# --- settings ----------------------------------------------------------------------------------


def _storage_with(env_overrides) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "MEDIA_ROOT"}
    code = "import json, gradingsite.settings as s; print(json.dumps([s.STORAGES, str(s.MEDIA_ROOT)]))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DEBUG": "1", **env_overrides},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_with_a_bucket_in_the_environment_files_go_to_s3_and_static_files_stay_as_they_were():
    with_bucket, _ = _storage_with({"AWS_STORAGE_BUCKET_NAME": "grading-files"})
    without, _ = _storage_with({})

    assert with_bucket["default"] == {"BACKEND": "storages.backends.s3.S3Storage"}
    assert with_bucket["staticfiles"] == without["staticfiles"]


def test_without_a_bucket_files_go_to_the_git_ignored_files_folder():
    storages, media_root = _storage_with({})

    assert storages["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert media_root.endswith("/.files")
    ignored = subprocess.run(["git", "check-ignore", "-q", ".files/x"], check=False, capture_output=True)
    assert ignored.returncode == 0


# --- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("essay.pdf", "essay.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\essay.pdf", "essay.pdf"),
        ("/absolute/path/", "file"),
        ("notes\r\nX-Header: 1.txt", "notesX-Header_ 1.txt"),
        ("a\x00b\x7f.txt", "ab.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override that would show "exe.pdf"
        ("..", "file"),
        (".", "file"),
        ("...", "file"),
        (".bashrc", "bashrc"),
        ("draft..final.docx", "draft.final.docx"),
        ("trailing dots. . .", "trailing dots"),
        ('what? "this" <or> that*|.txt', "what_ _this_ _or_ that__.txt"),
        ("Résumé — 論文.pdf", "Résumé — 論文.pdf"),
        ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),  # decomposed accents, composed
        ("", "file"),
        ("\x01\x02", "file"),
        ("  spaced   out  .txt", "spaced out .txt"),
    ],
)
def test_a_file_name_is_cleaned_for_display(name, shown):
    assert files.display_name(name) == shown


def test_a_long_name_is_cut_to_255_bytes_keeping_its_extension():
    assert files.display_name("a" * 300 + ".pdf") == "a" * 251 + ".pdf"
    cut = files.display_name("é" * 200 + ".docx")
    assert cut == "é" * 125 + ".docx"
    assert len(cut.encode()) == 255


def test_a_long_name_with_a_multibyte_extension_is_cut_to_255_bytes():
    cut = files.display_name("a" * 300 + ".文档")

    assert cut == "a" * 248 + ".文档"
    assert len(cut.encode()) == 255


def test_a_long_name_without_an_extension_is_cut_to_255_bytes():
    assert files.display_name("論" * 100) == "論" * 85


def test_a_long_extension_is_cut_with_the_rest():
    assert files.display_name("x." + "y" * 300) == ("x." + "y" * 300)[:255]


# No deadline and no example database: a busy machine must not fail it, nor a run leave files behind.
@examples(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_any_name_becomes_one_short_safe_path_component(name):
    shown = files.display_name(name)

    assert shown
    assert len(shown.encode()) <= 255
    assert "/" not in shown and "\\" not in shown
    assert shown not in {".", ".."} and not shown.startswith(".")
    assert ".." not in shown
    assert not any(ord(c) < 32 or ord(c) == 127 for c in shown)


def test_content_disposition_gives_an_ascii_name_and_the_full_name_encoded():
    assert files.content_disposition("essay.pdf") == "attachment; filename=\"essay.pdf\"; filename*=UTF-8''essay.pdf"
    assert files.content_disposition('say "hi".txt') == (
        "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20_hi_.txt"
    )
    assert files.content_disposition("論文.pdf") == (
        "attachment; filename=\"__.pdf\"; filename*=UTF-8''%E8%AB%96%E6%96%87.pdf"
    )


def test_object_keys_are_fresh_and_say_nothing_of_the_file():
    keys = {files.new_key() for _ in range(1000)}

    assert len(keys) == 1000
    assert all(key.startswith("uploads/") and len(key) == len("uploads/") + 32 for key in keys)
