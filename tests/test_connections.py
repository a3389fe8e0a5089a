"""Kept database connections: checked before each request's first query without a round trip to a
healthy server, and replaced before that query when the server has ended them."""

import time

import psycopg
import pytest
from django.db import close_old_connections, connection

pytestmark = pytest.mark.django_db(transaction=True)


def _observer() -> psycopg.Connection:
    """A connection of the test's own to the same database, to watch and act on the app's."""
    settings = connection.settings_dict
    return psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        autocommit=True,
    )


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _last_state_change(observer, pid: int):
    return observer.execute("SELECT state, state_change FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()


def test_a_healthy_kept_connection_is_checked_without_a_query():
    pid = _backend_pid()
    with _observer() as observer:
        before = _last_state_change(observer, pid)
        usable = connection.is_usable()
        after = _last_state_change(observer, pid)

    assert usable
    # A statement would have moved the server's side of the connection to "active" and back.
    assert before[0] == "idle"
    assert after == before


def test_a_connection_the_server_ended_is_replaced_before_the_next_requests_first_query(client):
    pid = _backend_pid()
    with _observer() as observer:
        observer.execute("SELECT pg_terminate_backend(%s)", (pid,))
        deadline = time.monotonic() + 30
        while _last_state_change(observer, pid) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _last_state_change(observer, pid) is None

    assert not connection.is_usable()
    close_old_connections()  # what Django does as each request starts
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"up": True, "database": "ok"}
    assert _backend_pid() != pid
