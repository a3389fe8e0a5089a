"""The test servers of ``tests.servers`` themselves: PgBouncer pools by transaction, the replica streams."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection

from tests.servers import PgBouncer, ReplicaPair


def database_name() -> str:
    """The name of the Django test database (``pgbouncer`` has set it up)."""
    return connection.settings_dict["NAME"]


def pooled(pgbouncer: PgBouncer, **kwargs) -> psycopg.Connection:
    """A client connection to the test database through PgBouncer (no prepared statements)."""
    return psycopg.connect(pgbouncer.url(database_name()), prepare_threshold=None, connect_timeout=5, **kwargs)


def table_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


# --- PgBouncer -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pgbouncer_runs_transactions_on_the_test_database(pgbouncer):
    with pooled(pgbouncer) as conn:
        with conn.transaction():
            assert conn.execute("SELECT current_database()").fetchone() == (database_name(),)
        with conn.transaction():
            assert conn.execute("SELECT count(*) > 0 FROM django_migrations").fetchone() == (True,)
    pools = [pool for pool in pgbouncer.show("POOLS") if pool["database"] == database_name()]
    assert [pool["pool_mode"] for pool in pools] == ["transaction"]


@pytest.mark.django_db
def test_a_prepared_statement_stays_on_its_server_connection(pgbouncer):
    with pooled(pgbouncer) as first, pooled(pgbouncer) as second:
        # Both in a transaction at once: each holds a server connection of its own.
        first_pid = first.execute("SELECT pg_backend_pid()").fetchone()
        second_pid = second.execute("SELECT pg_backend_pid()").fetchone()
        assert first_pid != second_pid
        first.execute("PREPARE harness_statement AS SELECT 1")
        assert first.execute("EXECUTE harness_statement").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            second.execute("EXECUTE harness_statement")
        first.execute("DEALLOCATE harness_statement")


@pytest.mark.django_db
def test_many_clients_share_pool_size_server_connections(pgbouncer):
    clients, pool_size, sleep = 10, 2, 0.2
    errors: list[BaseException] = []
    most_servers = 0

    def client() -> None:
        try:
            with pooled(pgbouncer, autocommit=True) as conn:
                conn.execute("SELECT pg_sleep(%s)", [sleep])
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        servers = [server for server in pgbouncer.show("SERVERS") if server["database"] == database_name()]
        most_servers = max(most_servers, len(servers))
        time.sleep(0.02)
    elapsed = time.monotonic() - started

    assert errors == []
    assert 1 <= most_servers <= pool_size
    assert elapsed >= clients * sleep / pool_size * 0.9  # the clients queued for the two server connections


# --- the replica -----------------------------------------------------------------------------


def test_the_replica_streams_and_refuses_writes(replica_pair: ReplicaPair):
    table = table_name()
    with psycopg.connect(replica_pair.primary_url(), autocommit=True) as primary:
        primary.execute(f"CREATE TABLE {table} (id int)")
        primary.execute(f"INSERT INTO {table} VALUES (1)")
    replica_pair.wait_caught_up()
    with psycopg.connect(replica_pair.replica_url(), autocommit=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        assert replica.execute(f"SELECT id FROM {table}").fetchall() == [(1,)]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            replica.execute(f"INSERT INTO {table} VALUES (2)")


def test_paused_replay_hides_new_rows_until_resumed(replica_pair: ReplicaPair):
    table = table_name()
    with psycopg.connect(replica_pair.primary_url(), autocommit=True) as primary:
        primary.execute(f"CREATE TABLE {table} (id int)")
        replica_pair.wait_caught_up()
        replica_pair.pause_replay()
        try:
            primary.execute(f"INSERT INTO {table} VALUES (1)")
            with pytest.raises(TimeoutError):
                replica_pair.wait_caught_up(timeout=1)
            with psycopg.connect(replica_pair.replica_url(), autocommit=True) as replica:
                assert replica.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        finally:
            replica_pair.resume_replay()
    replica_pair.wait_caught_up()
    with psycopg.connect(replica_pair.replica_url(), autocommit=True) as replica:
        assert replica.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)


def test_the_replica_stops_and_starts_again(replica_pair: ReplicaPair):
    replica_pair.stop_replica()
    try:
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(replica_pair.replica_url(), connect_timeout=2).close()
    finally:
        replica_pair.start_replica()
    with psycopg.connect(replica_pair.replica_url(), autocommit=True) as replica:
        assert replica.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
    table = table_name()
    with psycopg.connect(replica_pair.primary_url(), autocommit=True) as primary:
        primary.execute(f"CREATE TABLE {table} (id int)")
    replica_pair.wait_caught_up()
    with psycopg.connect(replica_pair.replica_url(), autocommit=True) as replica:
        assert replica.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
