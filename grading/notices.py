"""Result notices: emailing students about their results, from the worker, each student once.

The rule: nothing a student could not read through the API at the moment their email goes is in it.

Opening (``results_published``, ``results_changed``, ``results_hidden``) is called by the grade
service inside the transaction of the change itself, so a rolled-back change leaves no notice and a
committed one can't lose its notice. A test has at most one ``pending`` notice: the first change
opens it (and defers its one job, to run at ``send_after``, ``RESULT_NOTIFY_DELAY_SECONDS`` later);
changes until the worker takes it only add students to it. Hiding the results cancels the test's
notice that is not sent yet, pending or taken (its students not emailed yet are ``canceled``).

Sending (``deliver``) is the worker's job, run by ``grading.tasks``:

1. *Take* the notice (one short transaction, the notice's row locked): skip the students who may
   not be told (``_may_be_told``: notifications off, result gone, no longer a student of the
   course, account deactivated), and fix the rest into batches: the students in order of id,
   ``NOTIFY_BATCH_SIZE`` (1,000) to a batch. The batches are a function of the notice from then on.
2. *Send* each batch that isn't sent yet, each in its own transaction: lock the batch's rows, then
   read everything the emails say: the test (its results hidden: nothing is sent and the rest of the
   notice is canceled), which of the batch's students may still be told (the others are skipped),
   and their current results (a change merged into the notice is sent with its latest score); make
   one SendGrid request, and mark the rows sent in the same transaction. A second worker on the same
   batch waits for the row locks and then finds nothing left to send; so does a hide, which then
   cancels what is still queued.
3. SendGrid's 429/5xx/timeouts leave the batch queued and raise ``EmailRetryLater``: the job is
   retried with backoff. Any other 4xx fails the notice with SendGrid's reason.

The window left: a worker that dies after SendGrid accepted a batch and before its transaction
commits leaves that batch queued, and the retry sends it again (to those of its students who may
still be told, with their results as they are then) with the same ``custom_args`` (``notice_id``,
``batch``, ``send_key``) so SendGrid's event data tells the copies apart. The window is one HTTP
response and one commit long.
"""

from __future__ import annotations

import logging
import unicodedata
from datetime import timedelta
from itertools import groupby

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from accounts.email import EmailRejected, EmailRetryLater, Personalization, send_batch
from courses.models import Enrollment, Role
from grading.models import Notice, NoticeRecipient, Test, TestResult, percent_of

logger = logging.getLogger(__name__)

Kind = Notice.Kind
State = Notice.State
Recipient = NoticeRecipient.State


# Opening, merging, canceling: inside the grade service's transactions ---------------------------


def results_published(test: Test) -> Notice | None:
    """The test's results became visible: every student with a result hears of it."""
    if not TestResult.objects.filter(test=test).exists():
        return None
    notice = _pending_notice(test, Kind.PUBLISHED)
    table = NoticeRecipient._meta.db_table
    results = TestResult._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (notice_id, student_id, state) "  # noqa: S608
            f"SELECT %s, student_id, %s FROM {results} WHERE test_id = %s "
            "ON CONFLICT (notice_id, student_id) DO NOTHING",
            [notice.pk, Recipient.QUEUED.value, test.pk],
        )
    return notice


