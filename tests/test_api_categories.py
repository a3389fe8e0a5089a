"""Grade categories through the API, a test's category and never_drop, and a course's grading settings."""

import time
from decimal import Decimal

import pytest
from django.db import connection, transaction

from courses.models import Course
from grading import services
from grading.models import CATEGORIES_PER_COURSE, GradeCategory, Test
from tests.concurrency import run_at_once
from tests.conftest import first_category

pytestmark = pytest.mark.django_db


def categories_url(course):
    return f"/api/courses/{course.pk}/categories/"


def category_url(category):
    return f"/api/categories/{category.pk}/"


def test_a_new_course_lists_its_one_category(client_for, student, course):
    body = client_for(student).get(categories_url(course)).json()
    assert body["count"] == 1
    (row,) = body["results"]
    assert {k: row[k] for k in ("name", "weight", "drop_lowest", "drop_highest", "position", "course")} == {
        "name": "Tests",
        "weight": 100,
        "drop_lowest": 0,
        "drop_highest": 0,
        "position": 0,
        "course": course.pk,
    }


def test_teacher_adds_a_category_after_the_others(client_for, teacher, course):
    response = client_for(teacher).post(
        categories_url(course), {"name": "Quizzes", "weight": 25.5, "drop_lowest": 2}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    category = GradeCategory.objects.get(pk=body["id"])
    assert (category.name, category.weight, category.drop_lowest, category.position) == (
        "Quizzes",
        Decimal("25.50"),
        2,
        1,
    )
    assert body["weight"] == 25.5
    listed = client_for(teacher).get(categories_url(course)).json()["results"]
    assert [c["name"] for c in listed] == ["Tests", "Quizzes"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Q", "weight": -1}, "weight"),
        ({"name": "Q", "weight": 12.345}, "weight"),
        ({"name": "Q", "weight": "10"}, "weight"),
        ({"name": "Q", "drop_lowest": -1}, "drop_lowest"),
        ({"name": "Q", "drop_highest": 1.5}, "drop_highest"),
        ({"name": ""}, "name"),
        ({"weight": 10}, "name"),
        ({"name": "Q", "colour": "red"}, "colour"),
    ],
)
def test_bad_category_input_is_a_400_naming_the_field(client_for, teacher, course, body, field):
    response = client_for(teacher).post(categories_url(course), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert course.grade_categories.count() == 1


def test_teacher_changes_a_category(client_for, teacher, course):
    category = first_category(course)
    response = client_for(teacher).patch(category_url(category), {"weight": 40, "drop_highest": 1}, format="json")
    assert response.status_code == 200
    category.refresh_from_db()
    assert (category.weight, category.drop_highest) == (Decimal("40"), 1)


def test_a_category_holding_tests_cannot_be_deleted(client_for, teacher, course, test_):
    services.category_create(course=course, name="Other")
    response = client_for(teacher).delete(category_url(test_.category))
    assert response.status_code == 409
    assert "move them" in response.json()["detail"]
    assert GradeCategory.objects.filter(pk=test_.category_id).exists()


def test_a_category_is_deleted_once_its_tests_are_moved(client_for, teacher, course, test_):
    other = services.category_create(course=course, name="Other")
    old = test_.category
    moved = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"category": other.pk}, format="json")
    assert moved.status_code == 200 and moved.json()["category"] == other.pk
    assert client_for(teacher).delete(category_url(old)).status_code == 204
    assert list(course.grade_categories.values_list("name", flat=True)) == ["Other"]


def test_the_last_category_cannot_be_deleted(client_for, teacher, course):
    response = client_for(teacher).delete(category_url(first_category(course)))
    assert response.status_code == 409
    assert "at least one" in response.json()["detail"]
    assert course.grade_categories.count() == 1


def test_every_category_read_is_taken_back_by_put(client_for, teacher, course):
    client = client_for(teacher)
    highest = client.post(categories_url(course), {"name": "Last", "position": 1_000_000}, format="json")
    after = client.post(categories_url(course), {"name": "After it"}, format="json")
    assert highest.status_code == after.status_code == 201
    assert after.json()["position"] == 1_000_000  # the highest the API takes; then ordered by id

    listed = client.get(categories_url(course)).json()["results"]

    assert [row["name"] for row in listed] == ["Tests", "Last", "After it"]
    for row in listed:
        response = client.put(f"/api/categories/{row['id']}/", row, format="json")
        assert response.status_code == 200, response.json()


def fill_up(course, up_to=CATEGORIES_PER_COURSE):
    """Give the course ``up_to`` categories (it has "Tests" already)."""
    have = course.grade_categories.count()
    GradeCategory.objects.bulk_create(
        GradeCategory(course=course, name=f"Category {n}", position=n) for n in range(have, up_to)
    )


def test_a_course_has_at_most_50_categories(client_for, teacher, course):
    fill_up(course)
    client = client_for(teacher)

    refused = client.post(categories_url(course), {"name": "One more"}, format="json")

    assert refused.status_code == 400
    assert refused.json() == {"detail": "A course has at most 50 grade categories; delete one first."}
    assert course.grade_categories.count() == 50
    assert client.delete(category_url(course.grade_categories.last())).status_code == 204
    assert client.post(categories_url(course), {"name": "One more"}, format="json").status_code == 201
    assert course.grade_categories.count() == 50


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_never_pass_the_cap(teacher, course):
    fill_up(course, CATEGORIES_PER_COURSE - 1)
    created = []

    def another_created_or_waits_for_me() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is read afresh
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))")
            return len(created) == 2 or cursor.fetchone()[0] > 0

    def create(name):
        # Each create is kept uncommitted until the other one has created too, or waits for this
        # one's lock: without a lock both would count 49 and both add their category.
        def call():
            with transaction.atomic():
                category = services.category_create(course=course, name=name)
                created.append(name)
                deadline = time.monotonic() + 60
                while not another_created_or_waits_for_me():
                    assert time.monotonic() < deadline, "the other create neither created nor waited"
                    time.sleep(0.01)
                return category

        return call

    outcomes = run_at_once(create("A"), create("B"))

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["GradeCategory", "Invalid"]
    assert course.grade_categories.count() == CATEGORIES_PER_COURSE


