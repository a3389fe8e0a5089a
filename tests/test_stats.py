"""GET /api/tests/{id}/stats/: statistics of a test's percents, computed by the database."""

import random
import statistics
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.models import Enrollment, Role
from grading import reports, services
from grading.models import Test, TestResult, percent_of


@pytest.fixture
def enroll_students(make_user, course):
    def enroll(n):
        users = [make_user() for _ in range(n)]
        Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
        return users

    return enroll


def record(test, teacher, pairs):
    outcome = services.results_upsert(test=test, items=[(s.pk, Decimal(score)) for s, score in pairs], by=teacher)
    assert not outcome.errors


def url(test_id):
    return f"/api/tests/{test_id}/stats/"


def expected_histogram(percents):
    counts = [0] * 10
    for p in percents:
        counts[min(int(p // 10), 9)] += 1
    return [{"from": 10 * i, "to": 10 * (i + 1), "count": counts[i]} for i in range(10)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stats_match_the_statistics_module_on_random_scores(seed, course, teacher, enroll_students, client_for):
    rng = random.Random(seed)
    test = Test.objects.create(course=course, name="Quiz", date=date(2026, 3, 1), max_score=Decimal("80"))
    students = enroll_students(rng.randint(20, 60))
    scores = [Decimal(rng.randint(0, 8000)) / 100 for _ in students]
    record(test, teacher, zip(students, scores, strict=True))
    percents = [percent_of(s, test.max_score) for s in scores]

    response = client_for(teacher).get(url(test.pk))

    assert response.status_code == 200
    body = response.json()
    assert body["test"] == test.pk
    assert body["count"] == len(percents)
    assert body["mean"] == pytest.approx(statistics.mean(percents), rel=1e-9)
    assert body["median"] == pytest.approx(statistics.median(percents), rel=1e-9)
    assert body["min"] == min(percents)
    assert body["max"] == max(percents)
    assert body["stddev"] == pytest.approx(statistics.pstdev(percents), rel=1e-9)
    assert body["histogram"] == expected_histogram(percents)


def test_even_count_median_is_the_mean_of_the_two_middle_percents(course, teacher, enroll_students, test_):
    students = enroll_students(4)
    record(test_, teacher, zip(students, ["10", "20", "30", "95"], strict=True))

    assert reports.test_stats(test_)["median"] == 25.0


def test_stats_of_a_test_without_results_are_null_with_empty_buckets(teacher, test_, client_for):
    response = client_for(teacher).get(url(test_.pk))

    assert response.status_code == 200
    assert response.json() == {
        "test": test_.pk,
        "count": 0,
        "excused": 0,
        "mean": None,
        "median": None,
        "min": None,
        "max": None,
        "stddev": None,
        "histogram": [{"from": 10 * i, "to": 10 * (i + 1), "count": 0} for i in range(10)],
    }


def test_stats_of_a_single_result_have_zero_population_stddev(teacher, student, test_, client_for):
    record(test_, teacher, [(student, "73.5")])

    body = client_for(teacher).get(url(test_.pk)).json()

    assert body["count"] == 1
    assert body["mean"] == body["median"] == body["min"] == body["max"] == 73.5
    assert body["stddev"] == 0
    assert [b["count"] for b in body["histogram"]] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]


def test_bucket_edges_are_half_open_except_the_last_which_holds_100(course, teacher, enroll_students, test_):
    students = enroll_students(6)
    record(test_, teacher, zip(students, ["0", "9.99", "10", "89.99", "90", "100"], strict=True))

    counts = [b["count"] for b in reports.test_stats(test_)["histogram"]]

    # 9.99 → 10.0 % (percent is rounded to one decimal first, as the API shows it); 89.99 → 90.0 %.
    assert counts == [1, 2, 0, 0, 0, 0, 0, 0, 0, 3]


def test_median_agrees_with_the_statistics_module_for_odd_and_even_counts(course, teacher, enroll_students, test_):
    rng = random.Random(7)
    for n in (1, 2, 5, 8):
        TestResult.objects.filter(test=test_).delete()
        students = enroll_students(n)
        scores = [Decimal(rng.randint(0, 10000)) / 100 for _ in students]
        record(test_, teacher, zip(students, scores, strict=True))

        median = reports.test_stats(test_)["median"]

        assert median == pytest.approx(statistics.median([percent_of(s, test_.max_score) for s in scores]))


def test_stats_take_one_query_after_the_permission_check(course, teacher, enroll_students, test_):
    record(test_, teacher, zip(enroll_students(30), ["50"] * 30, strict=True))

    with CaptureQueriesContext(connection) as queries:
        reports.test_stats(test_)

    assert len(queries) == 1  # count, avg, min, max, stddev_pop, percentile_cont, 10 buckets


def test_admin_reads_any_tests_stats(admin_user, test_, client_for):
    assert client_for(admin_user).get(url(test_.pk)).status_code == 200


def test_stats_path_works_without_trailing_slash(teacher, test_, client_for):
    assert client_for(teacher).get(f"/api/tests/{test_.pk}/stats").status_code == 200


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_and_admins_read_stats(who, request, test_, other_course, client_for):
    user = request.getfixturevalue(who)

    response = client_for(user).get(url(test_.pk))

    assert response.status_code == 403
    assert "detail" in response.json()


def test_anonymous_stats_request_is_401(test_, client_for):
    response = client_for().get(url(test_.pk))

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("test_id", ["999999", str(2**63), "99999999999999999999999", "-1", "abc", "\u0661", "1.5"])
def test_stats_of_an_unknown_test_is_404(test_id, teacher, client_for):
    response = client_for(teacher).get(url(test_id))

    assert response.status_code == 404
    assert "detail" in response.json()


def test_stats_refuse_writes(teacher, test_, client_for):
    assert client_for(teacher).post(url(test_.pk), {}, format="json").status_code == 405