def results_changed(test: Test, student_ids) -> Notice | None:
    """These students' results of a test whose results are visible changed: they will hear of it."""
    student_ids = sorted(set(student_ids))
    if not student_ids:
        return None
    notice_id = _join_pending(test.pk, student_ids)
    if notice_id is not None:
        return Notice(pk=notice_id, test=test, state=State.PENDING)
    notice = _pending_notice(test, Kind.CHANGED)
    NoticeRecipient.objects.bulk_create(
        [NoticeRecipient(notice=notice, student_id=student_id) for student_id in student_ids],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return notice


def results_hidden(test: Test) -> int:
    """The test's results were hidden again: its notice that is not sent yet (pending, or taken by
    the worker and partly sent) is canceled, and its students not emailed yet with it. How many were.

    The notice's row first, then its students' rows, as the worker locks them: a batch the worker is
    sending holds the notice's row (shared) and its students' rows, so this waits for that one
    request to end (``SENDGRID_TIMEOUT_SECONDS`` at most) and then finds its students sent, or still
    queued and cancels them; the worker's next batch waits for this in turn and finds nothing queued.
    Once the change that hides the results commits, no further email about them goes out.
    """
    open_ids = list(
        Notice.objects.select_for_update()
        .filter(test=test, state__in=(State.PENDING, State.SENDING))
        .values_list("pk", flat=True)
    )
    if not open_ids:
        return 0
    _cancel(open_ids, "The results were hidden again before the notice was sent.")
    return len(open_ids)


def _cancel(notice_ids: list[int], reason: str) -> None:
    """Cancel these notices and their students not emailed yet (the notices' rows already locked)."""
    Notice.objects.filter(pk__in=notice_ids).update(state=State.CANCELED, finished_at=timezone.now(), reason=reason)
    NoticeRecipient.objects.filter(notice_id__in=notice_ids, state=Recipient.QUEUED).update(state=Recipient.CANCELED)


def pending_sql(test: str) -> str:
    """SQL selecting the ``id`` of the pending notice of the test whose id ``test`` (SQL) is, if it
    has one, share-locked as in ``_pending_notice``: if the worker is taking it, this waits, finds
    it no longer pending and selects nothing."""
    table = connection.ops.quote_name(Notice._meta.db_table)
    return f"SELECT n.id FROM {table} n WHERE n.test_id = {test} AND n.state = '{State.PENDING.value}' FOR SHARE OF n"  # noqa: S608


def join_sql(pending: str, students: str) -> str:
    """SQL adding students to a pending notice: ``pending`` names rows of ``pending_sql`` (a CTE),
    ``students`` a ``FROM`` item with a ``student_id`` column (students already on it stay once)."""
    table = connection.ops.quote_name(NoticeRecipient._meta.db_table)
    return (
        f"INSERT INTO {table} (notice_id, student_id, state) "  # noqa: S608
        f"SELECT {pending}.id, student_id, '{Recipient.QUEUED.value}' FROM {pending}, {students} "
        "ON CONFLICT (notice_id, student_id) DO NOTHING"
    )


def _join_pending(test_id: int, student_ids: list[int]) -> int | None:
    """Add the students to the test's pending notice, if it has one, in one statement: the common
    case, a grade written while a notice is open. The id of that notice, or None (none is pending,
    or the worker took it meanwhile)."""
    pending = pending_sql("%s")
    joined = join_sql("pending", "unnest(%s::bigint[]) AS student_id")
    sql = f"WITH pending AS ({pending}), joined AS ({joined}) SELECT id FROM pending"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [test_id, student_ids])
        row = cursor.fetchone()
    return row[0] if row else None


def _pending_notice(test: Test, kind: str) -> Notice:
    """The test's pending notice, opened (and its job deferred) when there is none; an existing one
    is locked against being taken until this transaction ends. Two queries either way.

    At most one notice per test is pending (a partial unique index): the insert does nothing when
    there is one already, and of two transactions opening one at once, the second waits for the
    first and then finds its notice. The lock is shared: graders of one test merge side by side,
    while the worker's take (an exclusive lock) waits for them, so no student is added to a notice
    already taken; a notice taken meanwhile is no longer pending, and the next turn opens another.
    """
    table = connection.ops.quote_name(Notice._meta.db_table)
    for _ in range(3):
        send_after = timezone.now() + timedelta(seconds=settings.RESULT_NOTIFY_DELAY_SECONDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (test_id, kind, state, created_at, send_after, reason) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, '') ON CONFLICT DO NOTHING RETURNING id",
                [test.pk, kind, State.PENDING.value, timezone.now(), send_after],
            )
            row = cursor.fetchone()
        if row is not None:
            notice = Notice(pk=row[0], test=test, kind=kind, state=State.PENDING, send_after=send_after)
            _defer_delivery(notice)
            return notice
        notice = _locked_pending(test.pk)
        if notice is not None:
            return notice
    raise RuntimeError(f"could not open a notice for test {test.pk}")  # pragma: no cover


def _locked_pending(test_id: int) -> Notice | None:
    rows = list(
        Notice.objects.raw(
            f"SELECT * FROM {Notice._meta.db_table} WHERE test_id = %s AND state = %s FOR SHARE",  # noqa: S608
            [test_id, State.PENDING.value],
        )
    )
    return rows[0] if rows else None


def _defer_delivery(notice: Notice) -> None:
    """Queue the notice's job for ``send_after``, in the current transaction."""
    from grading.tasks import deliver_notice

    deliver_notice.configure(schedule_at=notice.send_after).defer(notice_id=notice.pk)


# Sending: the worker ------------------------------------------------------------------------------


