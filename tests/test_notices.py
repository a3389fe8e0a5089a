"""Result notices, in-process: what opens, merges and cancels a notice, and what ``deliver`` sends.

The grade writes go through the API (or the admin, the CSV import); sending runs
``grading.notices.deliver`` here directly, as the worker's job does, against the fake SendGrid over
real HTTP. ``tests/test_worker.py`` runs the same flows through real worker processes.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from accounts.email import EmailRetryLater
from courses.models import Enrollment, Role
from grading import notices, services
from grading.models import Notice, NoticeRecipient, TestResult
from tests.test_gradebook_csv import post_csv, to_csv

pytestmark = pytest.mark.django_db


def _jobs(notice_id=None) -> list[tuple]:
    """The job queue's deliver_notice jobs (as rows), optionally of one notice."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT args->>'notice_id', scheduled_at FROM procrastinate_jobs WHERE task_name = 'deliver_notice'"
        )
        rows = cursor.fetchall()
    return [row for row in rows if notice_id is None or row[0] == str(notice_id)]


def _students(course, n, **fields):
    from accounts.models import User

    users = User.objects.bulk_create(
        [User(email=f"pupil{i}@example.com", first_name=f"Pupil{i}", **fields) for i in range(n)]
    )
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    return users


def _grade(test, teacher, scores: dict):
    services.results_upsert(test=test, items=list(scores.items()), by=teacher, notify=False)


def _hidden(test):
    test.results_published = False
    test.save()
    return test


def _publish(client, test):
    response = client.patch(f"/api/tests/{test.pk}/", {"results_published": True}, format="json")
    assert response.status_code == 200, response.content


# Opening, merging, canceling ----------------------------------------------------------------------


def test_publishing_opens_one_notice_for_every_graded_student_and_queues_one_job(
    client_for, teacher, test_, student, classmate, settings
):
    settings.RESULT_NOTIFY_DELAY_SECONDS = 300
    _hidden(test_)
    _grade(test_, teacher, {student.pk: Decimal("42.5"), classmate.pk: None})

    before = timezone.now()
    _publish(client_for(teacher), test_)

    notice = Notice.objects.get(test=test_)
    assert (notice.kind, notice.state) == ("published", "pending")
    assert set(notice.recipients.values_list("student_id", flat=True)) == {student.pk, classmate.pk}
    assert before + timedelta(seconds=299) < notice.send_after < timezone.now() + timedelta(seconds=301)
    [(notice_id, scheduled_at)] = _jobs()
    assert (notice_id, scheduled_at) == (str(notice.pk), notice.send_after)


def test_publishing_a_test_without_results_opens_no_notice(client_for, teacher, test_):
    _hidden(test_)
    _publish(client_for(teacher), test_)
    assert not Notice.objects.exists()
    assert _jobs() == []


def test_grades_written_while_the_results_are_visible_open_a_changed_notice(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 70}, format="json"
    )
    assert response.status_code == 201

    notice = Notice.objects.get(test=test_)
    assert notice.kind == "changed"
    assert list(notice.recipients.values_list("student_id", flat=True)) == [student.pk]


def test_grades_written_while_the_results_are_hidden_tell_no_one(client_for, teacher, test_, student):
    _hidden(test_)
    client = client_for(teacher)
    client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 70}, format="json")
    client.put(f"/api/tests/{test_.pk}/results/", [{"student": student.pk, "score": 71}], format="json")

    assert not Notice.objects.exists()
    assert _jobs() == []


def test_changes_before_the_notice_is_sent_merge_into_it(client_for, teacher, test_, student, classmate, settings):
    settings.RESULT_NOTIFY_DELAY_SECONDS = 300
    client = client_for(teacher)
    created = client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 50}, format="json")
    client.patch(f"/api/test-results/{created.json()['id']}/", {"score": 60}, format="json")
    client.put(f"/api/tests/{test_.pk}/results/", [{"student": classmate.pk, "score": 70}], format="json")

    notice = Notice.objects.get()
    assert set(notice.recipients.values_list("student_id", flat=True)) == {student.pk, classmate.pk}
    assert len(_jobs()) == 1


