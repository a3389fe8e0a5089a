"""What ``grading`` adds to a course's representation (``courses.embeds``): its tests.

Each test in the same shape, order and time format as ``/api/tests/{id}/`` gives it, its
``results_version`` null where the caller may not see it (``policy.results_version_shown``).
"""

from django.db import connection
from django.db.models import Case, DateTimeField, F, OuterRef, Value, When
from django.db.models.functions import Coalesce

from courses import policy
from courses.embeds import Embed
from grading.models import ResultsVersion, Test
from grading.serializers import TEST, CourseTestSerializer
from gradingsite.sql import JSONDateTime, JSONObject, json_datetime


def _results_version(user):
    """A test's results version (``grading.models.results_version``: its ``results_counter``, 0
    before any grade) where ``user`` may see it (``policy.results_version_shown``), else null.
    For a test row of ``courses_for(user)``'s tests, whose course row has ``my_role``."""
    version = Coalesce(F("results_counter__version"), Value(0))
    return Case(When(policy.results_version_shown(user, OuterRef("my_role")), then=version), default=None)


# ``TestSerializer``'s keys as its fast path reads them (``TEST``): each key's column, in order;
# ``results_version`` depends on the caller and is written below by the policy's rule.
_TEST_COLUMNS = dict(zip(TEST.keys, TEST.columns, strict=True))
if set(TEST.computed) != {"results_version"}:
    raise TypeError(f"grading.embeds writes no {sorted(set(TEST.computed) - {'results_version'})}")


def _is_time(column: str) -> bool:
    return isinstance(Test._meta.get_field(column), DateTimeField)


def course_tests(user):
    """A course's tests by date, then id, as ``Embed.rows`` wants them."""
    fields = {
        key: _results_version(user)
        if key == "results_version"
        else (JSONDateTime(column) if _is_time(column) else column)
        for key, column in _TEST_COLUMNS.items()
    }
    return Test.objects.filter(course_id=OuterRef("pk")).order_by("date", "id").values(json=JSONObject(**fields))


def course_tests_sql(user, *, course: str, role: str) -> str:
    """``course_tests(user)`` as SQL text (``Embed.rows_sql``)."""
    q = connection.ops.quote_name
    test_table, counter_table = q(Test._meta.db_table), q(ResultsVersion._meta.db_table)
    shown = policy.results_version_shown_sql(user, role=role, published="t.results_published")
    values = {
        key: f"CASE WHEN {shown} THEN COALESCE(v.version, 0) END"
        if key == "results_version"
        else (json_datetime(f"t.{column}") if _is_time(column) else f"t.{column}")
        for key, column in _TEST_COLUMNS.items()
    }
    pairs = ",\n                                 ".join(f"'{key}', {value}" for key, value in values.items())
    # Only table names, the serializer's keys and columns, the policy's condition and SQL the caller
    # wrote are formatted in. Indented for the course's statement it goes in.
    return f"""SELECT json_build_object({pairs}) AS json
        FROM {test_table} t LEFT JOIN {counter_table} v ON v.test_id = t.id
        WHERE t.course_id = {course} ORDER BY t.date, t.id"""  # noqa: S608


COURSE_TESTS = Embed(key="tests", rows=course_tests, rows_sql=course_tests_sql, serializer=CourseTestSerializer)
