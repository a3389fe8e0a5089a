from unittest import mock

from django.db.utils import OperationalError


def test_root_says_up(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.json() == {"up": True}


def test_healthz_reports_the_database_ok(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"up": True, "database": "ok"}


def test_healthz_is_503_when_the_database_is_down(client, db):
    # The connection is made to fail the way a stopped server does; nothing of ours is replaced.
    with mock.patch("django.db.backends.base.base.BaseDatabaseWrapper.cursor", side_effect=OperationalError("down")):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"up": True, "database": "unavailable"}