def test_deleting_a_course_deletes_its_categories_and_tests(client_for, teacher, course, test_):
    assert client_for(teacher).delete(f"/api/courses/{course.pk}/").status_code == 204
    assert not GradeCategory.objects.exists() and not Test.objects.exists()


def test_a_new_test_goes_to_the_first_category_unless_told(client_for, teacher, course):
    quizzes = services.category_create(course=course, name="Quizzes")
    client = client_for(teacher)
    default = client.post(f"/api/courses/{course.pk}/tests/", {"name": "A", "date": "2026-12-10"}, format="json")
    chosen = client.post(
        f"/api/courses/{course.pk}/tests/",
        {"name": "B", "date": "2026-12-11", "category": quizzes.pk, "never_drop": True},
        format="json",
    )
    assert default.json()["category"] == first_category(course).pk
    assert (chosen.json()["category"], chosen.json()["never_drop"]) == (quizzes.pk, True)


def test_a_test_cannot_take_another_courses_category(client_for, teacher, course, other_course, test_):
    foreign = first_category(other_course)
    client = client_for(teacher)
    created = client.post(
        f"/api/courses/{course.pk}/tests/", {"name": "X", "date": "2026-12-10", "category": foreign.pk}, format="json"
    )
    changed = client.patch(f"/api/tests/{test_.pk}/", {"category": foreign.pk}, format="json")
    missing = client.patch(f"/api/tests/{test_.pk}/", {"category": 10**9}, format="json")
    assert created.status_code == changed.status_code == missing.status_code == 400
    assert "category" in created.json() and "category" in changed.json() and "category" in missing.json()
    test_.refresh_from_db()
    assert test_.category.course_id == course.pk
    assert course.tests.count() == 1


# A course's grading settings.


def test_teacher_sets_weighting_scheme_and_time_zone(client_for, teacher, course):
    scheme = [{"letter": "Pass", "min_percent": 50}, {"letter": "Fail", "min_percent": 0}]
    response = client_for(teacher).patch(
        f"/api/courses/{course.pk}/",
        {"weighting": "categories", "grading_scheme": scheme, "time_zone": "Pacific/Auckland"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["weighting"], body["grading_scheme"], body["time_zone"]) == ("categories", scheme, "Pacific/Auckland")
    course.refresh_from_db()
    assert (course.weighting, course.grading_scheme, course.time_zone) == ("categories", scheme, "Pacific/Auckland")


def test_a_null_scheme_means_no_letters(client_for, teacher, course):
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", {"grading_scheme": None}, format="json")
    assert response.status_code == 200 and response.json()["grading_scheme"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"weighting": "average"}, "weighting"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "localtime"}, "time_zone"),  # the server's own zone, whatever it is
        ({"time_zone": "Factory"}, "time_zone"),
        ({"time_zone": 5}, "time_zone"),
        ({"grading_scheme": []}, "grading_scheme"),
        ({"grading_scheme": "A"}, "grading_scheme"),
        ({"grading_scheme": [{"letter": "A", "min_percent": 90}]}, "grading_scheme"),  # last must be 0
        ({"grading_scheme": [{"letter": "A", "min_percent": 0}, {"letter": "B", "min_percent": 50}]}, "grading_scheme"),
        ({"grading_scheme": [{"letter": "A", "min_percent": 50}, {"letter": "A", "min_percent": 0}]}, "grading_scheme"),
        (
            {"grading_scheme": [{"letter": "A", "min_percent": 50}, {"letter": "B", "min_percent": 50}]},
            "grading_scheme",
        ),
        ({"grading_scheme": [{"letter": "", "min_percent": 0}]}, "grading_scheme"),
        ({"grading_scheme": [{"letter": "A\u0000", "min_percent": 0}]}, "grading_scheme"),
        (
            {"grading_scheme": [{"letter": "A", "min_percent": 1e308}, {"letter": "F", "min_percent": 0}]},
            "grading_scheme",
        ),
        ({"grading_scheme": [{"letter": "A", "min_percent": "0"}]}, "grading_scheme"),
        (
            {"grading_scheme": [{"letter": "A", "min_percent": 0.001}, {"letter": "F", "min_percent": 0}]},
            "grading_scheme",
        ),
        ({"grading_scheme": [{"letter": "A", "min_percent": 0, "extra": 1}]}, "grading_scheme"),
    ],
)
def test_bad_grading_settings_are_a_400_naming_the_field(client_for, teacher, course, body, field):
    before = Course.objects.values("weighting", "grading_scheme", "time_zone").get(pk=course.pk)
    response = client_for(teacher).patch(f"/api/courses/{course.pk}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Course.objects.values("weighting", "grading_scheme", "time_zone").get(pk=course.pk) == before


def test_students_cannot_change_grading_settings(client_for, student, course):
    response = client_for(student).patch(f"/api/courses/{course.pk}/", {"weighting": "categories"}, format="json")
    assert response.status_code == 403
    course.refresh_from_db()
    assert course.weighting == "points"
