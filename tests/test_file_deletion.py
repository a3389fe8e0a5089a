"""Files leave the store with what they belong to: a deleted test, course or account, and uploads never
submitted. The database records each deleted upload's key in the deleting transaction (a rolled-back
deletion keeps everything); the worker deletes the objects after the commit, and tries again while
the store fails. Checked in the store itself: moto's S3 server and the local disk."""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts import user_services
from courses import services as course_services
from grading import services, uploads
from grading.models import DeletedObject, Submission, Upload
from gradingsite.errors import Conflict
from tests.files import ESSAY, PDF, Store, asked_ago, submissions_url, uploaded
from tests.s3 import S3Server
from tests.workers import wait_until


def _handed_in(client_for, student, test, store, count=2) -> list[int]:
    client = client_for(student)
    ids = [uploaded(client, store, test, data=ESSAY + bytes([i])) for i in range(count)]
    assert client.post(submissions_url(test), {"files": ids}, format="json").status_code == 201
    return ids


def _jobs(task="delete_file_objects") -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s AND status = 'todo'", [task])
        return cursor.fetchone()[0]


# In one process: the records, the job queued, the deleting itself.


@pytest.mark.django_db
@pytest.mark.parametrize("what", ["test", "course", "student"])
def test_deleting_what_files_belong_to_queues_their_objects_and_the_job_that_deletes_them(
    client_for, teacher, student, course, online, store, what
):
    ids = _handed_in(client_for, student, online, store)
    pending = uploaded(client_for(student), store, online)  # asked for and sent, not submitted
    keys = set(Upload.objects.values_list("key", flat=True))
    assert store.keys() == keys and len(keys) == 3

    if what == "test":
        services.test_delete(test=online, by=teacher)
    elif what == "course":
        course_services.course_delete(course=course, by=teacher)
    else:
        user_services.user_delete(user=student, by=teacher)

    assert not Upload.objects.filter(pk__in=[*ids, pending]).exists()
    assert set(DeletedObject.objects.values_list("key", flat=True)) == keys
    assert _jobs() == 1
    assert store.keys() == keys  # nothing leaves the store before the commit

    assert uploads.delete_objects() == 3

    assert store.keys() == set()
    assert not DeletedObject.objects.exists()


@pytest.mark.django_db
def test_a_deletion_rolled_back_keeps_the_files_and_queues_nothing(client_for, teacher, student, course, online, store):
    _handed_in(client_for, student, online, store)
    keys = store.keys()

    with pytest.raises(RuntimeError), transaction.atomic():
        services.test_delete(test=online, by=teacher)
        raise RuntimeError("something after it failed")

    assert Upload.objects.count() == 2
    assert not DeletedObject.objects.exists() and _jobs() == 0
    assert uploads.delete_objects() == 0
    assert store.keys() == keys


@pytest.mark.django_db
def test_a_refused_course_deletion_keeps_its_files(client_for, teacher, student, course, online, store):
    _handed_in(client_for, student, online, store)
    services.result_record(test=online, student=student, score=Decimal(10), by=teacher)

    with pytest.raises(Conflict):
        course_services.course_delete(course=course, by=teacher)

    assert Upload.objects.count() == 2 and not DeletedObject.objects.exists()
    assert len(store.keys()) == 2


@pytest.mark.django_db
def test_only_one_deletion_job_waits_at_a_time(client_for, teacher, student, course, online, store):
    other = services.test_create(course=course, name="Essay 2", date=online.date, submission_type="online")
    _handed_in(client_for, student, online, store, count=1)
    _handed_in(client_for, student, other, store, count=1)

    services.test_delete(test=online, by=teacher)
    services.test_delete(test=other, by=teacher)

    assert _jobs() == 1
    assert uploads.delete_objects() == 2
    assert store.keys() == set()


@pytest.mark.django_db
def test_any_deletion_of_an_upload_row_records_its_key(client_for, student, online, store):
    """Whatever deletes the rows (here a statement of an operator's own), the keys are recorded."""
    _handed_in(client_for, student, online, store)
    keys = set(Upload.objects.values_list("key", flat=True))

    Submission.objects.all().delete()

    assert set(DeletedObject.objects.values_list("key", flat=True)) == keys


@pytest.mark.django_db
def test_uploads_never_submitted_within_24_hours_are_swept_with_their_files(client_for, student, online, store):
    client = client_for(student)
    handed_in = _handed_in(client_for, student, online, store, count=1)
    stale = asked_ago(uploaded(client, store, online), hours=24, seconds=1)
    stale_unsent = asked_ago(
        client.post(
            f"/api/tests/{online.pk}/uploads/", {"name": "a.pdf", "size": 5, "content_type": PDF}, format="json"
        ).json()["id"],
        hours=30,
    )
    recent = asked_ago(uploaded(client, store, online), hours=23, minutes=59)

    assert uploads.sweep() == (2, 2)

    assert set(Upload.objects.values_list("pk", flat=True)) == {*handed_in, recent}
    assert store.keys() == set(Upload.objects.values_list("key", flat=True))
    assert not Upload.objects.filter(pk__in=[stale, stale_unsent]).exists()
    assert not DeletedObject.objects.exists()