def deliver(notice_id: int, *, last_attempt: bool = False) -> None:
    """Send a notice's emails: every batch not sent yet. Safe to run again, and side by side."""
    notice = _take(notice_id)
    if notice is None:
        return
    batches = (
        NoticeRecipient.objects.filter(notice=notice, state=Recipient.QUEUED)
        .values_list("batch", flat=True)
        .distinct()
        .order_by("batch")
    )
    for batch in list(batches):
        try:
            if not _send(notice, batch):
                _hidden_meanwhile(notice)
                return
        except EmailRejected as exc:
            _fail(notice, str(exc))
            return
        except EmailRetryLater as exc:
            if last_attempt:
                _fail(notice, f"{exc}; gave up after {settings.NOTIFY_MAX_ATTEMPTS} attempts.")
                return
            logger.warning("Notice %s: batch %s not sent, will retry: %s", notice.pk, batch, exc)
            raise
    _finish(notice)


def _may_be_told(test: Test) -> Q:
    """Which of a notice's students may hear about their result of ``test`` now (a filter of its
    recipients): those who could read it through the API (they still have the result, are still a
    student of the course, their account is active; the test's results are published, checked apart)
    and keep notifications on."""
    has_result = Exists(TestResult.objects.filter(test_id=test.pk, student_id=OuterRef("student_id")))
    is_student = Exists(
        Enrollment.objects.filter(course_id=test.course_id, user_id=OuterRef("student_id"), role=Role.STUDENT)
    )
    return Q(student__notify_by_email=True, student__is_active=True) & has_result & is_student


def _take(notice_id: int) -> Notice | None:
    """Lock the notice and, if still pending, fix its recipients and batches. None if nothing is left to do."""
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",)).select_related("test__course").filter(pk=notice_id).first()
        )
        if notice is None or notice.state not in (State.PENDING, State.SENDING):
            return None
        if notice.state == State.SENDING:
            return notice
        if not notice.test.results_published:
            _cancel([notice.pk], HIDDEN)
            return None
        queued = NoticeRecipient.objects.filter(notice=notice, state=Recipient.QUEUED)
        queued.exclude(_may_be_told(notice.test)).update(state=Recipient.SKIPPED)
        student_ids = list(queued.order_by("student_id").values_list("student_id", flat=True))
        size = settings.NOTIFY_BATCH_SIZE
        for batch, start in enumerate(range(0, len(student_ids), size)):
            chunk = student_ids[start : start + size]
            queued.filter(student_id__gte=chunk[0], student_id__lte=chunk[-1]).update(batch=batch)
        notice.state = State.SENDING
        notice.save(update_fields=["state"])
        return notice


HIDDEN = "The results are hidden."


def _send(notice: Notice, batch: int) -> bool:
    """Send one batch and record it as sent, in one transaction; nothing recorded if it raises.

    Everything the emails say is read in that transaction, after the batch's rows are locked: the
    test (False, nothing sent, when its results are hidden), each student's current result, whether
    they may still hear of it (``_may_be_told``; the others are skipped). A notice canceled by hiding
    the results has no queued rows left. The notice's row is share-locked first: a hide that comes
    while a batch is being sent (``results_hidden`` locks that row to update it) waits for the batch,
    and the next batch waits for the hide, which has canceled its rows by then. Two workers on one
    notice share that lock and take turns on the batch's rows.
    """
    with transaction.atomic():
        _share_lock(notice)
        pks = list(
            NoticeRecipient.objects.select_for_update()
            .filter(notice=notice, batch=batch, state=Recipient.QUEUED)
            .order_by("student_id")
            .values_list("pk", flat=True)
        )
        if not pks:
            return True  # sent by another worker meanwhile, or canceled
        test = Test.objects.select_related("course").filter(pk=notice.test_id).first()
        if test is None or not test.results_published:
            return False
        to_send = list(
            NoticeRecipient.objects.filter(pk__in=pks)
            .filter(_may_be_told(test))
            .select_related("student")
            .order_by("student_id")
        )
        results = {
            r.student_id: r
            for r in TestResult.objects.filter(test=test, student_id__in=[row.student_id for row in to_send])
        }
        to_send = [row for row in to_send if row.student_id in results]
        if to_send:
            send_batch(
                subject=SUBJECT[notice.kind],
                text=TEXT[notice.kind],
                personalizations=[_personalization(test, row.student, results[row.student_id]) for row in to_send],
                custom_args={
                    "notice_id": str(notice.pk),
                    "batch": str(batch),
                    "send_key": f"notice-{notice.pk}-batch-{batch}",
                },
            )
        sent = [row.pk for row in to_send]
        NoticeRecipient.objects.filter(pk__in=sent).update(state=Recipient.SENT, sent_at=timezone.now())
        NoticeRecipient.objects.filter(pk__in=pks).exclude(pk__in=sent).update(state=Recipient.SKIPPED)
    logger.info("Notice %s: batch %s sent to %s students", notice.pk, batch, len(to_send))
    return True


