"""The worker's jobs (procrastinate; ``python manage.py worker`` runs them).

- ``deliver_notice``: sends a result notice (``grading.notices.deliver``), deferred by the grade
  service in the transaction of the change. SendGrid's 429/5xx/timeouts retry it with exponential
  backoff, ``NOTIFY_MAX_ATTEMPTS`` attempts in all; the last attempt fails the notice instead.
- ``deliver_comments``: emails a test's students the comments written on their work
  (``grading.comments.deliver``), deferred with the first comment queued; retried as above.
- ``retry_stalled_jobs``: every 5 seconds, jobs held by a worker that stopped sending heartbeats
  (killed, its machine gone) are queued again, so a crashed worker's notice is finished by another.
- ``delete_expired_idempotency_keys``: every hour, the stored answers of ``Idempotency-Key`` writes
  older than 24 hours are removed (``gradingsite.api.idempotency``).
- ``delete_file_objects``: deletes the file store's objects of uploads deleted (``grading.uploads``),
  deferred in the transaction that deletes a test, a course or an account holding uploads, so it
  runs after the commit; one the store fails is tried again after ``FILE_DELETE_RETRY_SECONDS``,
  doubling up to an hour, until it succeeds.
- ``sweep_uploads``: every 10 minutes, uploads never attached to a submission within 24 hours are
  deleted, and every object still to delete is tried (``grading.uploads.sweep``).
"""

import logging

from django.conf import settings
from procrastinate import RetryDecision
from procrastinate.contrib.django import app
from procrastinate.retry import BaseRetryStrategy

from accounts.email import EmailRetryLater
from grading import comments, notices, uploads

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 3600


class SendGridBackoff(BaseRetryStrategy):
    """Retry only what SendGrid may take later, waiting base · 2^(attempt - 1) seconds (capped)."""

    def get_retry_decision(self, *, exception, job):
        if not isinstance(exception, EmailRetryLater) or job.attempts + 1 >= settings.NOTIFY_MAX_ATTEMPTS:
            return None
        wait = min(MAX_BACKOFF_SECONDS, settings.NOTIFY_RETRY_BASE_SECONDS * 2**job.attempts)
        return RetryDecision(retry_in={"seconds": wait})


class StoreBackoff(BaseRetryStrategy):
    """Retry deleting objects the store failed, waiting base · 2^(attempt - 1) seconds (capped), for as
    long as it takes: the objects stay queued (``DeletedObject``) meanwhile."""

    def get_retry_decision(self, *, exception, job):
        if not isinstance(exception, uploads.ObjectsNotDeleted):
            return None
        wait = min(MAX_BACKOFF_SECONDS, settings.FILE_DELETE_RETRY_SECONDS * 2**job.attempts)
        return RetryDecision(retry_in={"seconds": wait})


@app.task(name="deliver_notice", queue="notices", retry=SendGridBackoff(), pass_context=True)
def deliver_notice(context, notice_id: int) -> None:
    notices.deliver(notice_id, last_attempt=context.job.attempts + 1 >= settings.NOTIFY_MAX_ATTEMPTS)


@app.task(name="deliver_comments", queue="notices", retry=SendGridBackoff(), pass_context=True)
def deliver_comments(context, test_id: int) -> None:
    comments.deliver(test_id, last_attempt=context.job.attempts + 1 >= settings.NOTIFY_MAX_ATTEMPTS)


@app.periodic(cron="* * * * * */5", periodic_id="retry_stalled_jobs")
@app.task(name="retry_stalled_jobs", queue="notices", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context, timestamp: int) -> None:
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=settings.WORKER_STALLED_SECONDS):
        logger.warning("Job %s (%s) was held by a worker that stopped: queued again", job.id, job.task_name)
        await manager.retry_job(job)


@app.periodic(cron="17 * * * *", periodic_id="delete_expired_idempotency_keys")
@app.task(name="delete_expired_idempotency_keys", queue="notices", queueing_lock="delete_expired_idempotency_keys")
def delete_expired_idempotency_keys(timestamp: int) -> None:
    from gradingsite.api import idempotency

    deleted = idempotency.delete_expired()
    if deleted:
        logger.info("Deleted %s expired idempotency keys", deleted)


@app.task(name="delete_file_objects", queue="files", retry=StoreBackoff(), queueing_lock="delete_file_objects")
def delete_file_objects() -> None:
    deleted = uploads.delete_objects()
    if deleted:
        logger.info("Deleted %s objects of deleted uploads from the file store", deleted)


@app.periodic(cron="*/10 * * * *", periodic_id="sweep_uploads")
@app.task(name="sweep_uploads", queue="files", queueing_lock="sweep_uploads")
def sweep_uploads(timestamp: int) -> None:
    stale, deleted = uploads.sweep()
    if stale or deleted:
        logger.info("Deleted %s uploads never submitted and %s objects from the file store", stale, deleted)