def test_hiding_the_results_cancels_the_pending_notice(client_for, teacher, test_, student, fake_sendgrid):
    client = client_for(teacher)
    client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 50}, format="json")

    response = client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")

    assert response.status_code == 200
    notice = Notice.objects.get()
    assert notice.state == "canceled"
    assert "hidden" in notice.reason
    notices.deliver(notice.pk)
    assert fake_sendgrid.requests == []


def test_publishing_again_after_hiding_opens_a_new_notice(client_for, teacher, test_, student):
    _grade(test_, teacher, {student.pk: Decimal(5)})
    client = client_for(teacher)
    for published in (False, True, False, True):
        client.patch(f"/api/tests/{test_.pk}/", {"results_published": published}, format="json")

    assert list(Notice.objects.order_by("id").values_list("kind", "state")) == [
        ("published", "canceled"),
        ("published", "pending"),
    ]


def test_a_rolled_back_grade_write_leaves_no_notice_and_no_job(teacher, test_, student):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.result_record(test=test_, student=student, score=Decimal(5), by=teacher)
        assert Notice.objects.count() == 1
        raise RuntimeError("the request failed after the write")

    assert not Notice.objects.exists()
    assert _jobs() == []


def test_a_refused_bulk_write_or_a_dry_run_import_leaves_no_notice(
    client_for, teacher, course, test_, student, stranger
):
    client = client_for(teacher)
    refused = client.put(
        f"/api/tests/{test_.pk}/results/",
        [{"student": student.pk, "score": 5}, {"student": stranger.pk, "score": 5}],
        format="json",
    )
    table = [["email", f"Midterm (#{test_.pk})"], [student.email, "88"]]
    dry = post_csv(client, course.pk, to_csv(table), dry_run=True)

    assert (refused.status_code, dry.status_code) == (400, 200)
    assert not Notice.objects.exists()
    assert _jobs() == []


def test_an_unchanged_score_tells_no_one(client_for, teacher, test_, student):
    _grade(test_, teacher, {student.pk: Decimal(5)})
    client_for(teacher).put(f"/api/tests/{test_.pk}/results/", [{"student": student.pk, "score": 5}], format="json")
    assert not Notice.objects.exists()


def test_a_csv_import_that_changes_visible_results_opens_a_notice(client_for, teacher, course, test_, student):
    table = [["email", f"Midterm (#{test_.pk})"], [student.email, "88"]]
    response = post_csv(client_for(teacher), course.pk, to_csv(table))

    assert response.status_code == 200, response.content
    assert list(Notice.objects.values_list("kind", flat=True)) == ["changed"]


def test_the_admins_publish_action_opens_a_notice(client_as, admin_user, teacher, test_, student):
    _grade(test_, teacher, {student.pk: Decimal(5)})
    _hidden(test_)
    response = client_as(admin_user).post(
        "/admin/grading/test/", {"action": "publish_results", "_selected_action": [test_.pk]}
    )

    assert response.status_code == 302
    assert list(Notice.objects.values_list("kind", flat=True)) == ["published"]


def test_publishing_never_waits_for_sendgrid(client_for, teacher, test_, student, fake_sendgrid):
    fake_sendgrid.fail_with("refused")
    _grade(test_, teacher, {student.pk: Decimal(5)})
    _hidden(test_)

    _publish(client_for(teacher), test_)

    assert Notice.objects.get().state == "pending"
    assert fake_sendgrid.requests == []


# Sending ----------------------------------------------------------------------------------------


