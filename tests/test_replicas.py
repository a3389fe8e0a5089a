"""Reads split to a real streaming replica, and the database going away, on real servers.

A throwaway primary and its hot standby (``tests/servers.py``: ``pg_basebackup -R``), the app
migrated and seeded on the primary, served by gunicorn with ``DATABASE_REPLICA_URLS`` set. Which
server answered a read is told by the data: replay on the replica is paused, a change is made on
the primary, and a read that shows the old value came from the replica.
"""

import os
import subprocess
import sys
import time

import psycopg
import pytest
from django.conf import settings

from tests.live import ROOT, LiveServer

APP_DB = "grading_app"
MAX_LAG = 2


def _manage(env, *args) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "DEBUG"} | {"DEBUG": "1", **env}
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def app(replica_pair):
    with psycopg.connect(replica_pair.primary_url(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {APP_DB}")
        conn.execute(f"CREATE DATABASE {APP_DB}")
    env = {"DATABASE_URL": replica_pair.primary_url(APP_DB), "JWT_SECRET": settings.JWT_SECRET}
    _manage(env, "migrate", "--noinput", "--database", "direct")
    _manage(env, "seed")
    tokens = {
        who: _manage(env, "issue_token", email)
        for who, email in [("teacher", "grace@hey.com"), ("student", "devi@prisma.io")]
    }
    replica_pair.wait_caught_up()
    yield replica_pair, tokens


@pytest.fixture(scope="module")
def server(app, tmp_path_factory):
    pair, _ = app
    live = LiveServer.start(
        {
            "DATABASE_URL": pair.primary_url(APP_DB),
            "DATABASE_REPLICA_URLS": pair.replica_url(APP_DB),
            "REPLICA_MAX_LAG_SECONDS": str(MAX_LAG),
            "REPLICA_PIN_SECONDS": "30",
        },
        tmp_path_factory.mktemp("replicas") / "gunicorn.log",
        workers=1,
    )
    yield live
    live.stop()


def _primary_sql(pair, sql, params=()):
    with psycopg.connect(pair.primary_url(APP_DB), autocommit=True) as conn:
        return (
            conn.execute(sql, params).fetchall()
            if sql.lstrip().upper().startswith("SELECT")
            else conn.execute(sql, params)
        )


def _course(pair) -> int:
    return _primary_sql(pair, "SELECT id FROM courses_course ORDER BY id LIMIT 1")[0][0]


def _fresh_and_paused(pair):
    """The replica has just replayed a transaction (its lag is near 0), then stops replaying."""
    pair.resume_replay()
    _primary_sql(pair, "UPDATE courses_course SET details = details")
    pair.wait_caught_up()
    pair.pause_replay()


def _listed_name(server, token) -> str:
    status, _, body = server.request("GET", "/api/courses/", token=token)
    assert status == 200, body
    return body["results"][0]["name"]


@pytest.fixture
def paused(app, server):
    pair, tokens = app
    _fresh_and_paused(pair)
    yield pair, tokens
    pair.resume_replay()
    if not _replica_up(pair):
        pair.start_replica()
    pair.wait_caught_up()


def _replica_up(pair) -> bool:
    try:
        psycopg.connect(pair.replica_url(APP_DB), connect_timeout=2).close()
        return True
    except psycopg.OperationalError:
        return False


def test_a_list_reads_from_the_replica_and_a_single_course_from_the_primary(server, paused):
    pair, tokens = paused
    course_id = _course(pair)
    _primary_sql(pair, "UPDATE courses_course SET name = %s WHERE id = %s", ("Renamed on the primary", course_id))

    assert _listed_name(server, tokens["student"]) == "CRUD with Prisma"  # the replica, behind
    status, _, course = server.request("GET", f"/api/courses/{course_id}/", token=tokens["student"])
    assert (status, course["name"]) == (200, "Renamed on the primary")

    pair.resume_replay()
    pair.wait_caught_up()
    assert _listed_name(server, tokens["student"]) == "Renamed on the primary"
    _primary_sql(pair, "UPDATE courses_course SET name = 'CRUD with Prisma' WHERE id = %s", (course_id,))


def test_whoever_writes_reads_their_own_writes_while_others_may_read_the_replica(server, paused):
    pair, tokens = paused
    course_id = _course(pair)

    status, _, _ = server.request("PATCH", f"/api/courses/{course_id}/", token=tokens["teacher"], body={"name": "Mine"})

    assert status == 200
    assert _listed_name(server, tokens["teacher"]) == "Mine"  # pinned to the primary after writing
    assert _listed_name(server, tokens["student"]) == "CRUD with Prisma"  # the replica
    server.request("PATCH", f"/api/courses/{course_id}/", token=tokens["teacher"], body={"name": "CRUD with Prisma"})


def test_a_replica_lagging_past_the_limit_is_left_for_the_primary(server, paused):
    pair, tokens = paused
    course_id = _course(pair)
    _primary_sql(pair, "UPDATE courses_course SET name = 'Lagging' WHERE id = %s", (course_id,))

    # The primary's value once the replica is past the limit (and past the 2 s for which a check is
    # remembered); before that, the replica's. Polled with a deadline, however busy the machine.
    started = time.monotonic()
    names = {_listed_name(server, tokens["student"])}
    while "Lagging" not in names and time.monotonic() < started + MAX_LAG + 120:
        time.sleep(0.25)
        names.add(_listed_name(server, tokens["student"]))

    assert "Lagging" in names
    assert names <= {"Lagging", "CRUD with Prisma"}
    _primary_sql(pair, "UPDATE courses_course SET name = 'CRUD with Prisma' WHERE id = %s", (course_id,))


def test_a_dead_replica_costs_nothing_but_speed(server, app):
    pair, tokens = app
    pair.stop_replica()
    try:
        gradebook = server.request("GET", f"/api/courses/{_course(pair)}/gradebook/", token=tokens["teacher"])
        names = [_listed_name(server, tokens["student"]) for _ in range(5)]
    finally:
        pair.start_replica()

    assert gradebook[0] == 200
    assert names == ["CRUD with Prisma"] * 5


def test_with_the_database_away_every_request_is_a_503_and_the_next_one_after_it_is_back_works(app, tmp_path):
    pair, tokens = app
    # The app on the standby alone (it serves reads): stopping it takes the app's only database away.
    live = LiveServer.start({"DATABASE_URL": pair.replica_url(APP_DB)}, tmp_path / "gunicorn.log", workers=1)
    try:
        assert live.request("GET", "/api/courses/", token=tokens["student"])[0] == 200
        pair.stop_replica()
        answers = [
            live.request("GET", "/api/courses/", token=tokens["student"]),
            live.request("POST", "/api/courses/", token=tokens["teacher"], body={"name": "During the restart"}),
            live.request("POST", "/api/auth/login/", body={"email": "devi@prisma.io"}),
            live.request("GET", "/healthz"),
        ]
        pair.start_replica()
        back = live.request("GET", "/api/courses/", token=tokens["student"])
    finally:
        if not _replica_up(pair):
            pair.start_replica()
        live.stop()

    for status, headers, body in answers:
        assert status == 503, body
        assert headers["Retry-After"]
        assert isinstance(body, dict)
        assert body.get("detail") or body.get("database") == "unavailable"
    assert back[0] == 200
    assert "Traceback" not in live.log()


def test_a_restart_between_requests_costs_no_request(app, tmp_path):
    pair, tokens = app
    live = LiveServer.start({"DATABASE_URL": pair.replica_url(APP_DB)}, tmp_path / "gunicorn.log", workers=1)
    try:
        # Enough requests that every thread of the worker keeps a connection.
        before = [live.request("GET", "/api/courses/", token=tokens["student"])[0] for _ in range(6)]
        pair.stop_replica()
        pair.start_replica()
        # Each kept connection is dead now: each is replaced before its thread's next query.
        after = [live.request("GET", "/api/courses/", token=tokens["student"])[0] for _ in range(6)]
    finally:
        if not _replica_up(pair):
            pair.start_replica()
        live.stop()

    assert before == [200] * 6
    assert after == [200] * 6
    assert "Traceback" not in live.log()
