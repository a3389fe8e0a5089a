"""Database routers."""

from django.db import connections


class JobQueueRouter:
    """The job queue (procrastinate) lives in PostgreSQL alone: its migrations are PL/pgSQL."""

    def allow_migrate(self, db, app_label, **hints):
        if app_label == "procrastinate":
            return connections[db].vendor == "postgresql"
        return None
