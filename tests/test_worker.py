"""Result notices end to end: real worker processes (``python manage.py worker``, as the Procfile
starts it) on the test database, the job queue on PostgreSQL, and the fake SendGrid over real HTTP.

Each test commits its data (transactional tests), starts its worker(s) and waits for what a student
would see in their inbox: the fake's accepted requests, counted per recipient.
"""

import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import User
from courses.models import Enrollment, Role
from grading import services
from grading.models import Notice, TestResult
from tests.workers import WAIT_SECONDS, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _pupils(course, n, prefix="pupil"):
    users = User.objects.bulk_create([User(email=f"{prefix}{i}@example.com", first_name=f"P{i}") for i in range(n)])
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    return users


def _graded_hidden(test, teacher, students, score=lambda i: Decimal(i % 100)):
    test.results_published = False
    test.save()
    services.results_upsert(
        test=test, items=[(s.pk, score(i)) for i, s in enumerate(students)], by=teacher, notify=False
    )


def _publish(client, test):
    response = client.patch(f"/api/tests/{test.pk}/", {"results_published": True}, format="json")
    assert response.status_code == 200, response.content


def _notice_state(test):
    return lambda: list(Notice.objects.filter(test=test).values_list("state", flat=True))


def _queue_empty():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'deliver_notice'")
        return cursor.fetchone()[0] == 0


def test_publishing_emails_each_student_who_opted_in_once(
    start_worker, sendgrid, client_for, teacher, test_, student, classmate
):
    classmate.notify_by_email = False
    classmate.save()
    _graded_hidden(test_, teacher, [student, classmate])
    start_worker()

    _publish(client_for(teacher), test_)

    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the notice to be sent")
    [request] = sendgrid.accepted_requests()
    [delivery] = request.deliveries
    assert delivery.email == student.email
    assert "Your result: 0 out of 100 (0.0%)" in delivery.text
    assert sendgrid.delivery_counts() == {student.email: 1}


def test_2500_students_are_three_requests(start_worker, sendgrid, client_for, teacher, course, test_):
    pupils = _pupils(course, 2500)
    _graded_hidden(test_, teacher, pupils)
    start_worker()

    _publish(client_for(teacher), test_)

    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the notice to be sent")
    assert [len(r.deliveries) for r in sendgrid.accepted_requests()] == [1000, 1000, 500]
    counts = sendgrid.delivery_counts()
    assert len(counts) == 2500 and set(counts.values()) == {1}


def test_changes_within_the_window_are_one_email_with_the_latest_score(
    start_worker, sendgrid, client_for, teacher, test_, student, settings
):
    settings.RESULT_NOTIFY_DELAY_SECONDS = 3
    start_worker()
    client = client_for(teacher)

    created = client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 40}, format="json")
    client.patch(f"/api/test-results/{created.json()['id']}/", {"score": 55}, format="json")
    client.patch(f"/api/test-results/{created.json()['id']}/", {"score": 66.5}, format="json")

    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the notice to be sent")
    [delivery] = sendgrid.deliveries_to(student.email)
    assert "Your result: 66.5 out of 100 (66.5%)" in delivery.text


def test_hiding_the_results_before_the_notice_is_sent_sends_nothing(
    start_worker, sendgrid, client_for, teacher, test_, student, settings
):
    settings.RESULT_NOTIFY_DELAY_SECONDS = 2
    start_worker()
    client = client_for(teacher)
    client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 40}, format="json")

    client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")

    wait_until(_queue_empty, what="the notice's job to run")
    assert _notice_state(test_)() == ["canceled"]
    assert sendgrid.requests == []


def test_a_rolled_back_write_enqueues_nothing(start_worker, sendgrid, client_for, teacher, test_, student, stranger):
    start_worker()
    client = client_for(teacher)
    url = f"/api/tests/{test_.pk}/results/"

    refused = client.put(
        url, [{"student": student.pk, "score": 5}, {"student": stranger.pk, "score": 5}], format="json"
    )

    assert refused.status_code == 400
    assert not Notice.objects.exists() and _queue_empty()
    # The worker is alive: the next good write is delivered, and it is the only email.
    client.put(url, [{"student": student.pk, "score": 6}], format="json")
    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the notice to be sent")
    assert sendgrid.delivery_counts() == {student.email: 1}


def test_a_sendgrid_500_is_retried_and_delivered_once(start_worker, sendgrid, client_for, teacher, test_, student):
    _graded_hidden(test_, teacher, [student])
    sendgrid.answer_next(500)
    start_worker()

    _publish(client_for(teacher), test_)

    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the notice to be sent")
    assert [r.status for r in sendgrid.requests] == [500, 202]
    assert sendgrid.delivery_counts() == {student.email: 1}


def _job(notice):
    """The notice's deliver_notice job: (status, attempts), or None once it is done."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, attempts FROM procrastinate_jobs WHERE task_name = 'deliver_notice' "
            "AND args->>'notice_id' = %s",
            [str(notice.pk)],
        )
        return cursor.fetchone()


def _make_due(notice):
    """The retry's wait is over: the job may run now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE procrastinate_jobs SET scheduled_at = now() WHERE task_name = 'deliver_notice' "
            "AND args->>'notice_id' = %s AND status = 'todo'",
            [str(notice.pk)],
        )
        assert cursor.rowcount == 1


