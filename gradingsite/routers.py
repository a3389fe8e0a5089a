"""Database routers."""


class ReplicaRouter:
    """Reads that may lag go to a replica when one is fit (``gradingsite.replicas``); nothing is ever
    migrated or written there."""

    def db_for_read(self, model, **hints):
        from gradingsite import replicas

        return replicas.read_alias()

    def allow_migrate(self, db, app_label, **hints):
        if db.startswith("replica_"):
            return False
        return None