def test_delivering_sends_one_request_with_a_personalized_email_per_student(
    teacher, course, test_, student, classmate, fake_sendgrid
):
    _grade(test_, teacher, {student.pk: Decimal("42.5"), classmate.pk: None})
    notice = notices.results_published(test_)

    notices.deliver(notice.pk)

    [request] = fake_sendgrid.requests
    assert request.status == 202
    assert request.custom_args == {"notice_id": str(notice.pk), "batch": "0", "send_key": f"notice-{notice.pk}-batch-0"}
    mine = {d.email: d for d in request.deliveries}
    assert set(mine) == {student.email, classmate.email}
    assert mine[student.email].subject == "Your result for Midterm in CRUD with Django"
    assert "Hello Shakuntala," in mine[student.email].text
    assert "The results of Midterm in CRUD with Django are out." in mine[student.email].text
    assert "Your result: 42.5 out of 100 (42.5%)" in mine[student.email].text
    assert "Your result: excused" in mine[classmate.email].text
    assert "http" not in mine[student.email].text
    assert mine[student.email].custom_args["student_id"] == str(student.pk)
    notice.refresh_from_db()
    assert notice.state == "sent"
    assert set(notice.recipients.values_list("state", flat=True)) == {"sent"}


def test_a_merged_change_is_sent_once_with_the_latest_score(client_for, teacher, test_, student, fake_sendgrid):
    client = client_for(teacher)
    created = client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 50}, format="json")
    client.patch(f"/api/test-results/{created.json()['id']}/", {"score": 61}, format="json")

    notices.deliver(Notice.objects.get().pk)

    [delivery] = fake_sendgrid.deliveries_to(student.email)
    assert "Your result: 61 out of 100 (61.0%)" in delivery.text
    assert "has changed" in delivery.subject


def test_students_who_turned_notifications_off_are_skipped(teacher, test_, student, classmate, fake_sendgrid):
    classmate.notify_by_email = False
    classmate.save()
    _grade(test_, teacher, {student.pk: Decimal(1), classmate.pk: Decimal(2)})
    notice = notices.results_published(test_)

    notices.deliver(notice.pk)

    assert [d.email for d in fake_sendgrid.deliveries()] == [student.email]
    assert dict(notice.recipients.values_list("student_id", "state")) == {student.pk: "sent", classmate.pk: "skipped"}


def test_a_result_deleted_before_sending_is_skipped(teacher, test_, student, classmate, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1), classmate.pk: Decimal(2)})
    notice = notices.results_published(test_)
    services.result_delete(result=TestResult.objects.get(student=classmate), by=teacher)

    notices.deliver(notice.pk)

    assert [d.email for d in fake_sendgrid.deliveries()] == [student.email]


def test_2500_students_are_three_requests_of_at_most_1000_each_address_once(teacher, course, test_, fake_sendgrid):
    pupils = _students(course, 2500)
    _grade(test_, teacher, {p.pk: Decimal(i % 100) for i, p in enumerate(pupils)})
    notice = notices.results_published(test_)

    notices.deliver(notice.pk)

    requests = fake_sendgrid.requests
    assert [len(r.deliveries) for r in requests] == [1000, 1000, 500]
    assert [r.status for r in requests] == [202, 202, 202]
    assert [r.custom_args["batch"] for r in requests] == ["0", "1", "2"]
    counts = fake_sendgrid.delivery_counts()
    assert len(counts) == 2500 and set(counts.values()) == {1}
    # The batches are the students in order of id.
    first = sorted(p.pk for p in pupils)[:1000]
    assert {int(d.custom_args["student_id"]) for d in requests[0].deliveries} == set(first)


