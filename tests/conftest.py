"""Standing users for every role, and API clients that authenticate as them with real tokens.

The demo-shaped world: ``course`` is taught by ``teacher`` and studied by ``student``;
``other_teacher`` teaches ``other_course``; ``stranger`` is enrolled nowhere; ``admin`` is a
superuser.
"""

import os
import shutil
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tokens import issue_tokens
from courses.models import Course, Enrollment, Role
from grading.models import GradeCategory, Test

pytest_plugins = ["tests.fakes", "tests.servers", "tests.s3", "tests.files", "tests.workers"]

# Hypothesis caches what it reads of the source in a .hypothesis directory, by default in the working
# directory (the checkout); it reads this when it first needs the directory, during a test. Keep it
# in the temporary directory instead, unless told otherwise.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "gradingsite-hypothesis"))


@pytest.fixture(scope="session", autouse=True)
def _close_connections_before_the_test_databases_go(django_db_setup):
    """Every alias's connections (``direct`` too) are closed before the test databases are dropped."""
    yield
    from django.db import connections

    connections.close_all()


@pytest.fixture
def local_files(settings, tmp_path):
    """Uploaded files on the local disk, in a folder of this test's own; the folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": tmp_path}},
    }
    return tmp_path


def first_category(course) -> GradeCategory:
    """The course's first grade category: where a test goes unless told otherwise."""
    return GradeCategory.objects.filter(course=course).order_by("position", "id").first()


@pytest.fixture
def make_user(db):
    counter = iter(range(1, 1_000_000))

    def make(email=None, **fields):
        n = next(counter)
        fields.setdefault("first_name", f"First{n}")
        fields.setdefault("last_name", f"Last{n}")
        return User.objects.create_user(email=email or f"user{n}@example.com", **fields)

    return make


@pytest.fixture
def teacher(make_user):
    return make_user("teacher@example.com", first_name="Grace", last_name="Bell")


@pytest.fixture
def student(make_user):
    return make_user("student@example.com", first_name="Shakuntala", last_name="Devi")


@pytest.fixture
def other_teacher(make_user):
    return make_user("other.teacher@example.com", first_name="Alan", last_name="Turing")


@pytest.fixture
def stranger(make_user):
    return make_user("stranger@example.com", first_name="Sam", last_name="Stranger")


@pytest.fixture
def admin_user(db):
    return User.objects.create_superuser("admin@example.com", first_name="Ada", last_name="Admin")


@pytest.fixture
def course(teacher, student):
    course = Course.objects.create(name="CRUD with Django", details="Models, views, migrations.")
    Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
    Enrollment.objects.create(user=student, course=course, role=Role.STUDENT)
    return course


@pytest.fixture
def classmate(make_user, course):
    """A second student of ``course``."""
    user = make_user("classmate@example.com")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return user


@pytest.fixture
def other_course(other_teacher):
    course = Course.objects.create(name="Computability")
    Enrollment.objects.create(user=other_teacher, course=course, role=Role.TEACHER)
    return course


@pytest.fixture
def test_(course):
    return Test.objects.create(course=course, name="Midterm", date=date(2026, 12, 1), max_score=Decimal("100"))


@pytest.fixture
def client_for(db):
    """``client_for(user)``: an API client sending that user's bearer token; ``None`` for anonymous."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user)['access']}")
        return client

    return make


@pytest.fixture
def client_as(client):
    """``client_as(user)``: Django's test client signed in as that user (for the admin's pages)."""

    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def embedded_pg_data():
    """A data folder for an embedded PostgreSQL (``gradingsite.devdb``), outside pytest's temporary
    folders: as root, the server runs as a system user that needs ``o+rx`` on the folders above its
    data, and every pytest run on the machine sets its own base folder back to 0700."""
    parent = Path(tempfile.mkdtemp(prefix="grading-pgdata-"))
    yield parent / "pgdata"
    shutil.rmtree(parent, ignore_errors=True)
