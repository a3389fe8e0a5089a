"""``python manage.py worker``: the worker process (the Procfile's ``worker``).

On PostgreSQL it runs procrastinate's worker on its own connections to the database (the
"direct" alias, DATABASE_URL, for LISTEN/NOTIFY, also when the app goes through a pooler): result
notices and the recovery of a dead worker's jobs (``grading.tasks``). It
stops on SIGTERM (Heroku's dyno restart) after the job at hand, up to ``--graceful-seconds``.

On SQLite (the development database of ``make run``) there is no job queue: it sends the notices
that are due, looking once a second, so notifications can be tried without PostgreSQL.
"""

import logging
import signal
import time

from django.core.management.base import BaseCommand
from django.db import connection

logger = logging.getLogger("grading.worker")


class Command(BaseCommand):
    help = "Run the worker: sends result notices to students."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1, help="Jobs run at once (default 1).")
        parser.add_argument(
            "--graceful-seconds",
            type=float,
            default=20.0,
            help="On SIGTERM, how long the job at hand may take to finish (default 20; Heroku allows 30).",
        )

    def handle(self, *args, concurrency, graceful_seconds, **options):
        if connection.vendor != "postgresql":
            self._poll_notices()
            return
        from procrastinate import PsycopgConnector
        from procrastinate.contrib.django import app
        from procrastinate.contrib.django.utils import connector_params

        logger.info("Worker started (queue: notices)")
        # The "direct" database (DATABASE_URL), never the pooler: LISTEN needs a session of its own.
        with app.replace_connector(PsycopgConnector(kwargs=connector_params("direct"))):
            app.run_worker(queues=["notices"], concurrency=concurrency, shutdown_graceful_timeout=graceful_seconds)

    def _poll_notices(self):
        from grading import notices

        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        logger.info("Worker started on %s: no job queue, due notices are looked for every second", connection.vendor)
        try:
            while not stopping:
                notices.deliver_due()
                time.sleep(1)
        except KeyboardInterrupt:
            pass
