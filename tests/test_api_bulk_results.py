"""PUT /api/tests/{id}/results/: create or update many results at once, all or nothing."""

from decimal import Decimal

import pytest

from accounts.models import User
from courses.models import Enrollment, Role
from grading.models import GradeChange, TestResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def students(course):
    users = User.objects.bulk_create([User(email=f"s{i}@example.com", last_name=f"S{i}") for i in range(3)])
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    return users


def put(client, test, body):
    return client.put(f"/api/tests/{test.pk}/results/", body, format="json")


def scores(test):
    return dict(TestResult.objects.filter(test=test).values_list("student_id", "score"))


def test_bulk_creates_updates_and_counts_unchanged(client_for, teacher, test_, students):
    a, b, c = students
    TestResult.objects.create(test=test_, student=a, score=Decimal("10"))
    TestResult.objects.create(test=test_, student=b, score=Decimal("20"))
    response = put(
        client_for(teacher),
        test_,
        [{"student": a.pk, "score": 10}, {"student": b.pk, "score": 25.5}, {"student": c.pk, "score": 0}],
    )
    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 1}
    assert scores(test_) == {a.pk: Decimal("10"), b.pk: Decimal("25.5"), c.pk: Decimal("0")}
    changes = {(g.student_id, g.action, g.old_score, g.new_score, g.via) for g in GradeChange.objects.all()}
    assert changes == {
        (b.pk, "updated", Decimal("20"), Decimal("25.5"), "api"),
        (c.pk, "created", None, Decimal("0"), "api"),
    }
    assert {g.changed_by_id for g in GradeChange.objects.all()} == {teacher.pk}
    assert TestResult.objects.get(student=c).grader == teacher


def test_bulk_without_trailing_slash(client_for, teacher, test_, students):
    response = client_for(teacher).put(
        f"/api/tests/{test_.pk}/results", [{"student": students[0].pk, "score": 1}], format="json"
    )
    assert response.status_code == 200
    assert response.json()["created"] == 1


def test_empty_list_changes_nothing(client_for, teacher, test_):
    response = put(client_for(teacher), test_, [])
    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 0}


def test_one_bad_item_writes_nothing_and_names_index_and_field(client_for, teacher, test_, students):
    a, b, c = students
    TestResult.objects.create(test=test_, student=a, score=Decimal("10"))
    response = put(
        client_for(teacher),
        test_,
        [{"student": a.pk, "score": 50}, {"student": b.pk, "score": 100.5}, {"student": c.pk, "score": 70}],
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"]
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "score")]
    assert scores(test_) == {a.pk: Decimal("10")}
    assert not GradeChange.objects.exists()


def test_every_bad_item_is_reported_in_order(client_for, teacher, stranger, test_, students):
    a, b, _ = students
    response = put(
        client_for(teacher),
        test_,
        [
            {"student": stranger.pk, "score": 5},  # not in the course
            {"student": a.pk, "score": -1},
            {"student": a.pk, "score": 1.234},  # a duplicate and too many decimals
            {"student": "b", "score": 5},
            {"score": 5},
            {"student": b.pk},
            "not an object",
            {"student": b.pk, "score": "many"},
            {"student": True, "score": False},
            None,
            {"student": 99999999999999999999999, "score": 5},
            {"student": 1.5, "score": [1]},
        ],
    )
    assert response.status_code == 400
    errors = [(e["index"], e["field"]) for e in response.json()["errors"]]
    assert errors == [
        (0, "student"),
        (1, "score"),
        (2, "score"),
        (2, "student"),
        (3, "student"),
        (4, "student"),
        (5, "score"),
        (6, None),
        (7, "score"),
        (8, "score"),
        (8, "student"),
        (9, None),
        (10, "student"),
        (11, "score"),
        (11, "student"),
    ]
    assert all(e["message"] for e in response.json()["errors"])
    assert not TestResult.objects.exists()


def test_unknown_keys_in_items_are_errors(client_for, teacher, test_, students):
    response = put(client_for(teacher), test_, [{"student": students[0].pk, "score": 1, "grade": "A"}])
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 0, "field": "grade", "message": "Unknown field."}]
    assert not TestResult.objects.exists()


def test_type_errors_alone_still_report_the_other_items_problems(client_for, teacher, stranger, test_, students):
    response = put(client_for(teacher), test_, [{"student": "x", "score": 1}, {"student": stranger.pk, "score": 1}])
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "student"), (1, "student")]
    assert not TestResult.objects.exists()


def test_type_errors_with_otherwise_good_items_write_nothing(client_for, teacher, test_, students):
    response = put(client_for(teacher), test_, [{"student": students[0].pk, "score": 1}, {"student": "x"}])
    assert response.status_code == 400
    assert not TestResult.objects.exists()
    assert not GradeChange.objects.exists()


def test_teachers_of_the_course_cannot_be_graded_in_bulk(client_for, teacher, test_):
    response = put(client_for(teacher), test_, [{"student": teacher.pk, "score": 1}])
    assert response.json()["errors"] == [
        {"index": 0, "field": "student", "message": "This user is not enrolled as a student in the test's course."}
    ]


@pytest.mark.parametrize("body", [{"student": 1, "score": 1}, "text", 5, None])
def test_body_that_is_not_a_list_is_400(client_for, teacher, test_, body):
    response = put(client_for(teacher), test_, body)
    assert response.status_code == 400
    body = response.json()
    assert "array" in body["detail"]
    assert body["errors"] == [{"index": None, "field": None, "message": body["detail"]}]


def test_more_than_5000_items_is_400(client_for, teacher, test_, students):
    response = put(client_for(teacher), test_, [{"student": students[0].pk, "score": 1}] * 5001)
    assert response.status_code == 400
    assert "5000" in response.json()["detail"]
    assert not TestResult.objects.exists()


def test_5000_items_are_accepted(client_for, teacher, course, test_):
    users = User.objects.bulk_create([User(email=f"bulk{i}@example.com") for i in range(5000)])
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    response = put(client_for(teacher), test_, [{"student": u.pk, "score": i % 101} for i, u in enumerate(users)])
    assert response.status_code == 200
    assert response.json() == {"created": 5000, "updated": 0, "unchanged": 0}
    assert TestResult.objects.count() == 5000
    assert GradeChange.objects.count() == 5000


def test_scores_are_json_numbers_not_strings(client_for, teacher, test_, students):
    response = put(client_for(teacher), test_, [{"student": students[0].pk, "score": "42.50"}])
    assert response.status_code == 400
    assert [(e["index"], e["field"]) for e in response.json()["errors"]] == [(0, "score")]
    assert not TestResult.objects.exists()


def test_malformed_json_is_400(client_for, teacher, test_):
    response = client_for(teacher).put(
        f"/api/tests/{test_.pk}/results/", '[{"student": 1,', content_type="application/json"
    )
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_upsert(client_for, request, who, test_, students):
    response = put(client_for(request.getfixturevalue(who)), test_, [{"student": students[0].pk, "score": 1}])
    assert response.status_code == 403
    assert not TestResult.objects.exists()


def test_admin_upserts(client_for, admin_user, test_, students):
    response = put(client_for(admin_user), test_, [{"student": students[0].pk, "score": 1}])
    assert response.status_code == 200
    assert TestResult.objects.get().grader == admin_user


def test_anonymous_cannot_upsert(client_for, test_):
    assert put(client_for(), test_, []).status_code == 401


def test_upsert_into_unknown_test_is_404(client_for, admin_user):
    assert client_for(admin_user).put("/api/tests/424242/results/", [], format="json").status_code == 404
