"""Every list pages the same way: ?page and ?page_size, 50 rows by default, 1000 at most."""

import pytest
from django.test import Client

from courses.models import Course


@pytest.fixture
def many_courses(db):
    Course.objects.bulk_create([Course(name=f"Course {i:04d}") for i in range(1, 1101)])


def test_a_list_gives_50_rows_and_links_to_the_next_page(client_for, stranger, many_courses):
    body = client_for(stranger).get("/api/courses/").json()
    assert body["count"] == 1100
    assert len(body["results"]) == 50
    assert body["previous"] is None
    assert "page=2" in body["next"]


def test_page_size_above_1000_gives_1000_rows(client_for, stranger, many_courses):
    body = client_for(stranger).get("/api/courses/?page_size=5000").json()
    assert len(body["results"]) == 1000


def test_the_last_page_has_no_next_link(client_for, stranger, many_courses):
    body = client_for(stranger).get("/api/courses/?page=3&page_size=500").json()
    assert len(body["results"]) == 100
    assert body["next"] is None


@pytest.mark.parametrize("page_size", ["0", "-1", "x", "", "1.5", "null"])
def test_a_page_size_that_is_not_a_positive_integer_is_a_400(client_for, stranger, many_courses, page_size):
    response = client_for(stranger).get(f"/api/courses/?page_size={page_size}")
    assert response.status_code == 400
    assert "page_size" in response.json()


@pytest.mark.parametrize("page", ["0", "-1", "x", "", "99"])
def test_a_page_that_does_not_exist_is_a_404(client_for, stranger, many_courses, page):
    response = client_for(stranger).get(f"/api/courses/?page={page}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_a_post_to_an_unknown_api_path_is_a_json_404_not_a_csrf_page(db):
    response = Client(enforce_csrf_checks=True).post("/api/nowhere/", data="{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize("page", ["x", "0", "1.5", "last", "2", "99", "99999999999999999999999"])
def test_the_results_list_checks_its_page_like_every_list(client_for, teacher, test_, page):
    response = client_for(teacher).get(f"/api/tests/{test_.pk}/results/?page={page}")
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_an_empty_results_list_is_one_empty_page(client_for, teacher, test_):
    response = client_for(teacher).get(f"/api/tests/{test_.pk}/results/?page=1")
    assert response.status_code == 200
    assert response.json() == {"count": 0, "next": None, "previous": None, "results": []}