def test_a_5xx_leaves_the_batch_queued_and_the_retry_delivers_it_once(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    fake_sendgrid.answer_next(500)

    with pytest.raises(EmailRetryLater, match="HTTP 500"):
        notices.deliver(notice.pk)
    assert notice.recipients.get().state == "queued"

    notices.deliver(notice.pk)
    assert [r.status for r in fake_sendgrid.requests] == [500, 202]
    assert fake_sendgrid.delivery_counts() == {student.email: 1}
    assert fake_sendgrid.requests[0].custom_args == fake_sendgrid.requests[1].custom_args


def test_a_429_is_retried_too(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    fake_sendgrid.answer_next(429)

    with pytest.raises(EmailRetryLater, match="HTTP 429"):
        notices.deliver(notice.pk)
    notices.deliver(notice.pk)
    assert fake_sendgrid.delivery_counts() == {student.email: 1}


def test_a_timeout_is_retried(teacher, test_, student, fake_sendgrid, settings):
    settings.SENDGRID_TIMEOUT_SECONDS = 1
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    fake_sendgrid.fail_with("timeout")

    with pytest.raises(EmailRetryLater, match="did not answer"):
        notices.deliver(notice.pk)
    assert Notice.objects.get().state == "sending"


def test_a_4xx_fails_the_notice_with_sendgrids_reason(client_for, teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    fake_sendgrid.answer_next(400)

    notices.deliver(notice.pk)

    notice.refresh_from_db()
    assert notice.state == "failed"
    assert "HTTP 400" in notice.reason and "verified Sender Identity" in notice.reason
    assert notice.recipients.get().state == "failed"
    body = client_for(teacher).get(f"/api/tests/{test_.pk}/notices/").json()
    assert body["results"][0] | {"created_at": None, "send_after": None} == {
        "id": notice.pk,
        "kind": "published",
        "created_at": None,
        "send_after": None,
        "state": "failed",
        "sent": 0,
        "failed": 1,
        "recipients": 1,
        "reason": notice.reason,
    }


def test_the_last_attempt_gives_up_and_fails_the_notice(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    fake_sendgrid.fail_with("500")

    notices.deliver(notice.pk, last_attempt=True)

    notice.refresh_from_db()
    assert notice.state == "failed"
    assert "gave up" in notice.reason


def test_a_notice_hidden_after_it_was_queued_is_canceled_when_taken(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    Test = type(test_)
    Test.objects.filter(pk=test_.pk).update(results_published=False)  # hidden behind the service's back

    notices.deliver(notice.pk)

    assert Notice.objects.get().state == "canceled"
    assert fake_sendgrid.requests == []


def _taken(notice, fake_sendgrid):
    """Let the worker take the notice and fail its first batch (SendGrid answers 500 once): a retry is due."""
    fake_sendgrid.answer_next(500)
    with pytest.raises(EmailRetryLater):
        notices.deliver(notice.pk)
    assert Notice.objects.get(pk=notice.pk).state == "sending"


def test_hiding_the_results_stops_a_notice_the_worker_already_took(client_for, teacher, test_, student, fake_sendgrid):
    client = client_for(teacher)
    created = client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 70}, format="json")
    notice = Notice.objects.get()
    _taken(notice, fake_sendgrid)

    hidden = client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")
    changed = client.patch(f"/api/test-results/{created.json()['id']}/", {"score": 12}, format="json")
    notices.deliver(notice.pk)

    assert (hidden.status_code, changed.status_code) == (200, 200)
    assert client_for(student).get(f"/api/test-results/{created.json()['id']}/").status_code == 404
    assert fake_sendgrid.deliveries() == []
    notice.refresh_from_db()
    assert notice.state == "canceled"
    assert "hidden" in notice.reason
    assert list(notice.recipients.values_list("state", flat=True)) == ["canceled"]


def test_hiding_the_results_between_batches_cancels_the_rest_and_keeps_the_sent_ones_counted(
    client_for, teacher, course, test_, fake_sendgrid, settings
):
    settings.NOTIFY_BATCH_SIZE = 2
    pupils = _students(course, 5)
    _grade(test_, teacher, {p.pk: Decimal(i) for i, p in enumerate(pupils)})
    notice = notices.results_published(test_)
    fake_sendgrid.answer_next(202, 500)  # batch 0 goes out, batch 1 is to be retried
    with pytest.raises(EmailRetryLater):
        notices.deliver(notice.pk)

    client = client_for(teacher)
    client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")
    notices.deliver(notice.pk)

    assert len(fake_sendgrid.deliveries()) == 2
    [row] = client.get(f"/api/tests/{test_.pk}/notices/").json()["results"]
    assert (row["state"], row["recipients"], row["sent"], row["failed"]) == ("canceled", 5, 2, 0)
    assert "hidden" in row["reason"]


def test_a_batch_is_not_sent_once_the_results_are_hidden_whatever_hid_them(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    _taken(notice, fake_sendgrid)
    type(test_).objects.filter(pk=test_.pk).update(results_published=False)  # behind the service's back

    notices.deliver(notice.pk)

    assert fake_sendgrid.deliveries() == []
    notice.refresh_from_db()
    assert notice.state == "canceled" and "hidden" in notice.reason


def test_a_student_who_can_no_longer_read_the_result_when_the_batch_goes_is_not_emailed(
    teacher, course, test_, fake_sendgrid
):
    left, opted_out, deleted, deactivated, stays = _students(course, 5)
    _grade(test_, teacher, {s.pk: Decimal(10) for s in (left, opted_out, deleted, deactivated, stays)})
    notice = notices.results_published(test_)
    _taken(notice, fake_sendgrid)

    Enrollment.objects.filter(user=left, course=course).delete()
    opted_out.notify_by_email = False
    opted_out.save()
    services.result_delete(result=TestResult.objects.get(test=test_, student=deleted), by=teacher)
    deactivated.is_active = False
    deactivated.save()
    notices.deliver(notice.pk)

    assert [d.email for d in fake_sendgrid.deliveries()] == [stays.email]
    assert dict(notice.recipients.values_list("student_id", "state")) == {
        left.pk: "skipped",
        opted_out.pk: "skipped",
        deleted.pk: "skipped",
        deactivated.pk: "skipped",
        stays.pk: "sent",
    }
    assert Notice.objects.get().state == "sent"


def test_publishing_again_after_hiding_a_taken_notice_sends_a_fresh_one(
    client_for, teacher, test_, student, fake_sendgrid
):
    _grade(test_, teacher, {student.pk: Decimal(7)})
    notice = notices.results_published(test_)
    _taken(notice, fake_sendgrid)
    client = client_for(teacher)
    client.patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")
    client.patch(f"/api/tests/{test_.pk}/", {"results_published": True}, format="json")

    for pk in Notice.objects.order_by("id").values_list("pk", flat=True):
        notices.deliver(pk)

    assert list(Notice.objects.order_by("id").values_list("state", flat=True)) == ["canceled", "sent"]
    [delivery] = fake_sendgrid.deliveries()
    assert "Your result: 7 out of 100 (7.0%)" in delivery.text


def test_delivering_a_sent_notice_again_sends_nothing(teacher, test_, student, fake_sendgrid):
    _grade(test_, teacher, {student.pk: Decimal(1)})
    notice = notices.results_published(test_)
    notices.deliver(notice.pk)
    notices.deliver(notice.pk)

    assert len(fake_sendgrid.requests) == 1


def test_a_change_after_the_notice_was_taken_opens_the_next_one(teacher, test_, student, fake_sendgrid):
    result = services.result_record(test=test_, student=student, score=Decimal(1), by=teacher)
    first = Notice.objects.get()
    notices.deliver(first.pk)
    services.result_update(result=result, score=Decimal(2), by=teacher)

    assert list(Notice.objects.order_by("id").values_list("state", flat=True)) == ["sent", "pending"]


def test_without_a_sendgrid_key_the_emails_go_to_the_log(teacher, test_, student, settings, caplog):
    settings.SENDGRID_API_KEY = None
    _grade(test_, teacher, {student.pk: Decimal(7)})
    notice = notices.results_published(test_)

    with caplog.at_level("INFO", logger="accounts.email"):
        notices.deliver(notice.pk)

    assert "Your result: 7 out of 100 (7.0%)" in caplog.text
    assert Notice.objects.get().state == "sent"


def test_a_course_name_that_looks_like_a_tag_is_sent_as_written(teacher, course, test_, student, fake_sendgrid):
    course.name = "Tags like {{result}} and {{name}}"
    course.save()
    _grade(test_, teacher, {student.pk: Decimal(3)})
    notices.deliver(notices.results_published(test_).pk)

    [delivery] = fake_sendgrid.deliveries()
    assert "Midterm in Tags like {{result}} and {{name}} are out" in delivery.text


# Control and line-separator characters (Cc, Cf, Zl, Zp): each is a way to break a line or hide
# text in a mail client. Tab, vertical tab, form feed, the file/group/record separators, NEL,
# C1 controls, DEL, the Unicode line and paragraph separators, bidi overrides and isolates, a BOM.
UNPRINTABLE = "\t\x0b\x0c\x1c\x1d\x1e\x1f\x7f\x85\x9b\u2028\u2029\u202e\u2066\u200b\ufeff\r\n"


def test_names_reach_the_email_without_control_or_line_separator_characters(
    teacher, course, test_, student, fake_sendgrid
):
    student.first_name = f"Sha{UNPRINTABLE}kuntala"
    student.save()
    course.name = f"CRUD{UNPRINTABLE}with Django"
    course.save()
    test_.name = f"Mid{UNPRINTABLE}term"
    test_.save()
    _grade(test_, teacher, {student.pk: Decimal(3)})

    notices.deliver(notices.results_published(test_).pk)

    [delivery] = fake_sendgrid.deliveries()
    for text in (delivery.subject, delivery.text):
        assert not set(UNPRINTABLE) - {"\n"} & set(text)
    assert delivery.subject == "Your result for Mid term in CRUD with Django"
    assert delivery.text.startswith("Hello Sha kuntala,\n\nThe results of Mid term in CRUD with Django are out.\n")
    # The template's own line breaks are the only ones.
    assert delivery.text.count("\n") == TEMPLATE_LINES


TEMPLATE_LINES = notices.TEXT["published"].count("\n")


# Reading -----------------------------------------------------------------------------------------


def test_the_notices_list_counts_each_notice_newest_first(
    client_for, teacher, test_, student, classmate, fake_sendgrid
):
    classmate.notify_by_email = False
    classmate.save()
    _grade(test_, teacher, {student.pk: Decimal(1), classmate.pk: Decimal(2)})
    sent = notices.results_published(test_)
    notices.deliver(sent.pk)
    services.result_update(result=TestResult.objects.get(student=student), score=Decimal(3), by=teacher)

    response = client_for(teacher).get(f"/api/tests/{test_.pk}/notices/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(n["kind"], n["state"], n["recipients"], n["sent"], n["failed"]) for n in body["results"]] == [
        ("changed", "pending", 1, 0, 0),
        ("published", "sent", 1, 1, 0),
    ]


def test_students_may_not_read_the_notices(client_for, student, test_):
    assert client_for(student).get(f"/api/tests/{test_.pk}/notices/").status_code == 403


def test_the_notices_list_runs_the_same_queries_for_1_and_30_notices(client_for, teacher, test_, student):
    from django.test.utils import CaptureQueriesContext

    client = client_for(teacher)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/api/tests/{test_.pk}/notices/?page_size=100").status_code == 200
        return len(queries)

    Notice.objects.create(test=test_, kind="changed", state="sent", send_after=timezone.now())
    one = count()
    Notice.objects.bulk_create(
        [Notice(test=test_, kind="changed", state="sent", send_after=timezone.now()) for _ in range(29)]
    )
    NoticeRecipient.objects.bulk_create(
        [NoticeRecipient(notice=n, student=student, state="sent") for n in Notice.objects.all()]
    )
    assert count() == one
