"""GET /api/test-results/{id}/history/, and a GradeChange for every path a grade can change by.

The admin's path is covered in tests/test_admin_grading.py.
"""

from decimal import Decimal

import pytest
import time_machine

from courses.models import Enrollment, Role
from grading import services
from grading.models import GradeChange, TestResult


def url(result_id):
    return f"/api/test-results/{result_id}/history/"


def history(client, result_id):
    response = client.get(url(result_id))
    assert response.status_code == 200, response.content
    return response.json()


def test_history_lists_a_results_changes_oldest_first(teacher, student, test_, client_for):
    with time_machine.travel("2026-12-01 10:00:00+00:00", tick=False):
        result = services.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)
    with time_machine.travel("2026-12-02 10:00:00+00:00", tick=False):
        services.result_update(result=result, score=Decimal("75.5"), by=teacher)

    body = history(client_for(teacher), result.pk)

    first, second = GradeChange.objects.order_by("id")
    assert body == {
        "count": 2,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": first.pk,
                "result": result.pk,
                "test": test_.pk,
                "student": student.pk,
                "action": "created",
                "old_score": None,
                "new_score": 50,
                "excused": False,
                "changed_by": teacher.pk,
                "changed_at": "2026-12-01T10:00:00Z",
                "via": "api",
            },
            {
                "id": second.pk,
                "result": result.pk,
                "test": test_.pk,
                "student": student.pk,
                "action": "updated",
                "old_score": 50,
                "new_score": 75.5,
                "excused": False,
                "changed_by": teacher.pk,
                "changed_at": "2026-12-02T10:00:00Z",
                "via": "api",
            },
        ],
    }


def test_history_is_paginated_and_orderable(teacher, student, test_, client_for):
    result = services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    for score in range(2, 8):
        services.result_update(result=result, score=Decimal(score), by=teacher)
    client = client_for(teacher)

    page = client.get(url(result.pk), {"page_size": 5}).json()
    newest_first = client.get(url(result.pk), {"ordering": "-id"}).json()

    assert page["count"] == 7
    assert len(page["results"]) == 5
    assert page["next"] is not None
    assert [c["new_score"] for c in newest_first["results"]] == [7, 6, 5, 4, 3, 2, 1]


def test_history_of_one_result_leaves_out_other_results(teacher, student, make_user, test_, course, client_for):
    other = make_user()
    Enrollment.objects.create(user=other, course=course, role=Role.STUDENT)
    mine = services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    services.result_record(test=test_, student=other, score=Decimal("2"), by=teacher)

    assert history(client_for(teacher), mine.pk)["count"] == 1


# Every path of change writes history ------------------------------------------------------------


def test_api_create_update_and_delete_each_append_one_row(teacher, student, test_, client_for):
    client = client_for(teacher)

    created = client.post(f"/api/tests/{test_.pk}/results/", {"student": student.pk, "score": 40}, format="json")
    assert created.status_code == 201, created.content
    result_id = created.json()["id"]
    assert client.put(f"/api/test-results/{result_id}/", {"score": 45}, format="json").status_code == 200
    rows_before_delete = history(client, result_id)["results"]
    assert client.delete(f"/api/test-results/{result_id}/").status_code == 204

    assert [(r["action"], r["old_score"], r["new_score"], r["via"]) for r in rows_before_delete] == [
        ("created", None, 40, "api"),
        ("updated", 40, 45, "api"),
    ]
    deleted = GradeChange.objects.get(action="deleted")
    assert (deleted.old_score, deleted.new_score, deleted.via, deleted.changed_by_id) == (45, None, "api", teacher.pk)
    # The result is gone: its id no longer resolves, and its history stays, detached.
    assert client.get(url(result_id)).status_code == 404
    assert GradeChange.objects.filter(test=test_, student=student).count() == 3
    assert not GradeChange.objects.filter(result__isnull=False).exists()


def test_bulk_upsert_appends_a_row_per_new_or_changed_result(teacher, student, make_user, course, test_, client_for):
    other = make_user()
    Enrollment.objects.create(user=other, course=course, role=Role.STUDENT)
    services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_for(teacher)

    response = client.put(
        f"/api/tests/{test_.pk}/results/",
        [{"student": student.pk, "score": 20}, {"student": other.pk, "score": 30}],
        format="json",
    )

    assert response.status_code == 200, response.content
    mine = history(client, TestResult.objects.get(student=student).pk)["results"]
    theirs = history(client, TestResult.objects.get(student=other).pk)["results"]
    assert [(r["action"], r["new_score"], r["via"]) for r in mine] == [("created", 10, "api"), ("updated", 20, "api")]
    assert [(r["action"], r["new_score"], r["via"]) for r in theirs] == [("created", 30, "api")]


def test_unchanged_scores_write_no_history(teacher, student, test_, client_for):
    result = services.result_record(test=test_, student=student, score=Decimal("10"), by=teacher)
    client = client_for(teacher)

    client.put(f"/api/tests/{test_.pk}/results/", [{"student": student.pk, "score": 10}], format="json")
    client.put(f"/api/test-results/{result.pk}/", {"score": 10}, format="json")

    assert history(client, result.pk)["count"] == 1


def test_csv_import_appends_rows_with_via_import(teacher, student, course, test_, client_for):
    client = client_for(teacher)
    body = f"email,Midterm (#{test_.pk})\nstudent@example.com,66\n".encode()

    response = client.generic("POST", f"/api/courses/{course.pk}/gradebook/import/", body, content_type="text/csv")

    assert response.status_code == 200
    result = TestResult.objects.get()
    rows = history(client, result.pk)["results"]
    assert [(r["action"], r["new_score"], r["via"], r["changed_by"]) for r in rows] == [
        ("created", 66, "import", teacher.pk)
    ]


# Who may read it ------------------------------------------------------------------------------


@pytest.fixture
def result(teacher, student, test_):
    return services.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)


def test_admin_reads_any_history(admin_user, result, client_for):
    assert history(client_for(admin_user), result.pk)["count"] == 1


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_and_admins_read_history(who, request, result, other_course, client_for):
    # The student may read their own result, but not who changed it when.
    response = client_for(request.getfixturevalue(who)).get(url(result.pk))

    assert response.status_code == 403
    assert "detail" in response.json()


def test_anonymous_history_request_is_401(result, client_for):
    assert client_for().get(url(result.pk)).status_code == 401


@pytest.mark.parametrize("result_id", ["424242", str(2**63), "1" * 30])
def test_history_of_an_unknown_result_is_404(result_id, teacher, client_for):
    response = client_for(teacher).get(url(result_id))

    assert response.status_code == 404
    assert "detail" in response.json()


def test_history_path_works_without_trailing_slash(teacher, result, client_for):
    assert client_for(teacher).get(f"/api/test-results/{result.pk}/history").status_code == 200


def test_history_is_read_only(teacher, result, client_for):
    client = client_for(teacher)

    assert client.post(url(result.pk), {}, format="json").status_code == 405
    assert client.delete(url(result.pk)).status_code == 405
    assert GradeChange.objects.count() == 1


def test_history_of_a_deleted_test_stays_readable_in_the_admin(admin_user, teacher, result, test_, client):
    test_id = test_.pk
    services.test_delete(test=test_, force=True, by=teacher)
    client.force_login(admin_user)
    response = client.get("/admin/grading/gradechange/")
    assert response.status_code == 200
    assert GradeChange.objects.filter(test_id=test_id).count() == 2
    assert response.context["cl"].result_count == 2
    assert len(response.context["cl"].result_list) == 2
