"""The admin is scoped by the policy: teachers sign in without a staff flag and see only their courses.

Another course's objects are a 404 by URL (change, delete, history pages); lists leave them out.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from courses.models import Course, Enrollment, Feedback, Role
from grading import services
from grading.models import GradeChange, Submission, Test, TestResult


@pytest.fixture
def admin_client_for(client):
    def make(user):
        client.force_login(user)
        return client

    return make


@pytest.fixture
def theirs(other_course, other_teacher, make_user):
    """Another teacher's course with a test, a graded student and feedback."""
    pupil = make_user("pupil@example.com")
    Enrollment.objects.create(user=pupil, course=other_course, role=Role.STUDENT)
    test = Test.objects.create(course=other_course, name="Their quiz", date=date(2026, 5, 1))
    result = services.result_record(test=test, student=pupil, score=Decimal("5"), by=other_teacher)
    feedback = Feedback.objects.create(course=other_course, student=pupil, feedback="Theirs")
    enrollment = Enrollment.objects.get(user=pupil)
    submission = _handed_in(test, pupil)
    return {
        "course": other_course,
        "test": test,
        "result": result,
        "change": GradeChange.objects.get(result=result),
        "feedback": feedback,
        "enrollment": enrollment,
        "submission": submission,
    }


def _handed_in(test, student):
    Test.objects.filter(pk=test.pk).update(submission_type="online")
    return Submission.objects.create(test=test, student=student, attempt=1, submitted_at=timezone.now(), body="Work")


@pytest.fixture
def mine(course, teacher, student, test_):
    result = services.result_record(test=test_, student=student, score=Decimal("50"), by=teacher)
    feedback = Feedback.objects.create(course=course, student=student, feedback="Mine")
    return {
        "course": course,
        "test": test_,
        "result": result,
        "change": GradeChange.objects.get(result=result),
        "feedback": feedback,
        "enrollment": Enrollment.objects.get(user=student),
        "submission": _handed_in(test_, student),
    }


MODELS = {
    "course": "courses_course",
    "test": "grading_test",
    "result": "grading_testresult",
    "change": "grading_gradechange",
    "feedback": "courses_feedback",
    "enrollment": "courses_enrollment",
    "submission": "grading_submission",
}


def test_a_teacher_signs_in_without_a_staff_flag(teacher, course, admin_client_for):
    assert not teacher.is_staff

    response = admin_client_for(teacher).get("/admin/")

    assert response.status_code == 200
    assert b"Tests" in response.content


@pytest.mark.parametrize("who", ["student", "stranger"])
def test_people_who_teach_nothing_are_sent_to_the_login_page(who, request, course, admin_client_for):
    response = admin_client_for(request.getfixturevalue(who)).get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_teacher_lists_only_their_courses_objects(kind, teacher, mine, theirs, admin_client_for):
    response = admin_client_for(teacher).get(reverse(f"admin:{MODELS[kind]}_changelist"))

    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    if kind == "enrollment":  # the teacher's own enrollment is in their course too
        assert shown == set(Enrollment.objects.filter(course=mine["course"]).values_list("pk", flat=True))
    else:
        assert shown == {mine[kind].pk}


@pytest.mark.parametrize("kind", list(MODELS))
@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_a_teacher_cannot_open_another_courses_object_by_url(kind, page, teacher, mine, theirs, admin_client_for):
    response = admin_client_for(teacher).get(reverse(f"admin:{MODELS[kind]}_{page}", args=[theirs[kind].pk]))

    assert response.status_code == 404  # as if it didn't exist: no redirect, no hint


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_teacher_opens_their_own_objects(kind, teacher, mine, admin_client_for):
    response = admin_client_for(teacher).get(reverse(f"admin:{MODELS[kind]}_change", args=[mine[kind].pk]))

    assert response.status_code == 200


def test_filtering_a_list_by_another_course_shows_nothing(teacher, mine, theirs, admin_client_for):
    url = reverse("admin:grading_test_changelist") + f"?course__id__exact={theirs['course'].pk}"

    response = admin_client_for(teacher).get(url)

    assert response.status_code == 200
    assert theirs["test"] not in response.context["cl"].result_list


def test_list_filters_offer_only_the_teachers_courses(teacher, mine, theirs, admin_client_for):
    response = admin_client_for(teacher).get(reverse("admin:grading_test_changelist"))

    assert theirs["course"].name.encode() not in response.content


def test_a_superuser_sees_every_course(admin_user, mine, theirs, admin_client_for):
    client = admin_client_for(admin_user)

    response = client.get(reverse("admin:grading_test_changelist"))

    assert {t.pk for t in response.context["cl"].result_list} == {mine["test"].pk, theirs["test"].pk}
    assert client.get(reverse("admin:grading_test_change", args=[theirs["test"].pk])).status_code == 200


def test_the_user_list_is_for_superusers_only(teacher, admin_user, mine, admin_client_for):
    client = admin_client_for(teacher)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert client.get(reverse("admin:accounts_user_change", args=[teacher.pk])).status_code == 403
    assert b"/admin/accounts/user/" not in client.get("/admin/").content

    client = admin_client_for(admin_user)
    assert client.get(reverse("admin:accounts_user_changelist")).status_code == 200
    assert client.get(reverse("admin:accounts_user_add")).status_code == 200


