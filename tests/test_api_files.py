"""Files in submissions through the API: an upload asked for, the file sent to the store as a client
sends it, a submission carrying it, a download. Every step on both stores: moto's S3 server over
HTTP, and the local disk (``store``); every limit and refusal, with nothing stored."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from courses.models import Enrollment, Role
from grading.models import Submission, Test, Upload
from gradingsite import files
from tests.concurrency import run_at_once
from tests.files import ESSAY, PDF, Store, ask, asked_ago, fetch, iso, submissions_url, uploaded, uploads_url

pytestmark = pytest.mark.django_db

# The whole way: ask, send, submit, download.


def test_a_student_uploads_two_files_submits_them_and_the_teacher_downloads_each(
    client_for, student, teacher, online, store
):
    client = client_for(student)
    notes = b"Notes, plain text.\n" * 10
    essay_id = uploaded(client, store, online, ESSAY, "essay.pdf", PDF)
    notes_id = uploaded(client, store, online, notes, "notes.txt", "text/plain")

    response = client.post(
        submissions_url(online), {"body": "See the files.", "files": [notes_id, essay_id]}, format="json"
    )

    assert response.status_code == 201, response.json()
    submission = Submission.objects.get()
    attached = {upload.pk: upload for upload in Upload.objects.all()}
    assert response.json()["files"] == [
        {
            "id": notes_id,
            "name": "notes.txt",
            "size": len(notes),
            "content_type": "text/plain",
            "uploaded_at": iso(submission.submitted_at),
        },
        {
            "id": essay_id,
            "name": "essay.pdf",
            "size": len(ESSAY),
            "content_type": PDF,
            "uploaded_at": iso(submission.submitted_at),
        },
    ]
    assert {upload.submission_id for upload in attached.values()} == {submission.pk}
    assert client.get(f"/api/submissions/{submission.pk}/").json()["files"] == response.json()["files"]
    assert client_for(teacher).get(submissions_url(online)).json()["results"][0]["files"] == response.json()["files"]

    for file_id, data, name, content_type in [
        (essay_id, ESSAY, "essay.pdf", PDF),
        (notes_id, notes, "notes.txt", "text/plain"),
    ]:
        body, headers = fetch(client_for(teacher).get(f"/api/files/{file_id}/"))
        assert body == data
        assert headers["content-type"] == content_type
        assert headers["content-disposition"] == f"attachment; filename=\"{name}\"; filename*=UTF-8''{name}"


def test_the_upload_answer_says_where_to_send_the_file_for_15_minutes(client_for, student, online, store):
    with time_machine.travel(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), tick=False):
        response = ask(client_for(student), online)

    assert response.status_code == 201
    body = response.json()
    upload = Upload.objects.get()
    assert list(body) == ["id", "upload_url", "upload_fields", "expires_at"]
    assert body["id"] == upload.pk
    assert body["expires_at"] == "2026-12-01T09:15:00Z"
    assert body["upload_fields"]["key"] == upload.key
    assert body["upload_fields"]["Content-Type"] == PDF
    if store.kind == "s3":
        assert body["upload_url"] == f"{store.server.endpoint_url}/{store.bucket}"
    else:
        assert body["upload_url"] == "http://testserver/api/uploads/local/"
    assert (upload.student_id, upload.test_id, upload.name, upload.size, upload.content_type) == (
        student.pk,
        online.pk,
        "essay.pdf",
        len(ESSAY),
        PDF,
    )
    assert upload.submission_id is None and upload.uploaded_at is None
    assert store.keys() == set()  # nothing is stored until the client sends it


def test_a_local_download_is_streamed_as_an_attachment_never_sniffed(client_for, student, teacher, online, local_files):
    store = Store("local", folder=local_files)
    file_id = uploaded(client_for(student), store, online, b"<html><script>alert(1)</script>", "page.html", "text/html")
    client_for(student).post(submissions_url(online), {"files": [file_id]}, format="json")

    response = client_for(teacher).get(f"/api/files/{file_id}/", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"] == "attachment; filename=\"page.html\"; filename*=UTF-8''page.html"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert b"".join(response.streaming_content) == b"<html><script>alert(1)</script>"


def test_an_s3_download_is_a_redirect_to_a_presigned_get_valid_5_minutes(
    client_for, student, online, s3_bucket, s3_server
):
    store = Store("s3", server=s3_server, bucket=s3_bucket)
    file_id = uploaded(client_for(student), store, online)
    client_for(student).post(submissions_url(online), {"files": [file_id]}, format="json")

    response = client_for(student).get(f"/api/files/{file_id}/")

    assert response.status_code == 302
    assert "X-Amz-Expires=300" in response["Location"]
    assert response["Location"].startswith(f"{s3_server.endpoint_url}/{s3_bucket}/uploads/")
    assert response["Cache-Control"] == "private, no-store"


# Submitting with files.


def test_with_files_the_body_may_be_left_out_or_blank(client_for, student, online, store):
    client = client_for(student)
    first = client.post(submissions_url(online), {"files": [uploaded(client, store, online)]}, format="json")
    second = client.post(
        submissions_url(online), {"body": "  ", "files": [uploaded(client, store, online)]}, format="json"
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert [s.body for s in Submission.objects.order_by("attempt")] == ["", ""]


@pytest.mark.parametrize("body", [{}, {"body": ""}, {"body": " "}, {"files": []}, {"body": "", "files": []}])
def test_without_files_a_body_is_still_required(client_for, student, online, body):
    response = client_for(student).post(submissions_url(online), body, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["body"]


@pytest.mark.parametrize("files_", ["7", [True], ["7"], [1.5], [0], [-3], 7, None], ids=repr)
def test_files_must_be_a_list_of_ids(client_for, student, online, files_):
    response = client_for(student).post(submissions_url(online), {"body": "x", "files": files_}, format="json")

    assert response.status_code == 400
    assert list(response.json()) == ["files"]


def _refused(client, test, ids, words, body="x"):
    before = {upload.pk: upload.submission_id for upload in Upload.objects.all()}
    response = client.post(submissions_url(test), {"body": body, "files": ids}, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()) == ["files"]
    assert words in response.json()["files"][0]
    return before


def test_an_upload_of_another_student_or_test_or_none_at_all_is_refused(
    client_for, student, classmate, course, online, store
):
    other_test = Test.objects.create(course=course, name="Essay 2", date=online.date, submission_type="online")
    theirs = uploaded(client_for(classmate), store, online)
    elsewhere = uploaded(client_for(student), store, other_test)
    client = client_for(student)

    for ids in ([theirs], [elsewhere], [999_999]):
        _refused(client, online, ids, f"Upload {ids[0]} is not one of your uploads for this test.")

    assert not Submission.objects.exists()
    assert not Upload.objects.filter(submission__isnull=False).exists()


def test_an_upload_is_attached_once(client_for, student, online, store):
    client = client_for(student)
    file_id = uploaded(client, store, online)
    assert client.post(submissions_url(online), {"files": [file_id]}, format="json").status_code == 201

    _refused(client, online, [file_id], "attached to a submission already: an upload is used once")
    _refused(client, online, [uploaded(client, store, online)] * 2, "is listed twice")

    assert Submission.objects.count() == 1


def test_an_upload_whose_file_never_reached_the_store_is_refused(client_for, student, online, store):
    client = client_for(student)
    answer = ask(client, online).json()

    _refused(client, online, [answer["id"]], "file is not in storage: send it to its upload_url first")

    assert not Submission.objects.exists()
    assert Upload.objects.get().submission_id is None


def test_a_stored_file_of_another_size_or_type_than_declared_is_refused(client_for, student, online, store):
    # S3 refuses such a file by the POST policy; moto doesn't, and a store may hold whatever was put
    # at the key: the HEAD at submission is what counts.
    client = client_for(student)
    short, typed = ask(client, online).json(), ask(client, online).json()
    store.put(short["upload_fields"]["key"], ESSAY[:-1])
    store.put(typed["upload_fields"]["key"], ESSAY, "text/html")

    _refused(client, online, [short["id"]], f"is {len(ESSAY) - 1} bytes of {PDF}, not the {len(ESSAY)} bytes")
    _refused(client, online, [typed["id"]], f"is {len(ESSAY)} bytes of text/html, not the {len(ESSAY)} bytes of {PDF}")

    assert not Submission.objects.exists()


def test_an_upload_not_submitted_within_24_hours_is_refused(client_for, student, online, store):
    client = client_for(student)
    stale = asked_ago(uploaded(client, store, online), hours=24, seconds=1)
    fresh = asked_ago(uploaded(client, store, online), hours=23, minutes=59)

    _refused(client, online, [stale], "was not submitted within 24 hours")
    assert client.post(submissions_url(online), {"files": [fresh]}, format="json").status_code == 201


def test_more_files_than_max_files_is_refused(client_for, student, online, store):
    online.max_files = 2
    online.save()
    client = client_for(student)
    ids = [asked_ago(uploaded(client, store, online), minutes=20) for _ in range(2)]
    ids.append(uploaded(client, store, online))

    _refused(client, online, ids, "A submission carries at most 2 files (max_files).")
    assert client.post(submissions_url(online), {"files": ids[:2]}, format="json").status_code == 201


def test_a_file_whose_ending_the_test_stopped_taking_is_refused(client_for, student, teacher, online, store):
    client = client_for(student)
    file_id = uploaded(client, store, online, name="notes.txt", content_type="text/plain")
    assert (
        client_for(teacher)
        .patch(f"/api/tests/{online.pk}/", {"allowed_extensions": ["pdf"]}, format="json")
        .status_code
        == 200
    )

    _refused(
        client, online, [file_id], f"Upload {file_id}: This test takes only files ending in .pdf (allowed_extensions)."
    )


def test_a_refused_submission_attaches_nothing_and_counts_no_attempt(client_for, student, online, store):
    client = client_for(student)
    good = uploaded(client, store, online)
    missing = ask(client, online).json()["id"]

    _refused(client, online, [good, missing], f"Upload {missing}'s file is not in storage")

    assert Upload.objects.get(pk=good).submission_id is None
    response = client.post(submissions_url(online), {"files": [good]}, format="json")
    assert response.json()["attempt"] == 1


def test_submitting_with_files_follows_the_rules_of_submitting(client_for, student, online, store):
    client = client_for(student)
    file_id = uploaded(client, store, online)
    online.lock_at = timezone.now() - timedelta(seconds=1)
    online.save()

    response = client.post(submissions_url(online), {"files": [file_id]}, format="json")

    assert response.status_code == 409
    assert "lock_at" in response.json()["detail"]
    assert Upload.objects.get().submission_id is None


# Asking for an upload: the rules of submitting, the limits, bad input.


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"submission_type": "none"}, "submission_type"),
        ({"unlock_at": timedelta(hours=1)}, "unlock_at"),
        ({"lock_at": timedelta(seconds=-1), "due_at": timedelta(seconds=-1)}, "lock_at"),
        ({"allowed_attempts": 1}, "allowed_attempts"),
    ],
    ids=["not online", "before unlock_at", "after lock_at", "attempts used"],
)
def test_asking_for_an_upload_follows_the_rules_of_submitting(client_for, student, online, store, change, words):
    if "allowed_attempts" in change:
        Submission.objects.create(test=online, student=student, attempt=1, submitted_at=timezone.now(), body="x")
    now = timezone.now()
    for name, value in change.items():
        setattr(online, name, now + value if isinstance(value, timedelta) else value)
    online.save()

    response = ask(client_for(student), online)

    assert response.status_code == 409
    assert words in response.json()["detail"]
    assert not Upload.objects.exists()


@pytest.mark.parametrize("who", ["teacher", "admin_user", "stranger", "other_teacher"])
def test_only_students_of_the_course_ask_for_uploads(client_for, request, online, who):
    response = ask(client_for(request.getfixturevalue(who)), online)

    assert response.status_code == 403
    assert not Upload.objects.exists()


def test_a_file_over_file_max_bytes_is_refused_before_anything_is_stored(client_for, student, online, store, settings):
    settings.FILE_MAX_BYTES = 1000

    over = ask(client_for(student), online, size=1001)
    at = ask(client_for(student), online, size=1000)

    assert over.status_code == 400
    assert over.json() == {"size": ["A file may be at most 1000 bytes (FILE_MAX_BYTES)."]}
    assert at.status_code == 201
    assert Upload.objects.count() == 1


def test_a_name_without_an_allowed_ending_is_refused(client_for, student, online, store):
    online.allowed_extensions = ["pdf", "docx", "tar.gz"]
    online.save()
    client = client_for(student)

    refused = [ask(client, online, name=name) for name in ("essay.txt", "essay", "essay.pdf.exe", "pdf")]
    taken = [ask(client, online, name=name) for name in ("essay.PDF", "a.b.docx", "backup.tar.gz")]

    assert [r.status_code for r in refused] == [400] * 4
    assert refused[0].json() == {
        "name": ["This test takes only files ending in .pdf, .docx or .tar.gz (allowed_extensions)."]
    }
    assert [r.status_code for r in taken] == [201] * 3
    assert Upload.objects.count() == 3


def test_at_most_max_files_uploads_wait_unsubmitted_from_the_last_15_minutes(client_for, student, online, store):
    online.max_files = 2
    online.save()
    client = client_for(student)
    asked_ago(ask(client, online).json()["id"], minutes=15, seconds=1)
    assert [ask(client, online).status_code for _ in range(2)] == [201, 201]

    third = ask(client, online)

    assert third.status_code == 400
    assert "max_files" in third.json()["detail"]
    assert Upload.objects.count() == 3


@pytest.mark.parametrize(
    "body",
    [
        {"size": 10, "content_type": PDF},
        {"name": "a.pdf", "content_type": PDF},
        {"name": "a.pdf", "size": 10},
        {"name": "", "size": 10, "content_type": PDF},
        {"name": 5, "size": 10, "content_type": PDF},
        {"name": "a.pdf", "size": 0, "content_type": PDF},
        {"name": "a.pdf", "size": "10", "content_type": PDF},
        {"name": "a.pdf", "size": 10.5, "content_type": PDF},
        {"name": "a.pdf", "size": 10, "content_type": "pdf"},
        {"name": "a.pdf", "size": 10, "content_type": "text/html\r\nX-Evil: 1"},
        {"name": "a.pdf", "size": 10, "content_type": PDF, "key": "uploads/mine"},
    ],
    ids=lambda body: repr(body)[:60],
)
def test_bad_upload_input_is_a_400_and_stores_nothing(client_for, student, online, body):
    response = client_for(student).post(uploads_url(online), body, format="json")

    assert response.status_code == 400
    assert not Upload.objects.exists()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\me\\essay.pdf", "essay.pdf"),
        ("notes\r\n.pdf", "notes.pdf"),
        ("..pdf", "pdf"),
        ("a" * 300 + ".pdf", "a" * 251 + ".pdf"),
    ],
)
def test_a_files_name_is_kept_cleaned_for_display(client_for, student, online, store, name, shown):
    answer = ask(client_for(student), online, name=name)

    assert answer.status_code == 201
    upload = Upload.objects.get()
    assert upload.name == shown
    assert upload.key.startswith("uploads/") and shown not in upload.key


def test_the_content_type_is_kept_in_lower_case(client_for, student, online, store):
    assert ask(client_for(student), online, content_type="Application/PDF").status_code == 201
    assert Upload.objects.get().content_type == PDF


# Downloading: who may.


@pytest.fixture
def handed_in(client_for, student, online, store):
    file_id = uploaded(client_for(student), store, online)
    assert client_for(student).post(submissions_url(online), {"files": [file_id]}, format="json").status_code == 201
    return file_id


@pytest.mark.parametrize("who", ["student", "teacher", "admin_user"])
def test_the_student_the_courses_teachers_and_admins_download_a_file(client_for, request, handed_in, who):
    body, _ = fetch(client_for(request.getfixturevalue(who)).get(f"/api/files/{handed_in}/"))

    assert body == ESSAY


@pytest.mark.parametrize("who", ["classmate", "other_teacher", "stranger"])
def test_anyone_else_downloading_a_file_is_a_403(client_for, request, handed_in, who):
    response = client_for(request.getfixturevalue(who)).get(f"/api/files/{handed_in}/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only the student who submitted it, the course's teachers and admins may read this."
    }


def test_downloading_without_a_token_is_a_401(client_for, handed_in):
    assert client_for(None).get(f"/api/files/{handed_in}/").status_code == 401


def test_an_upload_not_attached_yet_or_unknown_is_not_a_file(client_for, student, teacher, online, store):
    pending = uploaded(client_for(student), store, online)

    for file_id in (pending, 999_999, "abc"):
        response = client_for(teacher).get(f"/api/files/{file_id}/")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}


# Tests carry the limits.


def test_teachers_set_max_files_and_allowed_extensions_on_a_test(client_for, teacher, online):
    client = client_for(teacher)

    response = client.patch(
        f"/api/tests/{online.pk}/",
        {"max_files": 3, "allowed_extensions": [".PDF", "docx", "pdf", " Tar.GZ "]},
        format="json",
    )

    assert response.status_code == 200
    assert (response.json()["max_files"], response.json()["allowed_extensions"]) == (3, ["pdf", "docx", "tar.gz"])
    online.refresh_from_db()
    assert online.allowed_extensions == ["pdf", "docx", "tar.gz"]
    back = client.patch(f"/api/tests/{online.pk}/", {"allowed_extensions": None}, format="json")
    assert back.json()["allowed_extensions"] is None


def test_a_new_test_takes_up_to_10_files_of_any_kind(client_for, teacher, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/tests/", {"name": "Essay", "date": "2026-12-20"}, format="json"
    )

    assert (response.json()["max_files"], response.json()["allowed_extensions"]) == (10, None)


@pytest.mark.parametrize(
    "change",
    [
        {"max_files": 0},
        {"max_files": 101},
        {"max_files": "3"},
        {"allowed_extensions": []},
        {"allowed_extensions": "pdf"},
        {"allowed_extensions": ["p d f"]},
        {"allowed_extensions": ["../pdf"]},
        {"allowed_extensions": [5]},
        {"allowed_extensions": ["x"] * 51},
    ],
    ids=repr,
)
def test_bad_file_limits_on_a_test_are_a_400_naming_the_field(client_for, teacher, online, change):
    response = client_for(teacher).patch(f"/api/tests/{online.pk}/", change, format="json")

    assert response.status_code == 400
    assert list(response.json()) == list(change)
    online.refresh_from_db()
    assert (online.max_files, online.allowed_extensions) == (10, None)


# Queries don't grow with the data.


def _count(client, method, url, body=None):
    with CaptureQueriesContext(connection) as queries:
        response = (
            getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)
        )
    assert response.status_code in (200, 201), response.content[:300]
    return len(queries)


def _hand_in(test, student, files_each: int, attempts: int = 1):
    for attempt in range(1, attempts + 1):
        submission = Submission.objects.create(
            test=test, student=student, attempt=attempt, submitted_at=timezone.now(), body="x"
        )
        Upload.objects.bulk_create(
            Upload(
                test=test,
                student=student,
                submission=submission,
                position=i,
                key=files.new_key(),
                name=f"f{i}.pdf",
                size=10,
                content_type=PDF,
                uploaded_at=submission.submitted_at,
            )
            for i in range(files_each)
        )


def test_submission_lists_with_files_run_the_same_queries_at_two_sizes(
    client_for, teacher, student, course, online, make_user
):
    client = client_for(teacher)
    _hand_in(online, student, files_each=2)
    small = (
        _count(client, "get", submissions_url(online)),
        _count(client, "get", f"/api/submissions/{Submission.objects.first().pk}/"),
    )
    for _ in range(15):
        user = make_user()
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
        _hand_in(online, user, files_each=5, attempts=2)

    large = (
        _count(client, "get", submissions_url(online)),
        _count(client, "get", f"/api/submissions/{Submission.objects.first().pk}/"),
    )

    assert large == small


def test_submitting_with_files_runs_the_same_queries_for_one_file_as_for_five(
    client_for, student, classmate, online, store
):
    one = [uploaded(client_for(student), store, online)]
    five = [uploaded(client_for(classmate), store, online) for _ in range(5)]

    small = _count(client_for(student), "post", submissions_url(online), {"files": one})
    large = _count(client_for(classmate), "post", submissions_url(online), {"files": five})

    assert large == small


def test_asking_for_an_upload_runs_the_same_queries_whatever_was_uploaded_before(client_for, student, online, store):
    client = client_for(student)
    small = _count(client, "post", uploads_url(online), {"name": "a.pdf", "size": 10, "content_type": PDF})
    _hand_in(online, student, files_each=5, attempts=3)

    assert _count(client, "post", uploads_url(online), {"name": "a.pdf", "size": 10, "content_type": PDF}) == small


@pytest.mark.django_db(transaction=True)
def test_one_upload_sent_in_two_submissions_at_once_is_attached_to_one(client_for, student, online, local_files):
    file_id = uploaded(client_for(student), Store("local", folder=local_files), online)
    clients = [client_for(student), client_for(student)]

    outcomes = run_at_once(
        *(lambda c=c: c.post(submissions_url(online), {"files": [file_id]}, format="json") for c in clients)
    )

    assert sorted(response.status_code for response in outcomes) == [201, 400]
    refused = next(response for response in outcomes if response.status_code == 400)
    assert "attached to a submission already" in refused.json()["files"][0]
    assert Submission.objects.count() == 1
    assert Upload.objects.get().submission_id == Submission.objects.get().pk


def test_a_submissions_files_are_written_as_their_serializer_declares(client_for, student, online, local_files):
    """The database writes the list; DRF's FileSerializer is its declaration: the same bytes."""
    import json

    from grading.submission_serializers import FileSerializer
    from gradingsite.api.renderers import FastJSONRenderer

    _hand_in(online, student, files_each=3)
    submission = Submission.objects.get()
    Upload.objects.filter(position=0).update(uploaded_at=datetime(2026, 12, 1, 9, 0, 0, tzinfo=UTC))
    Upload.objects.filter(position=1).update(
        uploaded_at=datetime(2026, 12, 1, 9, 0, 0, 120, tzinfo=UTC), name='Ünï "q".pdf'
    )
    expected = FileSerializer(Upload.objects.filter(submission=submission).order_by("position"), many=True).data

    response = client_for(student).get(f"/api/submissions/{submission.pk}/")

    assert json.dumps(response.json()["files"]) == json.dumps(json.loads(FastJSONRenderer().render(expected)))