def _share_lock(notice: Notice) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {connection.ops.quote_name(Notice._meta.db_table)} WHERE id = %s FOR SHARE",  # noqa: S608
            [notice.pk],
        )


def _hidden_meanwhile(notice: Notice) -> None:
    """The test's results were hidden while the notice was being sent: cancel what is left of it."""
    with transaction.atomic():
        if Notice.objects.select_for_update().filter(pk=notice.pk, state=State.SENDING).exists():
            _cancel([notice.pk], HIDDEN)
    logger.info("Notice %s: canceled, the results were hidden", notice.pk)


def _finish(notice: Notice) -> None:
    Notice.objects.filter(pk=notice.pk, state=State.SENDING).update(state=State.SENT, finished_at=timezone.now())


def _fail(notice: Notice, reason: str) -> None:
    """Fail the notice, unless it was canceled meanwhile (the results hidden while its batch was refused)."""
    logger.error("Notice %s failed: %s", notice.pk, reason)
    with transaction.atomic():
        if Notice.objects.filter(pk=notice.pk, state=State.SENDING).update(
            state=State.FAILED, reason=reason, finished_at=timezone.now()
        ):
            NoticeRecipient.objects.filter(notice=notice, state=Recipient.QUEUED).update(state=Recipient.FAILED)


# Reading ----------------------------------------------------------------------------------------


def with_counts(queryset):
    """Notices, newest first, each with ``recipients_count``, ``sent_count`` and ``failed_count``."""
    return queryset.annotate(
        recipients_count=Count("recipients", filter=~Q(recipients__state=Recipient.SKIPPED)),
        sent_count=Count("recipients", filter=Q(recipients__state=Recipient.SENT)),
        failed_count=Count("recipients", filter=Q(recipients__state=Recipient.FAILED)),
    ).order_by("-created_at", "-id")


def notices_with_counts(test: Test):
    """A test's notices, newest first, counted (``with_counts``)."""
    return with_counts(Notice.objects.filter(test=test))


# The email ---------------------------------------------------------------------------------------

# Every value in the text is a substitution (names included), so nothing a teacher types is ever
# read as a tag.
SUBJECT = {
    Kind.PUBLISHED: "Your result for {{test}} in {{course}}",
    Kind.CHANGED: "Your result for {{test}} in {{course}} has changed",
}
_BODY = (
    "Hello {{name}},\n"
    "\n"
    "{{headline}}\n"
    "\n"
    "Your result: {{result}}\n"
    "\n"
    "Sign in to see all your results. You get these emails because notifications are on in your "
    "profile; turn them off there to stop them.\n"
)
TEXT = {
    Kind.PUBLISHED: _BODY.replace("{{headline}}", "The results of {{test}} in {{course}} are out."),
    Kind.CHANGED: _BODY.replace("{{headline}}", "Your result for {{test}} in {{course}} has changed."),
}


def one_line(text: str) -> str:
    """A name as it goes into an email: every control, format and line or paragraph separator
    character (Unicode categories Cc, Cf, Zl, Zp: CR, LF, tab, vertical tab, form feed, the
    file/group/record separators, NEL, U+2028/U+2029, bidi overrides, zero-width spaces), each run of
    them a space, so no name breaks a line or hides text in a mail client. The zero-width joiner
    and non-joiner stay: scripts and emoji need them inside a word."""
    return "".join(" " if hidden else "".join(run) for hidden, run in groupby(text, key=_unprintable)).strip()


def _unprintable(ch: str) -> bool:
    return unicodedata.category(ch) in _UNPRINTABLE and ch not in _JOINERS


_UNPRINTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})
_JOINERS = "\u200c\u200d"


def result_text(result: TestResult, max_score) -> str:
    """ "42.5 out of 50 (85.0%)", or "excused"."""
    if result.score is None:
        return "excused"
    return f"{result.score.normalize():f} out of {max_score.normalize():f} ({percent_of(result.score, max_score)}%)"


def _personalization(test: Test, student, result: TestResult) -> Personalization:
    return Personalization(
        email=student.email,
        substitutions={
            "{{name}}": one_line(student.first_name) or student.email,
            "{{course}}": one_line(test.course.name),
            "{{test}}": one_line(test.name),
            "{{result}}": result_text(result, test.max_score),
        },
        custom_args={"student_id": str(student.pk)},
    )
