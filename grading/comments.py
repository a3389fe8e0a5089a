"""Comments on a student's work on a test, and the emails telling the student of a teacher's comment.

- A comment is by the student themself or by someone else (a teacher of the course, an admin). The
  student is emailed of every comment that is not their own, by the worker, never in the request.
- While the test's results are hidden, a comment by someone else is ``held``: the student doesn't see
  it and isn't emailed. Publishing the results queues the held comments; hiding them again holds
  the queued ones back (those sent stay sent).
- A queued comment waits ``RESULT_NOTIFY_DELAY_SECONDS`` (its ``send_after``): the job deferred with
  the first comment queued takes every comment of the test queued by then whose time has come, one
  email per student (their comments together, oldest first), ``NOTIFY_BATCH_SIZE`` students to a
  SendGrid request. Each batch is read, sent and marked sent in one transaction holding its comments'
  rows, so a second worker waits and then finds them sent: never twice. A student who, when their
  batch goes, is no longer a student of the course, is inactive or turned ``notify_by_email`` off is
  ``skipped``; a comment held again or deleted meanwhile isn't sent.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.email import EmailRejected, EmailRetryLater, Personalization, send_batch
from courses.models import Enrollment, Role
from grading.models import Comment, Test
from grading.notices import one_line

logger = logging.getLogger(__name__)

State = Comment.EmailState

# A comment's length after trimming: 1 to this many characters (the API's and the admin's forms).
COMMENT_MAX = 10_000


def comment_create(*, test: Test, student_id: int, author, body: str) -> Comment:
    """A comment on ``student_id``'s work, by ``author``: emailed to the student when it isn't theirs
    (held while the test's results are hidden). The caller checked who may comment."""
    with transaction.atomic():
        state = State.NONE
        send_after = None
        if author.pk != student_id:
            published = Test.objects.filter(pk=test.pk).values_list("results_published", flat=True).first()
            state = State.QUEUED if published else State.HELD
        if state == State.QUEUED:
            send_after = timezone.now() + timedelta(seconds=settings.RESULT_NOTIFY_DELAY_SECONDS)
        comment = Comment.objects.create(
            test=test, student_id=student_id, author=author, body=body, email_state=state, send_after=send_after
        )
        if state == State.QUEUED:
            _defer(test.pk, send_after)
        return comment


def results_published(test: Test) -> int:
    """The test's results became visible: its held comments are queued (in the publishing transaction)."""
    send_after = timezone.now() + timedelta(seconds=settings.RESULT_NOTIFY_DELAY_SECONDS)
    count = Comment.objects.filter(test_id=test.pk, email_state=State.HELD).update(
        email_state=State.QUEUED, send_after=send_after
    )
    if count:
        _defer(test.pk, send_after)
    return count


def results_hidden(test: Test) -> int:
    """The test's results were hidden: its comments not emailed yet are held again. A batch being
    sent holds its rows: this waits for it, then holds what is left."""
    queued = Comment.objects.select_for_update().filter(test_id=test.pk, email_state=State.QUEUED)
    ids = list(queued.values_list("pk", flat=True))
    return Comment.objects.filter(pk__in=ids, email_state=State.QUEUED).update(email_state=State.HELD)


def visible_to_student_filter(test: Test) -> Q:
    """The comments a student reads of their own thread: all of them while the test's results are
    published, else only their own."""
    return Q() if test.results_published else Q(email_state=State.NONE)


def _defer(test_id: int, send_after) -> None:
    from grading.tasks import deliver_comments

    deliver_comments.configure(schedule_at=send_after).defer(test_id=test_id)


# Sending: the worker ------------------------------------------------------------------------------


def deliver(test_id: int, *, last_attempt: bool = False) -> None:
    """Email the test's queued comments whose time has come, batch by batch. Safe to run again and
    side by side: a batch marked sent is never sent again."""
    while True:
        try:
            if not _send_batch(test_id):
                return
        except EmailRejected as exc:
            _fail(test_id, str(exc))
            return
        except EmailRetryLater as exc:
            if last_attempt:
                _fail(test_id, str(exc))
                return
            logger.warning("Comments of test %s not sent, will retry: %s", test_id, exc)
            raise


def _may_be_told(test: Test) -> Q:
    is_student = Exists(
        Enrollment.objects.filter(course_id=test.course_id, user_id=OuterRef("student_id"), role=Role.STUDENT)
    )
    return Q(student__notify_by_email=True, student__is_active=True) & is_student


def _send_batch(test_id: int) -> bool:
    """Send one batch of students' comments and mark them sent, in one transaction. False when none is left."""
    with transaction.atomic():
        test = Test.objects.select_related("course").filter(pk=test_id).first()
        if test is None or not test.results_published:
            return False
        due = Comment.objects.filter(test_id=test_id, email_state=State.QUEUED, send_after__lte=timezone.now())
        student_ids = list(
            due.order_by("student_id").values_list("student_id", flat=True).distinct()[: settings.NOTIFY_BATCH_SIZE]
        )
        if not student_ids:
            return False
        rows = list(
            due.select_for_update(of=("self",))
            .filter(student_id__in=student_ids)
            .select_related("student", "author")
            .order_by("student_id", "created_at", "id")
        )
        # Locked, each row is checked again against the filter: another worker's sent rows drop out.
        if not rows:
            return True
        told = set(
            Comment.objects.filter(pk__in=[row.pk for row in rows])
            .filter(_may_be_told(test))
            .values_list("pk", flat=True)
        )
        personalizations = []
        for _student, group in groupby((row for row in rows if row.pk in told), key=lambda row: row.student_id):
            comments = list(group)
            personalizations.append(_personalization(test, comments[0].student, comments))
        if personalizations:
            send_batch(
                subject=SUBJECT,
                text=TEXT,
                personalizations=personalizations,
                custom_args={"send_key": f"comments-{test_id}-{min(row.pk for row in rows)}"},
            )
        now = timezone.now()
        Comment.objects.filter(pk__in=told).update(email_state=State.SENT, sent_at=now)
        Comment.objects.filter(pk__in=[row.pk for row in rows]).exclude(pk__in=told).update(email_state=State.SKIPPED)
    logger.info("Comments of test %s: emailed %s students", test_id, len(personalizations))
    return True


def _fail(test_id: int, reason: str) -> None:
    logger.error("Comments of test %s failed: %s", test_id, reason)
    Comment.objects.filter(test_id=test_id, email_state=State.QUEUED, send_after__lte=timezone.now()).update(
        email_state=State.FAILED
    )


SUBJECT = "New comment on your work for {{test}} in {{course}}"
TEXT = (
    "Hello {{name}},\n"
    "\n"
    "{{comments}}\n"
    "\n"
    "Sign in to reply. You get these emails because notifications are on in your profile; turn them "
    "off there to stop them.\n"
)


def _personalization(test: Test, student, comments: list[Comment]) -> Personalization:
    parts = []
    for comment in comments:
        author = comment.author
        name = one_line(f"{author.first_name} {author.last_name}") if author is not None else ""
        parts.append(f"{name or 'Your teacher'} wrote:\n{comment.body}")
    return Personalization(
        email=student.email,
        substitutions={
            "{{name}}": one_line(student.first_name) or student.email,
            "{{course}}": one_line(test.course.name),
            "{{test}}": one_line(test.name),
            "{{comments}}": "\n\n".join(parts),
        },
        custom_args={"student_id": str(student.pk)},
    )