def test_results_hidden_while_a_notice_waits_for_its_retry_are_never_emailed(
    start_worker, sendgrid, client_for, teacher, test_, student
):
    test_.max_score = 1000
    test_.save()
    _graded_hidden(test_, teacher, [student])
    test_.results_published = True
    test_.save()
    result = TestResult.objects.get()
    sendgrid.answer_next(500)
    start_worker(NOTIFY_RETRY_BASE_SECONDS=3600)  # the retry waits until the test says so
    client = client_for(teacher)

    assert client.patch(f"/api/test-results/{result.pk}/", {"score": 700}, format="json").status_code == 200
    notice = Notice.objects.get()
    wait_until(lambda: _job(notice) == ("todo", 1), what="the first attempt to fail and a retry to be scheduled")
    assert [r.status for r in sendgrid.requests] == [500]
    assert client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json").status_code == 200
    assert client.patch(f"/api/test-results/{result.pk}/", {"score": 123}, format="json").status_code == 200
    _make_due(notice)

    wait_until(lambda: _job(notice) is None, what="the retry to run")
    assert client_for(student).get(f"/api/test-results/{result.pk}/").status_code == 404
    assert sendgrid.deliveries_to(student.email) == []
    assert [r.status for r in sendgrid.requests] == [500]
    notice.refresh_from_db()
    assert notice.state == "canceled" and "hidden" in notice.reason


def _a_query_waits_for_a_lock():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_hiding_the_results_while_a_batch_is_in_flight_waits_for_it_and_cancels_the_rest(
    start_worker, sendgrid, client_for, teacher, course, test_
):
    pupils = _pupils(course, 6)
    _graded_hidden(test_, teacher, pupils)
    sendgrid.hold_requests(1)  # SendGrid takes the first batch and answers when the test says so
    start_worker(NOTIFY_BATCH_SIZE=2)
    client = client_for(teacher)
    _publish(client, test_)
    assert sendgrid.wait_for_held(WAIT_SECONDS)

    def hide():
        try:
            return client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        hiding = pool.submit(hide)
        wait_until(_a_query_waits_for_a_lock, what="the hide to wait for the batch in flight")
        assert not hiding.done()
        sendgrid.release()
        assert hiding.result(WAIT_SECONDS).status_code == 200

    wait_until(_queue_empty, what="the notice's job to end")
    [request] = sendgrid.accepted_requests()
    assert len(request.deliveries) == 2
    assert sendgrid.requests == [request]
    [notice] = client.get(f"/api/tests/{test_.pk}/notices/").json()["results"]
    assert (notice["state"], notice["recipients"], notice["sent"]) == ("canceled", 6, 2)


def test_a_sendgrid_400_fails_the_notice_with_the_reason(start_worker, sendgrid, client_for, teacher, test_, student):
    _graded_hidden(test_, teacher, [student])
    sendgrid.answer_next(400)
    start_worker()

    _publish(client_for(teacher), test_)

    wait_until(lambda: _notice_state(test_)() == ["failed"], what="the notice to fail")
    [notice] = client_for(teacher).get(f"/api/tests/{test_.pk}/notices/").json()["results"]
    assert notice["state"] == "failed" and notice["failed"] == 1 and notice["sent"] == 0
    assert "HTTP 400" in notice["reason"]
    assert [r.status for r in sendgrid.requests] == [400]


def test_a_worker_killed_mid_batch_is_replaced_and_every_student_gets_one_email(
    start_worker, sendgrid, client_for, teacher, course, test_
):
    pupils = _pupils(course, 2500)
    _graded_hidden(test_, teacher, pupils)
    by_id = sorted(pupils, key=lambda p: p.pk)
    batches = [{p.email for p in by_id[i : i + 1000]} for i in range(0, 2500, 1000)]
    # The first batch goes through; SendGrid takes the second, and its answer never reaches the worker.
    sendgrid.hold_requests(1, after=1)
    first = start_worker()

    _publish(client_for(teacher), test_)
    assert sendgrid.wait_for_held(WAIT_SECONDS)
    first.send_signal(signal.SIGKILL)
    first.wait()
    sendgrid.release()
    start_worker()

    wait_until(lambda: _notice_state(test_)() == ["sent"], what="the replacement worker to finish the notice")
    counts = sendgrid.delivery_counts()
    assert set(counts) == {p.email for p in pupils}
    # Batch 0 was recorded as sent before the kill: never sent again. Batch 2 was never sent before.
    assert {counts[email] for email in batches[0] | batches[2]} == {1}
    # Batch 1 was in flight at the kill: SendGrid took it, the worker never recorded it, and the
    # replacement sent it again — the same request with the same send_key, so the copies are one send
    # to SendGrid's event data. No student has two emails of different sends.
    assert {counts[email] for email in batches[1]} == {2}
    keys = {}
    for delivery in sendgrid.deliveries():
        keys.setdefault(delivery.email, set()).add(delivery.custom_args["send_key"])
    assert {len(k) for k in keys.values()} == {1}


def test_two_workers_at_once_send_no_duplicates(start_worker, sendgrid, client_for, teacher, course):
    from grading.tasks import deliver_notice

    pupils = _pupils(course, 1200)
    tests = [
        services.test_create(course=course, name=f"Quiz {i}", date=date(2026, 11, i + 1), results_published=False)
        for i in range(3)
    ]
    for test in tests:
        _graded_hidden(test, teacher, pupils)
    start_worker()
    start_worker()
    client = client_for(teacher)

    for test in tests:
        _publish(client, test)
        # A second job for the same notice (as a stalled-job retry of a worker that was only slow would
        # make): both workers may run it at once.
        deliver_notice.defer(notice_id=Notice.objects.get(test=test).pk)

    wait_until(
        lambda: set(Notice.objects.values_list("state", flat=True)) == {"sent"} and _queue_empty(),
        what="every notice to be sent",
    )
    assert len(sendgrid.accepted_requests()) == 6
    counts = sendgrid.delivery_counts()
    assert len(counts) == 1200 and set(counts.values()) == {3}
    assert TestResult.objects.count() == 3600
