"""A test's results (list, grade one student) and single results (read, change, delete)."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from courses.models import Course, Enrollment, Role
from grading.models import GradeChange, Test, TestResult
from grading.serializers import SCORE_OR_EXCUSED, TestResultSerializer

pytestmark = pytest.mark.django_db


@pytest.fixture
def result(test_, student, teacher):
    return TestResult.objects.create(test=test_, student=student, grader=teacher, score=Decimal("80"))


@pytest.fixture
def classmate(make_user, course):
    user = make_user("classmate@example.com", first_name="David", last_name="Deutsch")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return user


def results_url(test):
    return f"/api/tests/{test.pk}/results/"


def result_url(result):
    return f"/api/test-results/{result.pk}/"


# The list.


def test_teacher_lists_results_with_numbers_and_percent(client_for, teacher, test_, result, student):
    response = client_for(teacher).get(results_url(test_))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["next"] is None and body["previous"] is None
    row = body["results"][0]
    assert set(row) == {
        "id",
        "test",
        "student",
        "grader",
        "score",
        "percent",
        "excused",
        "entered_score",
        "late_deduction",
        "late_waived",
        "created_at",
        "updated_at",
        "version",
    }
    assert row["id"] == result.pk
    assert row["test"] == test_.pk
    assert row["student"] == student.pk
    assert row["grader"] == teacher.pk
    assert row["score"] == 80 and isinstance(row["score"], int | float)
    assert row["percent"] == 80.0
    assert row["created_at"].endswith("Z")


def test_percent_is_rounded_half_up_to_one_decimal(client_for, teacher, course, student, classmate):
    test = Test.objects.create(course=course, name="Quiz", date=date(2026, 1, 5), max_score=Decimal("8"))
    TestResult.objects.create(test=test, student=student, score=Decimal("1"))  # 12.5 %
    TestResult.objects.create(test=test, student=classmate, score=Decimal("2.33"))  # 29.125 %
    rows = client_for(teacher).get(results_url(test)).json()["results"]
    assert [(r["score"], r["percent"]) for r in rows] == [(1, 12.5), (2.33, 29.1)]


def test_single_result_and_list_agree_on_percent(client_for, teacher, course, student):
    test = Test.objects.create(course=course, name="Odd", date=date(2026, 1, 5), max_score=Decimal("3"))
    result = TestResult.objects.create(test=test, student=student, score=Decimal("1"))
    client = client_for(teacher)
    listed = client.get(results_url(test)).json()["results"][0]["percent"]
    single = client.get(result_url(result)).json()["percent"]
    assert listed == single == 33.3


@pytest.mark.parametrize("microsecond", [0, 5, 123450, 123456])
def test_list_rows_read_exactly_as_the_single_result(client_for, teacher, test_, result, microsecond):
    moment = datetime(2026, 12, 1, 9, 30, 15, microsecond, tzinfo=UTC)
    TestResult.objects.filter(pk=result.pk).update(created_at=moment, score=Decimal("66.67"))
    client = client_for(teacher)
    listed = client.get(results_url(test_)).json()["results"][0]
    single = client.get(result_url(result)).json()
    assert listed == single
    assert listed["created_at"] == moment.isoformat().replace("+00:00", "Z")


def test_single_results_read_as_the_serializer_describes_them(client_for, teacher, result):
    result = TestResult.objects.select_related("test").get(pk=result.pk)
    expected = json.loads(JSONRenderer().render(TestResultSerializer(result).data))
    assert client_for(teacher).get(result_url(result)).json() == expected


def test_admin_lists_results(client_for, admin_user, test_, result):
    assert client_for(admin_user).get(results_url(test_)).json()["count"] == 1


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_list_results(client_for, request, who, test_, result):
    response = client_for(request.getfixturevalue(who)).get(results_url(test_))
    assert response.status_code == 403
    assert "detail" in response.json()


def test_anonymous_cannot_list_results(client_for, test_):
    response = client_for().get(results_url(test_))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("test_id", ["999999", "abc", "99999999999999999999999", "0"])
def test_results_of_unknown_test_are_404(client_for, teacher, test_id):
    response = client_for(teacher).get(f"/api/tests/{test_id}/results/")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_results_list_filters_by_student(client_for, teacher, test_, student, classmate):
    TestResult.objects.create(test=test_, student=student, score=Decimal("10"))
    TestResult.objects.create(test=test_, student=classmate, score=Decimal("20"))
    body = client_for(teacher).get(results_url(test_), {"student": classmate.pk}).json()
    assert [r["student"] for r in body["results"]] == [classmate.pk]


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_results_list_rejects_a_student_filter_that_is_not_an_id(client_for, teacher, test_, value):
    response = client_for(teacher).get(results_url(test_), {"student": value})
    assert response.status_code == 400
    assert "student" in response.json()


def test_results_list_filter_with_a_huge_student_id_is_empty(client_for, teacher, test_, result):
    response = client_for(teacher).get(results_url(test_), {"student": "99999999999999999999999"})
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_results_list_orders_by_score(client_for, teacher, test_, student, classmate):
    TestResult.objects.create(test=test_, student=student, score=Decimal("10"))
    TestResult.objects.create(test=test_, student=classmate, score=Decimal("20"))
    client = client_for(teacher)
    assert [r["score"] for r in client.get(results_url(test_), {"ordering": "-score"}).json()["results"]] == [20, 10]
    assert [r["score"] for r in client.get(results_url(test_), {"ordering": "percent"}).json()["results"]] == [10, 20]


def test_results_list_is_paginated(client_for, teacher, test_, student, classmate):
    TestResult.objects.create(test=test_, student=student, score=Decimal("10"))
    TestResult.objects.create(test=test_, student=classmate, score=Decimal("20"))
    body = client_for(teacher).get(results_url(test_), {"page_size": 1, "page": 2}).json()
    assert body["count"] == 2
    assert len(body["results"]) == 1
    assert body["next"] is None
    assert "page_size=1" in body["previous"]


def test_results_list_page_past_the_end_is_404(client_for, teacher, test_, result):
    assert client_for(teacher).get(results_url(test_), {"page": 5}).status_code == 404


def test_results_list_without_trailing_slash(client_for, teacher, test_, result):
    assert client_for(teacher).get(f"/api/tests/{test_.pk}/results").status_code == 200


# Grading one student.


def test_teacher_grades_a_student(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 91.5}, format="json")
    assert response.status_code == 201
    body = response.json()
    result = TestResult.objects.get()
    assert body == {
        "id": result.pk,
        "test": test_.pk,
        "student": student.pk,
        "grader": teacher.pk,
        "score": 91.5,
        "percent": 91.5,
        "excused": False,
        "entered_score": 91.5,
        "late_deduction": 0.0,
        "late_waived": False,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "version": 1,
    }
    assert result.score == Decimal("91.50")
    assert result.grader == teacher
    change = GradeChange.objects.get()
    assert (change.action, change.old_score, change.new_score, change.via) == ("created", None, Decimal("91.5"), "api")
    assert change.changed_by == teacher and change.result == result


def test_grading_without_trailing_slash_keeps_the_body(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        f"/api/tests/{test_.pk}/results", {"student": student.pk, "score": 70}, format="json"
    )
    assert response.status_code == 201
    assert TestResult.objects.get().score == 70


def test_zero_is_a_valid_score(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 0}, format="json")
    assert response.status_code == 201
    assert response.json()["score"] == 0
    assert response.json()["percent"] == 0
    assert TestResult.objects.get().score == 0


def test_full_marks_are_valid(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 100}, format="json")
    assert response.status_code == 201
    assert response.json()["percent"] == 100


@pytest.mark.parametrize(
    "score",
    [100.01, 101, -1, -0.01, 12.345, "abc", None, True, "NaN", "Infinity", 123456789, [5], {"v": 5}],
)
def test_bad_scores_are_400_and_nothing_is_written(client_for, teacher, test_, student, score):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": score}, format="json")
    assert response.status_code == 400
    assert "score" in response.json()
    assert not TestResult.objects.exists()
    assert not GradeChange.objects.exists()


@pytest.mark.parametrize("raw", ["1e400", "-1e400", "NaN", "Infinity", "1e-400"])
def test_out_of_range_json_numbers_are_400(client_for, teacher, test_, student, raw):
    body = f'{{"student": {student.pk}, "score": {raw}}}'
    response = client_for(teacher).post(results_url(test_), body, content_type="application/json")
    assert response.status_code in (201, 400)
    if raw == "1e-400":  # underflows to 0.0: a valid score
        assert response.status_code == 201
    else:
        assert response.status_code == 400
        assert not TestResult.objects.exists()


def test_score_above_a_low_max_score_is_400(client_for, teacher, course, student):
    test = Test.objects.create(course=course, name="Quiz", date=date(2026, 1, 5), max_score=Decimal("10"))
    response = client_for(teacher).post(results_url(test), {"student": student.pk, "score": 10.5}, format="json")
    assert response.status_code == 400
    assert "max_score" in response.json()["score"][0]


def test_second_result_for_a_student_is_409(client_for, teacher, test_, student, result):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 50}, format="json")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert TestResult.objects.get().score == 80
    assert not GradeChange.objects.exists()


@pytest.fixture(params=["notice open", "results hidden"])
def graded_in_one_statement(request, client_for, teacher, test_, classmate):
    """A test whose next grade is one statement (``services._record_at_once``): a notice is open
    (the classmate's grade opened it), or its results are hidden."""
    if request.param == "results hidden":
        Test.objects.filter(pk=test_.pk).update(results_published=False)
    response = client_for(teacher).post(results_url(test_), {"student": classmate.pk, "score": 1}, format="json")
    assert response.status_code == 201
    return test_


@pytest.mark.parametrize("body", [{"score": 72.25}, {"excused": True}, {"score": 0, "late_waived": True}])
def test_a_grade_written_in_one_statement_answers_the_result_as_read_back(
    client_for, teacher, student, graded_in_one_statement, body
):
    client = client_for(teacher)
    created = client.post(results_url(graded_in_one_statement), {"student": student.pk, **body}, format="json")
    assert created.status_code == 201, created.content
    read = client.get(f"/api/test-results/{created.json()['id']}/")
    assert created.json() == read.json()
    assert (created["ETag"], created["Content-Type"]) == (read["ETag"], read["Content-Type"])
    history = GradeChange.objects.get(result_id=created.json()["id"])
    assert (history.action, history.new_score, history.excused, history.changed_by_id, history.via) == (
        "created",
        None if body.get("excused") else Decimal(str(body["score"])),
        bool(body.get("excused")),
        teacher.pk,
        "api",
    )


def test_a_grade_refused_where_it_would_be_one_statement_says_why_as_before(
    client_for, teacher, student, stranger, graded_in_one_statement
):
    client = client_for(teacher)
    url = results_url(graded_in_one_statement)
    not_a_student = client.post(url, {"student": stranger.pk, "score": 5}, format="json")
    assert (not_a_student.status_code, not_a_student.json()) == (
        400,
        {"student": ["This user is not enrolled as a student in the test's course."]},
    )
    Test.objects.filter(pk=graded_in_one_statement.pk).update(max_score=Decimal("4"))
    too_high = client.post(url, {"student": student.pk, "score": 5}, format="json")
    assert (too_high.status_code, too_high.json()) == (
        400,
        {"score": ["Ensure this value is less than or equal to the test's max_score (4.00)."]},
    )
    assert client.post(url, {"student": student.pk, "score": 4}, format="json").status_code == 201
    again = client.post(url, {"student": student.pk, "score": 3}, format="json")
    assert (again.status_code, again.json()) == (409, {"detail": "This student already has a result for this test."})
    assert list(TestResult.objects.filter(student=student).values_list("score", flat=True)) == [Decimal("4")]
    assert GradeChange.objects.filter(student_id=student.pk).count() == 1


@pytest.mark.parametrize("who", ["stranger", "teacher", "other_teacher", "admin_user"])
def test_only_students_of_the_course_can_be_graded(client_for, request, teacher, test_, who):
    user = request.getfixturevalue(who)
    response = client_for(teacher).post(results_url(test_), {"student": user.pk, "score": 50}, format="json")
    assert response.status_code == 400
    assert "student" in response.json()
    assert not TestResult.objects.exists()


@pytest.mark.parametrize("student_id", [999999, 0, -3, 99999999999999999999999, "abc", None, 1.5, True])
def test_student_must_be_a_user_id(client_for, teacher, test_, student_id):
    response = client_for(teacher).post(results_url(test_), {"student": student_id, "score": 50}, format="json")
    assert response.status_code == 400
    assert "student" in response.json()


def test_missing_fields_are_400(client_for, teacher, test_):
    response = client_for(teacher).post(results_url(test_), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"student", "score"}


def test_malformed_json_is_400(client_for, teacher, test_):
    response = client_for(teacher).post(results_url(test_), '{"student": ', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


def test_form_data_is_415(client_for, teacher, test_, student):
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 5})
    assert response.status_code == 415
    assert not TestResult.objects.exists()


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_grade(client_for, request, who, test_, student):
    response = client_for(request.getfixturevalue(who)).post(
        results_url(test_), {"student": student.pk, "score": 100}, format="json"
    )
    assert response.status_code == 403
    assert not TestResult.objects.exists()


