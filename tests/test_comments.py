"""Comments on a student's work: who reads and writes them, hidden while results are, and the emails."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grading import comments
from grading.models import Comment, Test

pytestmark = pytest.mark.django_db


def thread_url(test, student):
    return f"/api/tests/{test.pk}/students/{student.pk}/comments/"


def _jobs() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT args->>'test_id' FROM procrastinate_jobs WHERE task_name = 'deliver_comments'")
        return [row[0] for row in cursor.fetchall()]


def test_a_teacher_comments_and_both_read_the_thread_oldest_first(client_for, teacher, student, test_):
    response = client_for(teacher).post(thread_url(test_, student), {"body": "Cite your sources."}, format="json")
    assert response.status_code == 201
    body = response.json()
    comment = Comment.objects.get()
    assert body == {
        "id": comment.pk,
        "author": {"id": teacher.pk, "email": teacher.email, "first_name": "Grace", "last_name": "Bell"},
        "body": "Cite your sources.",
        "created_at": body["created_at"],
    }
    client_for(student).post(thread_url(test_, student), {"body": "Done, thanks."}, format="json")
    for user in (teacher, student):
        listed = client_for(user).get(thread_url(test_, student)).json()
        assert listed["count"] == 2
        assert [row["body"] for row in listed["results"]] == ["Cite your sources.", "Done, thanks."]


@pytest.mark.parametrize("who", ["classmate", "stranger", "other_teacher"])
def test_anyone_else_is_refused(client_for, request, student, test_, who):
    client = client_for(request.getfixturevalue(who))
    assert client.get(thread_url(test_, student)).status_code == 403
    assert client.post(thread_url(test_, student), {"body": "Hi"}, format="json").status_code == 403
    assert not Comment.objects.exists()


def test_a_thread_of_someone_not_a_student_of_the_course_is_a_404(client_for, teacher, stranger, test_):
    assert client_for(teacher).get(thread_url(test_, stranger)).status_code == 404


@pytest.mark.parametrize("body", [{}, {"body": ""}, {"body": "  "}, {"body": "x" * 10_001}, {"body": 1}])
def test_a_missing_blank_or_too_long_comment_is_a_400(client_for, teacher, student, test_, body):
    response = client_for(teacher).post(thread_url(test_, student), body, format="json")
    assert response.status_code == 400 and list(response.json()) == ["body"]
    assert not Comment.objects.exists()


def test_teachers_comments_are_hidden_from_the_student_while_the_results_are(
    client_for, teacher, student, test_, fake_sendgrid
):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    client_for(teacher).post(thread_url(test_, student), {"body": "Draft feedback."}, format="json")
    client_for(student).post(thread_url(test_, student), {"body": "My question."}, format="json")
    assert [r["body"] for r in client_for(student).get(thread_url(test_, student)).json()["results"]] == [
        "My question."
    ]
    assert client_for(teacher).get(thread_url(test_, student)).json()["count"] == 2
    assert Comment.objects.get(author=teacher).email_state == "held"
    comments.deliver(test_.pk)
    assert fake_sendgrid.requests == []
    # Publishing shows them and queues their email.
    client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"results_published": True}, format="json")
    assert client_for(student).get(thread_url(test_, student)).json()["count"] == 2
    assert Comment.objects.get(author=teacher).email_state == "queued"
    assert _jobs() == [str(test_.pk)]
    comments.deliver(test_.pk)
    [delivery] = fake_sendgrid.deliveries_to(student.email)
    assert "Draft feedback." in delivery.text and "My question." not in delivery.text


def test_hiding_the_results_again_holds_a_comment_not_emailed_yet(client_for, teacher, student, test_, fake_sendgrid):
    client_for(teacher).post(thread_url(test_, student), {"body": "Good."}, format="json")
    client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"results_published": False}, format="json")
    comments.deliver(test_.pk)
    assert fake_sendgrid.requests == []
    assert client_for(student).get(thread_url(test_, student)).json()["count"] == 0


def test_a_teachers_comment_is_emailed_once_batched_by_student(
    client_for, teacher, student, classmate, test_, fake_sendgrid
):
    client = client_for(teacher)
    client.post(thread_url(test_, student), {"body": "First point."}, format="json")
    client.post(thread_url(test_, student), {"body": "Second point."}, format="json")
    client.post(thread_url(test_, classmate), {"body": "For you."}, format="json")
    comments.deliver(test_.pk)
    comments.deliver(test_.pk)  # again: nothing is sent twice
    [request] = fake_sendgrid.requests
    mine = {d.email: d for d in request.deliveries}
    assert set(mine) == {student.email, classmate.email}
    assert mine[student.email].text.index("First point.") < mine[student.email].text.index("Second point.")
    assert "Grace Bell wrote:" in mine[student.email].text
    assert mine[student.email].subject == "New comment on your work for Midterm in CRUD with Django"
    assert set(Comment.objects.values_list("email_state", flat=True)) == {"sent"}


def test_a_comment_is_held_for_the_notice_delay(client_for, teacher, student, test_, fake_sendgrid, settings):
    settings.RESULT_NOTIFY_DELAY_SECONDS = 300
    before = timezone.now()
    client_for(teacher).post(thread_url(test_, student), {"body": "Later."}, format="json")
    comment = Comment.objects.get()
    assert comment.send_after >= before + timedelta(seconds=300)
    comments.deliver(test_.pk)
    assert fake_sendgrid.requests == []
    Comment.objects.update(send_after=timezone.now())
    comments.deliver(test_.pk)
    assert len(fake_sendgrid.deliveries_to(student.email)) == 1


def test_notifications_off_and_the_students_own_comments_send_nothing(
    client_for, teacher, student, classmate, test_, fake_sendgrid
):
    classmate.notify_by_email = False
    classmate.save()
    client_for(teacher).post(thread_url(test_, classmate), {"body": "Quiet."}, format="json")
    client_for(student).post(thread_url(test_, student), {"body": "Mine."}, format="json")
    comments.deliver(test_.pk)
    assert fake_sendgrid.requests == []
    assert dict(Comment.objects.values_list("body", "email_state")) == {"Quiet.": "skipped", "Mine.": "none"}


def test_a_5xx_leaves_the_comment_queued_for_the_retry(client_for, teacher, student, test_, fake_sendgrid):
    from accounts.email import EmailRetryLater

    client_for(teacher).post(thread_url(test_, student), {"body": "Retry me."}, format="json")
    fake_sendgrid.answer_next(500)
    with pytest.raises(EmailRetryLater):
        comments.deliver(test_.pk)
    assert Comment.objects.get().email_state == "queued"
    comments.deliver(test_.pk)
    assert [r.status for r in fake_sendgrid.requests] == [500, 202]
    assert fake_sendgrid.delivery_counts() == {student.email: 1}


def test_the_thread_runs_the_same_queries_at_two_sizes(client_for, teacher, student, test_):
    client = client_for(teacher)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(thread_url(test_, student)).status_code == 200
        return len(queries)

    Comment.objects.create(test=test_, student=student, author=teacher, body="one")
    small = count()
    Comment.objects.bulk_create([Comment(test=test_, student=student, author=None, body=str(i)) for i in range(30)])
    assert count() == small
