"""The API through PgBouncer 1.18 in transaction mode, as Heroku's connection pooler serves it.

A real PgBouncer (``tests/servers.py``, pool of 2 server connections) in front of the test database,
and the app under gunicorn with 4 processes of 2 threads whose ``default`` database is
``DATABASE_CONNECTION_POOL_URL``: transactions of different requests share the two server
connections, so anything that outlives a transaction on one of them (a named cursor, a prepared
statement, a ``SET``) breaks here as it would in production.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import User
from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment, Role
from grading import services
from grading.models import Notice, Test, TestResult
from tests.live import LiveServer, database_url

pytestmark = pytest.mark.django_db(transaction=True)

STUDENTS = 300
# psycopg prepares a statement a connection runs this many times (unless told not to).
PREPARE_THRESHOLD = 5


@pytest.fixture
def sendgrid(fake_sendgrid):
    return fake_sendgrid


@pytest.fixture
def pooled_server(pgbouncer, sendgrid, tmp_path):
    database = connection.settings_dict["NAME"]
    server = LiveServer.start(
        {
            "DATABASE_URL": database_url(),
            "DATABASE_CONNECTION_POOL_URL": pgbouncer.url(database),
            "SENDGRID_API_KEY": sendgrid.api_key,
            "SENDGRID_API_HOST": sendgrid.url,
            "DEFAULT_FROM_EMAIL": sendgrid.from_email,
            "LOGIN_REQUESTS_PER_IP_PER_HOUR": "4",
            "TRUSTED_PROXY_COUNT": "0",
        },
        tmp_path / "gunicorn.log",
        workers=4,
    )
    yield server
    server.stop()
    log = server.log()
    assert "Traceback" not in log, log[-3000:]


@pytest.fixture
def graded_course():
    teacher = User.objects.create_user("pooled.teacher@example.com", first_name="Grace", last_name="Bell")
    course = Course.objects.create(name="Pooled")
    Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
    students = User.objects.bulk_create(
        [User(email=f"p{i:03}@example.com", first_name=f"F{i}", last_name=f"L{i % 7}") for i in range(STUDENTS)]
    )
    Enrollment.objects.bulk_create([Enrollment(user=s, course=course, role=Role.STUDENT) for s in students])
    tests = [
        services.test_create(course=course, name=f"T{i}", date=date(2026, 10, 1 + i), max_score=Decimal(50))
        for i in range(5)
    ]
    for test in tests:
        services.results_upsert(
            test=test, items=[(s.pk, Decimal(i % 50)) for i, s in enumerate(students)], by=teacher, notify=False
        )
    return teacher, course, tests, students


def test_every_report_reads_concurrently_through_the_pooler(pooled_server, pgbouncer, graded_course):
    teacher, course, tests, _ = graded_course
    token = issue_tokens(teacher)["access"]
    reads = [
        f"/api/courses/{course.pk}/gradebook/",
        f"/api/courses/{course.pk}/gradebook.csv",
        f"/api/courses/{course.pk}/grades/?page_size=1000",
        f"/api/tests/{tests[0].pk}/stats/",
        f"/api/tests/{tests[0].pk}/notices/",
        f"/api/courses/{course.pk}/tests/",
        f"/api/tests/{tests[1].pk}/results/?page_size=1000&ordering=-score",
        "/api/courses/",
        "/api/profile/",
    ]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda path: (path, *pooled_server.request("GET", path, token=token)), reads * 6))

    for path, status, _, body in answers:
        assert status == 200, (path, status, body)
    csv = next(body for path, _, _, body in answers if path.endswith(".csv"))
    assert len(csv.decode().splitlines()) == 1 + STUDENTS
    gradebook = next(body for path, _, _, body in answers if path.endswith("/gradebook/"))
    assert len(gradebook["students"]) == STUDENTS
    # Never more server connections than the pool holds, whatever the 8 threads of 4 processes ask.
    servers = [s for s in pgbouncer.show("SERVERS") if s["database"] == connection.settings_dict["NAME"]]
    assert len(servers) <= 2


def test_the_results_list_runs_past_the_prepare_threshold_on_every_process(pooled_server, graded_course):
    teacher, _, tests, _ = graded_course
    token = issue_tokens(teacher)["access"]
    path = f"/api/tests/{tests[2].pk}/results/?page_size=1000"

    statuses = [pooled_server.request("GET", path, token=token)[0] for _ in range(PREPARE_THRESHOLD * 4 * 3)]

    assert set(statuses) == {200}


def test_writes_sign_in_and_limits_work_through_the_pooler(pooled_server, sendgrid, graded_course):
    teacher, course, tests, students = graded_course

    # Sign in by emailed code, and the per-IP limit (4 an hour here) counted in PostgreSQL.
    logins = [pooled_server.request("POST", "/api/auth/login/", body={"email": teacher.email})[0] for _ in range(5)]
    assert logins == [200, 200, 200, 200, 429]
    status, _, tokens = pooled_server.request(
        "POST", "/api/auth/authenticate/", body={"email": teacher.email, "code": sendgrid.latest_code(teacher.email)}
    )
    assert status == 200
    token = tokens["access"]

    # Bulk and single grade writes, the CSV import, a test's change: each one transaction.
    items = [{"student": s.pk, "score": 49.5} for s in students]
    status, _, outcome = pooled_server.request("PUT", f"/api/tests/{tests[3].pk}/results/", token=token, body=items)
    assert (status, outcome["updated"]) == (200, STUDENTS)
    new_test = Test.objects.create(course=course, name="Extra", date=date(2026, 11, 1))
    status, _, _ = pooled_server.request(
        "POST", f"/api/tests/{new_test.pk}/results/", token=token, body={"student": students[0].pk, "score": 7}
    )
    assert status == 201
    csv = f"email,T4 (#{tests[4].pk})\n{students[1].email},2.5\n".encode()
    import_path = f"/api/courses/{course.pk}/gradebook/import"
    status, _, counts = pooled_server.request(
        "POST", import_path, token=token, body=csv, headers={"Content-Type": "text/csv"}
    )
    assert (status, counts["updated"]) == (200, 1), counts
    status, _, _ = pooled_server.request("PATCH", f"/api/tests/{tests[0].pk}/", token=token, body={"name": "Renamed"})
    assert status == 200

    assert TestResult.objects.filter(test=tests[3], score=Decimal("49.5")).count() == STUDENTS
    assert Test.objects.get(pk=tests[0].pk).name == "Renamed"
    # Each write students could see opened its test's notice (and deferred its job) in its transaction.
    assert set(Notice.objects.values_list("test_id", flat=True)) == {tests[3].pk, new_test.pk, tests[4].pk}