# In the admin: the grading page lists the files, each a link that downloads it.


def test_the_admins_grading_page_links_each_file_and_the_link_downloads_it(client_as, teacher, student, handed_in):
    test = Upload.objects.get(pk=handed_in).test
    page = client_as(teacher).get(reverse("admin:grading_test_grade_student", args=[test.pk, student.pk]))
    link = reverse("admin:grading_test_file", args=[test.pk, handed_in])

    assert page.status_code == 200
    assert f'<a href="{link}">essay.pdf</a>' in page.content.decode()
    body, headers = fetch(client_as(teacher).get(link))
    assert body == ESSAY
    assert headers["content-disposition"].startswith('attachment; filename="essay.pdf"')


def test_another_courses_teacher_and_another_tests_file_get_no_file_from_the_admin(
    client_as, other_teacher, other_course, teacher, course, handed_in
):
    test = Upload.objects.get(pk=handed_in).test
    other_test = Test.objects.create(course=course, name="Another", date=test.date)

    assert (
        client_as(other_teacher).get(reverse("admin:grading_test_file", args=[test.pk, handed_in])).status_code == 404
    )
    assert (
        client_as(teacher).get(reverse("admin:grading_test_file", args=[other_test.pk, handed_in])).status_code == 404
    )
    assert client_as(teacher).get(reverse("admin:grading_test_file", args=[test.pk, "x"])).status_code == 404