def test_admin_grades_in_another_teachers_name(client_for, admin_user, teacher, test_, student):
    response = client_for(admin_user).post(
        results_url(test_), {"student": student.pk, "score": 60, "grader": teacher.pk}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["grader"] == teacher.pk
    assert GradeChange.objects.get().changed_by == admin_user


def test_admin_grading_without_a_grader_is_the_grader(client_for, admin_user, test_, student):
    response = client_for(admin_user).post(results_url(test_), {"student": student.pk, "score": 60}, format="json")
    assert response.json()["grader"] == admin_user.pk


def test_admin_cannot_name_a_grader_who_does_not_teach_the_course(
    client_for, admin_user, other_teacher, test_, student
):
    response = client_for(admin_user).post(
        results_url(test_), {"student": student.pk, "score": 60, "grader": other_teacher.pk}, format="json"
    )
    assert response.status_code == 400
    assert "grader" in response.json()
    assert not TestResult.objects.exists()


def test_teacher_cannot_grade_in_someone_elses_name(client_for, teacher, make_user, course, test_, student):
    co_teacher = make_user("co@example.com")
    Enrollment.objects.create(user=co_teacher, course=course, role=Role.TEACHER)
    response = client_for(teacher).post(
        results_url(test_), {"student": student.pk, "score": 60, "grader": co_teacher.pk}, format="json"
    )
    assert response.status_code == 400
    assert "grader" in response.json()


def test_grader_naming_an_unknown_user_is_400(client_for, admin_user, test_, student):
    response = client_for(admin_user).post(
        results_url(test_), {"student": student.pk, "score": 60, "grader": 999999}, format="json"
    )
    assert response.status_code == 400
    assert "grader" in response.json()


def test_grading_unknown_test_is_404(client_for, teacher, student):
    response = client_for(teacher).post(
        "/api/tests/424242/results/", {"student": student.pk, "score": 1}, format="json"
    )
    assert response.status_code == 404


def test_unknown_fields_are_400(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        results_url(test_), {"student": student.pk, "score": 5, "points": 5}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"points": ["Unknown field."]}
    assert not TestResult.objects.exists()


def test_read_only_fields_sent_back_are_ignored(client_for, teacher, test_, student):
    response = client_for(teacher).post(
        results_url(test_), {"student": student.pk, "score": 5, "percent": 99, "id": 7}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["percent"] == 5


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_options_describes_the_endpoints(client_for, request, who, course, test_, result):
    client = client_for(request.getfixturevalue(who))
    for url in (f"/api/courses/{course.pk}/tests/", f"/api/tests/{test_.pk}/", results_url(test_), result_url(result)):
        response = client.options(url)
        if who == "student" and url == results_url(test_):
            assert response.status_code == 403  # the whole endpoint is the teachers'
        else:
            assert response.status_code == 200, url
            assert response.json()["renders"] == ["application/json"]


def test_delete_on_the_list_is_405(client_for, teacher, test_):
    response = client_for(teacher).delete(results_url(test_))
    assert response.status_code == 405
    assert "detail" in response.json()


# One result.


def test_teacher_reads_a_result(client_for, teacher, result):
    response = client_for(teacher).get(result_url(result))
    assert response.status_code == 200
    assert response.json()["score"] == 80
    assert response.json()["percent"] == 80


def test_student_reads_their_own_result(client_for, student, result):
    response = client_for(student).get(result_url(result))
    assert response.status_code == 200
    assert response.json()["student"] == student.pk


def test_student_cannot_see_their_result_while_unpublished(client_for, student, result, test_):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    response = client_for(student).get(result_url(result))
    assert response.status_code == 404
    assert "detail" in response.json()


def test_teacher_still_reads_unpublished_results(client_for, teacher, result, test_):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    assert client_for(teacher).get(result_url(result)).status_code == 200


def test_publishing_with_one_patch_shows_the_student_their_result(client_for, teacher, student, result, test_):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    assert client_for(student).get(result_url(result)).status_code == 404
    patch = client_for(teacher).patch(f"/api/tests/{test_.pk}/", {"results_published": True}, format="json")
    assert patch.status_code == 200
    assert client_for(student).get(result_url(result)).status_code == 200


@pytest.mark.parametrize("who", ["classmate", "stranger", "other_teacher"])
def test_others_cannot_read_a_result(client_for, request, who, result):
    response = client_for(request.getfixturevalue(who)).get(result_url(result))
    assert response.status_code == 403


def test_admin_reads_any_result(client_for, admin_user, result):
    assert client_for(admin_user).get(result_url(result)).status_code == 200


@pytest.mark.parametrize("result_id", ["999999", "x", "99999999999999999999999"])
def test_unknown_result_is_404(client_for, teacher, result_id):
    assert client_for(teacher).get(f"/api/test-results/{result_id}/").status_code == 404


def test_anonymous_cannot_read_a_result(client_for, result):
    assert client_for().get(result_url(result)).status_code == 401


def test_teacher_changes_a_score(client_for, teacher, result):
    response = client_for(teacher).put(result_url(result), {"score": 95.25}, format="json")
    assert response.status_code == 200
    assert response.json()["score"] == 95.25
    assert response.json()["percent"] == 95.3
    result.refresh_from_db()
    assert result.score == Decimal("95.25")
    change = GradeChange.objects.get()
    assert (change.action, change.old_score, change.new_score, change.via) == (
        "updated",
        Decimal("80"),
        Decimal("95.25"),
        "api",
    )


def test_patch_changes_a_score(client_for, teacher, result):
    response = client_for(teacher).patch(f"/api/test-results/{result.pk}", {"score": 0}, format="json")
    assert response.status_code == 200
    result.refresh_from_db()
    assert result.score == 0


def test_setting_the_same_score_writes_no_history(client_for, teacher, result):
    assert client_for(teacher).put(result_url(result), {"score": 80}, format="json").status_code == 200
    assert not GradeChange.objects.exists()


def test_sending_back_a_read_result_with_a_new_score_works(client_for, teacher, result, student):
    client = client_for(teacher)
    body = client.get(result_url(result)).json()
    body["score"] = 42
    body["student"] = student.pk + 1000  # the student never changes
    response = client.put(result_url(result), body, format="json")
    assert response.status_code == 200
    result.refresh_from_db()
    assert (result.score, result.student_id) == (42, student.pk)


def test_put_without_a_score_is_400(client_for, teacher, result):
    response = client_for(teacher).put(result_url(result), {}, format="json")
    assert response.status_code == 400
    assert "score" in response.json()


@pytest.mark.parametrize("score", [100.5, -1, 1.234, "x"])
def test_changing_to_a_bad_score_is_400(client_for, teacher, result, score):
    response = client_for(teacher).patch(result_url(result), {"score": score}, format="json")
    assert response.status_code == 400
    result.refresh_from_db()
    assert result.score == 80


@pytest.mark.parametrize("who", ["student", "classmate", "stranger", "other_teacher"])
def test_only_teachers_change_a_result(client_for, request, who, result):
    client = client_for(request.getfixturevalue(who))
    assert client.patch(result_url(result), {"score": 100}, format="json").status_code == 403
    assert client.delete(result_url(result)).status_code == 403
    result.refresh_from_db()
    assert result.score == 80


def test_student_writing_their_unpublished_result_gets_404(client_for, student, result, test_):
    Test.objects.filter(pk=test_.pk).update(results_published=False)
    assert client_for(student).patch(result_url(result), {"score": 100}, format="json").status_code == 404


def test_admin_changes_a_result_and_names_the_grader(client_for, admin_user, teacher, result):
    response = client_for(admin_user).patch(result_url(result), {"score": 85, "grader": teacher.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["grader"] == teacher.pk
    assert GradeChange.objects.get().changed_by == admin_user


def test_teacher_deletes_a_result(client_for, teacher, result, test_, student):
    response = client_for(teacher).delete(result_url(result))
    assert response.status_code == 204
    assert not TestResult.objects.exists()
    change = GradeChange.objects.get()
    assert (change.action, change.old_score, change.new_score, change.result) == ("deleted", Decimal("80"), None, None)
    assert (change.test_id, change.student_id, change.via) == (test_.pk, student.pk, "api")


def test_post_on_a_single_result_is_405(client_for, teacher, result):
    assert client_for(teacher).post(result_url(result), {"score": 1}, format="json").status_code == 405


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        ("excused=maybe", 400, {"excused": ["Select a valid choice. maybe is not one of the available choices."]}),
        ("student=abc&excused=maybe&page_size=0", 400, None),  # the filters answer first, every one of them
        ("student=abc&page=0", 400, {"student": ["Enter a whole number."]}),
        ("page_size=0&page=0", 400, {"page_size": ["A positive integer is required."]}),
        ("page=0", 404, {"detail": "Invalid page."}),
        ("page=2", 404, {"detail": "Invalid page."}),
        ("student=&excused=", 200, None),  # given empty: no filter
        ("ordering=nonsense,-nonsense", 200, None),  # unknown fields: the default order
        ("ordering=-nonsense,-student", 200, None),
    ],
)
def test_results_list_answers_bad_filters_and_pages_as_drf_does(
    client_for, teacher, test_, student, classmate, query, status, body
):
    TestResult.objects.create(test=test_, student=student, score=Decimal("10"))
    TestResult.objects.create(test=test_, student=classmate, score=Decimal("20"))

    response = client_for(teacher).get(f"{results_url(test_)}?{query}")

    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    if query.startswith("student=abc&excused"):
        assert sorted(response.json()) == ["excused", "student"]
    if status == 200:
        students = [r["student"] for r in response.json()["results"]]
        assert students == ([classmate.pk, student.pk] if query.endswith("-student") else [student.pk, classmate.pk])


# Grading one student: a plain valid body skips building the serializer (``ResultCreateSerializer.validated``);
# the serializer must take the same bodies with the same data, and word every error as it always has.

_GRADE_BODIES = [
    {"student": 7, "score": 73.5},
    {"student": 7, "score": 100},
    {"student": 7, "score": 0},
    {"student": 7, "score": 0.0},
    {"student": 7, "score": -0.0},
    {"student": 7, "score": 12.34},
    {"student": 7, "score": 99999.99},
    {"student": 7, "score": 100000},
    {"student": 7, "score": 12.345},
    {"student": 7, "score": 1e-05},
    {"student": 7, "score": 1e16},
    {"student": 7, "score": 10**30},
    {"student": 7, "score": -1},
    {"student": 7, "score": float("inf")},
    {"student": 7, "score": float("nan")},
    {"student": 7, "score": "5"},
    {"student": 7, "score": True},
    {"student": 7, "score": None},
    {"student": 7, "score": None, "excused": True},
    {"student": 7, "excused": True},
    {"student": 7, "excused": True, "late_waived": False},
    {"student": 7, "excused": False},
    {"student": 7, "excused": False, "score": 5},
    {"student": 7, "excused": True, "score": 5},
    {"student": 7, "excused": 1, "score": 5},
    {"student": 7, "score": 5, "late_waived": True},
    {"student": 7, "score": 5, "late_waived": "true"},
    {"student": 7, "score": 5, "late_waived": None},
    {"student": 7},
    {"score": 5},
    {},
    {"student": 7.0, "score": 5},
    {"student": True, "score": 5},
    {"student": "7", "score": 5},
    {"student": 0, "score": 5},
    {"student": 2**63 - 1, "score": 5},
    {"student": 2**63, "score": 5},
    {"student": None, "score": 5},
    {"student": 7, "score": 5, "grader": 3},
    {"student": 7, "score": 5, "id": 1},
    {"student": 7, "score": 5, "points": 1},
    [{"student": 7, "score": 5}],
    "text",
    None,
]


@pytest.mark.parametrize("body", _GRADE_BODIES, ids=repr)
def test_a_plain_grade_body_is_validated_as_the_serializer_validates_it(body):
    from grading.serializers import ResultCreateSerializer, _grade_body

    fast = _grade_body(body)
    serializer = ResultCreateSerializer(data=body)
    if fast is None:
        return  # the serializer answers it, whatever it says
    assert serializer.is_valid(), serializer.errors
    assert fast == dict(serializer.validated_data)
    assert {k: str(v) for k, v in fast.items()} == {k: str(v) for k, v in serializer.validated_data.items()}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"score": [SCORE_OR_EXCUSED], "student": ["This field is required."]}),
        ({"student": 7}, {"score": [SCORE_OR_EXCUSED]}),
        ({"student": 7, "excused": False}, {"score": [SCORE_OR_EXCUSED]}),
        ({"student": 7, "score": None}, {"score": [SCORE_OR_EXCUSED]}),
        ({"score": 5}, {"student": ["This field is required."]}),
        ({"student": "7", "score": 5}, {"student": ["A valid integer is required."]}),
        ({"student": 7.0, "score": 5}, {"student": ["A valid integer is required."]}),
        ({"student": True, "score": 5}, {"student": ["A valid integer is required."]}),
        ({"student": None, "score": 5}, {"student": ["This field may not be null."]}),
        ({"student": 0, "score": 5}, {"student": ["Ensure this value is greater than or equal to 1."]}),
        ({"student": 7, "score": "5"}, {"score": ["A valid number is required."]}),
        ({"student": 7, "score": True}, {"score": ["A valid number is required."]}),
        ({"student": 7, "score": -1}, {"score": ["Ensure this value is greater than or equal to 0."]}),
        ({"student": 7, "score": 12.345}, {"score": ["Ensure that there are no more than 2 decimal places."]}),
        (
            {"student": 7, "score": 100000},
            {"score": ["Ensure that there are no more than 5 digits before the decimal point."]},
        ),
        (
            {"student": 7, "score": 101},
            {"score": ["Ensure this value is less than or equal to the test's max_score (100.00)."]},
        ),
        (
            {"student": 7, "excused": True, "score": 5},
            {"excused": ["An excused result has no score: send one or the other."]},
        ),
        ({"student": 7, "excused": 1, "score": 5}, {"excused": ["Must be a valid boolean."]}),
        ({"student": 7, "score": 5, "late_waived": "true"}, {"late_waived": ["Must be a valid boolean."]}),
        ({"student": 7, "score": 5, "points": 1}, {"points": ["Unknown field."]}),
        ([{"student": 7, "score": 5}], {"detail": "Invalid data. Expected a dictionary, but got list."}),
    ],
    ids=repr,
)
def test_grading_one_student_words_each_error_as_before(client_for, teacher, test_, body, errors):
    response = client_for(teacher).post(results_url(test_), body, format="json")
    assert (response.status_code, response.json()) == (400, errors)
    assert not TestResult.objects.exists()


