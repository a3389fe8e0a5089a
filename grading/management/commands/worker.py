"""``python manage.py worker``: the worker process (the Procfile's ``worker``).

It runs procrastinate's worker on its own connections to the database (the "direct" alias,
DATABASE_URL, for LISTEN/NOTIFY, also when the app goes through a pooler): result notices, comments'
emails, the file store's deletions and the recovery of a dead worker's jobs (``grading.tasks``). It
stops on SIGTERM (Heroku's dyno restart) after the job at hand, up to ``--graceful-seconds``.
"""

import logging

from django.core.management.base import BaseCommand

logger = logging.getLogger("grading.worker")

# Result notices and comments' emails; the file store's deletions (``grading.tasks``).
QUEUES = ["notices", "files"]


class Command(BaseCommand):
    help = "Run the worker: emails students their results and comments, deletes files of deleted uploads."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1, help="Jobs run at once (default 1).")
        parser.add_argument(
            "--graceful-seconds",
            type=float,
            default=20.0,
            help="On SIGTERM, how long the job at hand may take to finish (default 20; Heroku allows 30).",
        )

    def handle(self, *args, concurrency, graceful_seconds, **options):
        from procrastinate import PsycopgConnector
        from procrastinate.contrib.django import app
        from procrastinate.contrib.django.utils import connector_params

        logger.info("Worker started (queues: %s)", ", ".join(QUEUES))
        # The "direct" database (DATABASE_URL), never the pooler: LISTEN needs a session of its own.
        with app.replace_connector(PsycopgConnector(kwargs=connector_params("direct"))):
            app.run_worker(queues=QUEUES, concurrency=concurrency, shutdown_graceful_timeout=graceful_seconds)