@pytest.mark.django_db
def test_an_object_the_store_fails_to_delete_stays_queued_with_the_reason(client_for, student, online, local_files):
    store = Store("local", folder=local_files)
    ids = _handed_in(client_for, student, online, store)
    stuck, fine = Upload.objects.get(pk=ids[0]), Upload.objects.get(pk=ids[1])
    # A directory where the file was: unlink refuses it, as a store may refuse for a while.
    (local_files / stuck.key).unlink()
    (local_files / stuck.key).mkdir()
    (local_files / stuck.key / "inside").write_bytes(b"x")
    Submission.objects.all().delete()

    with pytest.raises(uploads.ObjectsNotDeleted, match=f"1 objects not deleted, such as {stuck.key}"):
        uploads.delete_objects()

    left = DeletedObject.objects.get()
    assert (left.key, left.attempts) == (stuck.key, 1)
    assert "Directory" in left.error or "directory" in left.error
    assert not (local_files / fine.key).exists()

    (local_files / stuck.key / "inside").unlink()
    (local_files / stuck.key).rmdir()
    (local_files / stuck.key).write_bytes(b"back as a file")
    assert uploads.delete_objects() == 1
    assert not (local_files / stuck.key).exists() and not DeletedObject.objects.exists()


@pytest.mark.django_db
def test_an_unreachable_store_keeps_every_object_queued(client_for, student, online, settings, s3_server):
    down = S3Server.start()
    bucket = "gone"
    down.client().create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": down.storage_options(bucket)},
    }
    store = Store("s3", server=down, bucket=bucket)
    _handed_in(client_for, student, online, store)
    down.stop()
    Submission.objects.all().delete()

    with pytest.raises(uploads.ObjectsNotDeleted, match="2 objects not deleted"):
        uploads.delete_objects()

    assert sorted(DeletedObject.objects.values_list("attempts", flat=True)) == [1, 1]


def test_the_worker_sweeps_uploads_every_10_minutes():
    from procrastinate.contrib.django import app

    import grading.tasks  # noqa: F401  (registers the tasks)

    periodic = {task.periodic_id: task.cron for task in app.periodic_registry.periodic_tasks.values()}
    assert periodic["sweep_uploads"] == "*/10 * * * *"


# The worker, as the Procfile runs it.

with_worker = pytest.mark.django_db(transaction=True)


@pytest.fixture
def s3_for_worker(s3_server):
    """A bucket on the tests' S3 server, for the test's process and its worker alike."""
    bucket = "worker-files"
    s3_server.client().create_bucket(Bucket=bucket)
    yield s3_server, bucket
    client = s3_server.client()
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


def _point_at(settings, server, bucket):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": server.storage_options(bucket)},
    }


@with_worker
def test_the_worker_deletes_a_deleted_courses_files_from_the_bucket(
    start_worker, client_for, teacher, student, course, online, settings, s3_for_worker
):
    server, bucket = s3_for_worker
    _point_at(settings, server, bucket)
    store = Store("s3", server=server, bucket=bucket)
    _handed_in(client_for, student, online, store, count=3)
    assert len(store.keys()) == 3
    start_worker(**server.environment(bucket))

    assert client_for(teacher).delete(f"/api/courses/{course.pk}/").status_code == 204

    wait_until(lambda: store.keys() == set(), what="the bucket to be empty")
    wait_until(lambda: not DeletedObject.objects.exists(), what="the deleted objects' records to go")


@with_worker
def test_the_worker_deletes_local_files_of_a_deleted_account(
    start_worker, client_for, admin_user, student, online, local_files
):
    store = Store("local", folder=local_files)
    _handed_in(client_for, student, online, store)
    start_worker(MEDIA_ROOT=str(local_files))

    assert client_for(admin_user).delete(f"/api/users/{student.pk}/").status_code == 204

    wait_until(lambda: store.keys() == set(), what="the files to be gone")


@with_worker
def test_the_worker_tries_again_until_the_store_is_back(start_worker, client_for, teacher, student, online, settings):
    server = S3Server.start()
    try:
        bucket = "flaky"
        server.client().create_bucket(Bucket=bucket)
        _point_at(settings, server, bucket)
        store = Store("s3", server=server, bucket=bucket)
        _handed_in(client_for, student, online, store, count=1)
        key = Upload.objects.get().key
        start_worker(FILE_DELETE_RETRY_SECONDS=1, **server.environment(bucket))
        server.stop()

        assert client_for(teacher).delete(f"/api/tests/{online.pk}/").status_code == 204

        wait_until(
            lambda: DeletedObject.objects.filter(attempts__gte=1).exists(), what="a failed attempt to be recorded"
        )
        assert DeletedObject.objects.get().key == key
        # The store is back, holding the object: the next try deletes it.
        server = S3Server.start(port=server.port)
        server.client().create_bucket(Bucket=bucket)
        server.client().put_object(Bucket=bucket, Key=key, Body=ESSAY, ContentType=PDF)
        wait_until(lambda: not DeletedObject.objects.exists(), timeout=120, what="the retry to delete the object")
        assert store.keys() == set()
    finally:
        server.stop()