# Grading one student reads the caller together with the test and the caller's role in it
# (``TestResultViewSet.load_caller``): the caller is still checked first, then the test, then the role.


@pytest.mark.parametrize("which", ["the test", "no such test"])
@pytest.mark.parametrize("gone", ["inactive", "deleted", "logged out everywhere"])
def test_a_grade_by_a_caller_whose_token_no_longer_holds_is_401(client_for, teacher, test_, student, gone, which):
    client = client_for(teacher)
    if gone == "inactive":
        type(teacher).objects.filter(pk=teacher.pk).update(is_active=False)
    elif gone == "deleted":
        Enrollment.objects.filter(user=teacher).delete()
        type(teacher).objects.filter(pk=teacher.pk).delete()
    else:
        assert client.post("/api/auth/logout-all/").status_code == 204
    url = results_url(test_) if which == "the test" else "/api/tests/424242/results/"
    response = client.post(url, {"student": student.pk, "score": 5}, format="json")
    assert response.status_code == 401
    assert not TestResult.objects.exists()


@pytest.mark.parametrize("path", ["/api/tests/abc/results/", "/api/tests/0/results/", "/api/tests/424242/results/"])
def test_grading_a_test_that_is_not_there_is_404_with_nothing_written(client_for, teacher, student, path):
    response = client_for(teacher).post(path, {"student": student.pk, "score": 5}, format="json")
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert not TestResult.objects.exists()


def test_a_teacher_of_another_course_grading_is_403_even_with_a_bad_body(client_for, other_teacher, test_, student):
    client = client_for(other_teacher)
    for body in ({"student": student.pk, "score": 5}, {"student": "x"}):
        response = client.post(results_url(test_), body, format="json")
        assert (response.status_code, response.json()) == (
            403,
            {"detail": "You do not have permission to perform this action."},
        )
    assert not TestResult.objects.exists()


def test_a_teacher_grades_with_the_role_read_beside_the_caller(client_for, teacher, course, test_, student):
    # The caller's role in the test's course, not in another: a student there, a teacher here.
    other = Course.objects.create(name="Elsewhere")
    Enrollment.objects.create(user=teacher, course=other, role=Role.STUDENT)
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 5}, format="json")
    assert response.status_code == 201, response.content
    Enrollment.objects.filter(user=teacher, course=course).update(role=Role.STUDENT)
    response = client_for(teacher).post(results_url(test_), {"student": student.pk, "score": 5}, format="json")
    assert response.status_code == 403