def test_enrollments_and_feedback_are_read_only_for_teachers(teacher, mine, admin_client_for):
    client = admin_client_for(teacher)

    assert client.get(reverse("admin:courses_enrollment_add")).status_code == 403
    response = client.post(
        reverse("admin:courses_enrollment_delete", args=[mine["enrollment"].pk]), {"post": "yes"}, follow=False
    )
    assert response.status_code == 403
    assert Enrollment.objects.filter(pk=mine["enrollment"].pk).exists()


def test_history_is_read_only_even_for_superusers(admin_user, mine, admin_client_for):
    client = admin_client_for(admin_user)
    change = mine["change"]

    assert client.get(reverse("admin:grading_gradechange_add")).status_code == 403
    client.post(reverse("admin:grading_gradechange_change", args=[change.pk]), {"new_score": "1"})
    client.post(reverse("admin:grading_gradechange_delete", args=[change.pk]), {"post": "yes"})

    change.refresh_from_db()
    assert change.new_score == Decimal("50")


def test_a_teacher_downloads_only_their_own_gradebook(teacher, mine, theirs, admin_client_for):
    client = admin_client_for(teacher)

    own = client.get(reverse("admin:courses_course_gradebook", args=[mine["course"].pk]))
    other = client.get(reverse("admin:courses_course_gradebook", args=[theirs["course"].pk]))

    assert own.status_code == 200
    assert own["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(own.streaming_content).decode().splitlines()[1].startswith("student@example.com,")
    assert other.status_code == 404


def test_gradebook_action_downloads_the_selected_courses_csv(teacher, mine, admin_client_for):
    response = admin_client_for(teacher).post(
        reverse("admin:courses_course_changelist"),
        {"action": "download_gradebook", "_selected_action": [mine["course"].pk]},
    )

    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    assert body.startswith("email,first_name,last_name,Midterm (#")


def test_gradebook_action_cannot_reach_another_course(teacher, mine, theirs, admin_client_for):
    response = admin_client_for(teacher).post(
        reverse("admin:courses_course_changelist"),
        {"action": "download_gradebook", "_selected_action": [theirs["course"].pk]},
    )

    # The selection is filtered through the teacher's scope: nothing selected, back to the list.
    assert response.status_code == 302
    assert TestResult.objects.count() == 2


def _filters(response) -> str:
    """The list's filter panel (Django leaves out a filter with a single choice)."""
    page = response.content.decode()
    return page.split('id="changelist-filter"', 1)[1].split("</nav>", 1)[0]


@pytest.fixture
def second(teacher):
    """A second course the teacher teaches, with two tests."""
    course = Course.objects.create(name="Second course")
    Enrollment.objects.create(user=teacher, course=course, role=Role.TEACHER)
    for name in ("Second quiz", "Third quiz"):
        Test.objects.create(course=course, name=name, date=date(2026, 6, 1))
    return course


@pytest.mark.parametrize("kind", ["result", "change", "enrollment", "feedback", "test", "submission"])
def test_a_lists_filters_offer_only_the_teachers_courses_and_tests(
    kind, teacher, mine, second, theirs, admin_client_for
):
    filters = _filters(admin_client_for(teacher).get(reverse(f"admin:{MODELS[kind]}_changelist")))

    assert mine["course"].name in filters and second.name in filters
    assert theirs["course"].name not in filters
    assert theirs["test"].name not in filters


def test_choosing_a_course_narrows_the_test_filter_to_its_tests(teacher, mine, second, admin_client_for):
    client = admin_client_for(teacher)
    url = reverse("admin:grading_testresult_changelist")

    every = _filters(client.get(url))
    narrowed = _filters(client.get(url + f"?test__course__id__exact={second.pk}"))

    assert "CRUD with Django: Midterm" in every and "Second course: Second quiz" in every
    assert "Second course: Second quiz" in narrowed and "Second course: Third quiz" in narrowed
    assert "Midterm" not in narrowed


def test_a_superuser_filters_by_any_course_and_test(admin_user, mine, theirs, admin_client_for):
    filters = _filters(admin_client_for(admin_user).get(reverse("admin:grading_testresult_changelist")))

    assert f"{mine['course'].name}: {mine['test'].name}" in filters
    assert f"{theirs['course'].name}: {theirs['test'].name}" in filters


@pytest.mark.parametrize("kind", list(MODELS))
def test_a_lists_selection_checkboxes_are_djangos_own(kind, teacher, mine, admin_client_for):
    # Written directly rather than through the widget's template: the same HTML, which the actions read.
    response = admin_client_for(teacher).get(reverse(f"admin:{MODELS[kind]}_changelist"))
    model_admin = response.context["cl"].model_admin
    obj = mine[kind]

    assert model_admin.action_checkbox(obj) == admin.ModelAdmin.action_checkbox(model_admin, obj)
