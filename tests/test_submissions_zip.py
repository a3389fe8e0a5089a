"""A test's submissions as one zip: every student's latest attempt, its files and its text, in folders
no name can escape, streamed; on both stores."""

import io
import os
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from courses.models import Enrollment, Role
from grading.models import Submission, Upload
from gradingsite import files
from tests.files import ESSAY, PDF, submissions_url, uploaded

pytestmark = pytest.mark.django_db


def zip_url(test):
    return f"/api/tests/{test.pk}/submissions.zip"


def download(client, test) -> zipfile.ZipFile:
    response = client.get(zip_url(test))
    assert response.status_code == 200, response.content[:300]
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def _submit(client, test, body="", ids=()):
    response = client.post(submissions_url(test), {"body": body, "files": list(ids)}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_the_zip_holds_each_students_latest_attempt_with_its_files_and_text(
    client_for, teacher, student, classmate, online, store
):
    classmate.first_name, classmate.last_name = "Alan", "Bell"
    classmate.save()
    mine, theirs = client_for(student), client_for(classmate)
    _submit(mine, online, "First try.", [uploaded(mine, store, online, b"draft")])
    notes = b"Notes.\n" * 1000
    _submit(
        mine,
        online,
        "Final answer: 42.\nSee the files.",
        [
            uploaded(mine, store, online, ESSAY, "essay.pdf"),
            uploaded(mine, store, online, notes, "notes.txt", "text/plain"),
            uploaded(mine, store, online, b"another essay", "Essay.PDF"),
        ],
    )
    _submit(theirs, online, "", [uploaded(theirs, store, online, b"body text, as a file", "body.txt", "text/plain")])

    archive = download(client_for(teacher), online)

    folder, other = f"Devi_Shakuntala_{student.pk}", f"Bell_Alan_{classmate.pk}"
    assert archive.namelist() == [
        f"{other}/attempt-1/body.txt",
        f"{folder}/attempt-2/body.txt",
        f"{folder}/attempt-2/essay.pdf",
        f"{folder}/attempt-2/notes.txt",
        f"{folder}/attempt-2/Essay (2).PDF",
    ]
    assert archive.read(f"{folder}/attempt-2/body.txt") == b"Final answer: 42.\nSee the files."
    assert archive.read(f"{folder}/attempt-2/essay.pdf") == ESSAY
    assert archive.read(f"{folder}/attempt-2/notes.txt") == notes
    assert archive.read(f"{folder}/attempt-2/Essay (2).PDF") == b"another essay"
    # An attempt without text has no body.txt of its own: its file of that name keeps it.
    assert archive.read(f"{other}/attempt-1/body.txt") == b"body text, as a file"
    assert archive.testzip() is None


def test_the_zip_is_an_attachment_named_after_the_test(client_for, teacher, student, online, local_files):
    online.name = "Essay: week 1/2"
    online.save()
    _submit(client_for(student), online, "Done.")

    response = client_for(teacher).get(zip_url(online), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        "attachment; filename=\"2 submissions.zip\"; filename*=UTF-8''2%20submissions.zip"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert not response.has_header("Content-Length")
    b"".join(response.streaming_content)


def test_a_test_without_submissions_is_an_empty_zip(client_for, admin_user, online, local_files):
    assert download(client_for(admin_user), online).namelist() == []


def test_no_name_writes_outside_the_zips_folders(client_for, teacher, course, online, local_files, make_user, tmp_path):
    """Names are cleaned when uploaded; here they are put in the database as they came, to be sure."""
    evil = make_user(first_name="../../..", last_name="/etc/cron.d")
    Enrollment.objects.create(user=evil, course=course, role=Role.STUDENT)
    submission = Submission.objects.create(test=online, student=evil, attempt=1, submitted_at=timezone.now(), body="x")
    names = ["../../../../tmp/owned.sh", "..", "/abs/path", "C:\\Windows\\evil.dll", "a\x1bb", "body.txt", "BODY.TXT"]
    for position, name in enumerate(names):
        upload = Upload.objects.create(
            test=online,
            student=evil,
            submission=submission,
            position=position,
            key=files.new_key(),
            name=name,
            size=2,
            content_type="text/plain",
            uploaded_at=submission.submitted_at,
        )
        (local_files / upload.key).parent.mkdir(parents=True, exist_ok=True)
        (local_files / upload.key).write_bytes(b"ok")

    archive = download(client_for(teacher), online)

    folder = f"_etc_cron.d_._._._{evil.pk}/attempt-1"
    assert archive.namelist() == [
        f"{folder}/body.txt",
        f"{folder}/owned.sh",
        f"{folder}/file",
        f"{folder}/path",
        f"{folder}/evil.dll",
        f"{folder}/ab",
        f"{folder}/body (2).txt",
        f"{folder}/BODY (3).TXT",
    ]
    # Unpacked by the most naive of tools, which joins each name to the destination: all inside it.
    destination = tmp_path / "unpacked"
    for member in archive.namelist():
        target = os.path.realpath(os.path.join(destination, member))
        assert target.startswith(str(destination) + os.sep), member
        assert ".." not in member.split("/") and not member.startswith("/")


def test_a_file_gone_from_the_store_is_noted_in_its_place(client_for, teacher, student, online, store):
    client = client_for(student)
    file_id = uploaded(client, store, online)
    _submit(client, online, "", [file_id])
    files.store().delete(Upload.objects.get(pk=file_id).key)

    archive = download(client_for(teacher), online)

    assert archive.namelist() == [f"Devi_Shakuntala_{student.pk}/attempt-1/essay.pdf.missing.txt"]


@pytest.mark.parametrize("who", ["student", "other_teacher", "stranger"])
def test_only_the_courses_teachers_and_admins_download_the_zip(client_for, request, online, local_files, who):
    response = client_for(request.getfixturevalue(who)).get(zip_url(online))

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Only a teacher of this course or an admin may do this."}


def test_the_zip_reads_the_same_queries_for_2_students_as_for_20(
    client_for, teacher, course, online, local_files, make_user
):
    def grow(count):
        for _ in range(count):
            user = make_user()
            Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
            submission = Submission.objects.create(
                test=online, student=user, attempt=1, submitted_at=timezone.now(), body="x"
            )
            upload = Upload.objects.create(
                test=online,
                student=user,
                submission=submission,
                key=files.new_key(),
                name="a.pdf",
                size=3,
                content_type=PDF,
                uploaded_at=submission.submitted_at,
            )
            (local_files / upload.key).parent.mkdir(parents=True, exist_ok=True)
            (local_files / upload.key).write_bytes(b"pdf")

    def count():
        with CaptureQueriesContext(connection) as queries:
            download(client_for(teacher), online)
        return len(queries)

    grow(2)
    small = count()
    grow(18)

    assert count() == small
