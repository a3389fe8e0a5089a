"""What ``grading`` adds to a course's representation (``courses.embeds``): its tests.

Each test in the same shape, order and time format as ``/api/tests/{id}/`` gives it, its
``results_version`` null where the caller may not see it (``policy.results_version_shown``).
"""

from django.db import connection
from django.db.models import Case, F, OuterRef, Value, When
from django.db.models.functions import Coalesce

from courses import policy
from courses.embeds import Embed
from grading.models import ResultsVersion, Test
from gradingsite.sql import JSONDateTime, JSONObject, json_datetime


def _results_version(user):
    """A test's results version (``grading.models.results_version``: its ``results_counter``, 0
    before any grade) where ``user`` may see it (``policy.results_version_shown``), else null.
    For a test row of ``courses_for(user)``'s tests, whose course row has ``my_role``."""
    version = Coalesce(F("results_counter__version"), Value(0))
    return Case(When(policy.results_version_shown(user, OuterRef("my_role")), then=version), default=None)


def course_tests(user):
    """A course's tests by date, then id, as ``Embed.rows`` wants them."""
    return (
        Test.objects.filter(course_id=OuterRef("pk"))
        .order_by("date", "id")
        .values(
            json=JSONObject(
                id="id",
                course="course_id",
                name="name",
                date="date",
                max_score="max_score",
                results_published="results_published",
                category="category_id",
                never_drop="never_drop",
                updated_at=JSONDateTime("updated_at"),
                version="version",
                results_version=_results_version(user),
            )
        )
    )


def course_tests_sql(user, *, course: str, role: str) -> str:
    """``course_tests(user)`` as SQL text (``Embed.rows_sql``)."""
    q = connection.ops.quote_name
    test_table, counter_table = q(Test._meta.db_table), q(ResultsVersion._meta.db_table)
    shown = policy.results_version_shown_sql(user, role=role, published="t.results_published")
    # Only table names, the policy's condition and SQL the caller wrote are formatted in. Indented
    # for the course's statement it goes in.
    return f"""SELECT json_build_object('id', t.id, 'course', t.course_id, 'name', t.name, 'date', t.date,
                                 'max_score', t.max_score, 'results_published', t.results_published,
                                 'category', t.category_id, 'never_drop', t.never_drop,
                                 'updated_at', {json_datetime("t.updated_at")}, 'version', t.version,
                                 'results_version', CASE WHEN {shown} THEN COALESCE(v.version, 0) END) AS json
        FROM {test_table} t LEFT JOIN {counter_table} v ON v.test_id = t.id
        WHERE t.course_id = {course} ORDER BY t.date, t.id"""  # noqa: S608


COURSE_TESTS = Embed(key="tests", rows=course_tests, rows_sql=course_tests_sql)
