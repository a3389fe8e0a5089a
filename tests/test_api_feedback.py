"""/api/courses/{id}/feedback/: students leave it, teachers read it, a student reads their own."""

import pytest

from courses.models import Feedback

pytestmark = pytest.mark.django_db


def test_student_leaves_feedback(client_for, student, course):
    response = client_for(student).post(f"/api/courses/{course.pk}/feedback/", {"feedback": "Great ✨"}, format="json")
    assert response.status_code == 201
    feedback = Feedback.objects.get()
    assert response.json() == {
        "id": feedback.pk,
        "course": course.pk,
        "student": student.pk,
        "feedback": "Great ✨",
        "created_at": feedback.created_at.isoformat().replace("+00:00", "Z"),
    }


@pytest.mark.parametrize("who", ["teacher", "stranger", "other_teacher", "admin_user"])
def test_only_students_of_the_course_leave_feedback(request, client_for, course, who):
    user = request.getfixturevalue(who)
    response = client_for(user).post(f"/api/courses/{course.pk}/feedback/", {"feedback": "x"}, format="json")
    assert response.status_code == 403
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(
    "payload", [{}, {"feedback": ""}, {"feedback": 3}, {"feedback": "x", "rating": 5}, {"feedback": None}]
)
def test_bad_feedback_is_400(client_for, student, course, payload):
    response = client_for(student).post(f"/api/courses/{course.pk}/feedback/", payload, format="json")
    assert response.status_code == 400
    assert not Feedback.objects.exists()


def test_teacher_reads_all_feedback(client_for, teacher, student, classmate, course):
    Feedback.objects.create(course=course, student=student, feedback="a")
    Feedback.objects.create(course=course, student=classmate, feedback="b")
    body = client_for(teacher).get(f"/api/courses/{course.pk}/feedback/").json()
    assert body["count"] == 2
    assert [f["feedback"] for f in body["results"]] == ["a", "b"]


def test_teacher_filters_feedback_by_student(client_for, teacher, student, classmate, course):
    Feedback.objects.create(course=course, student=student, feedback="a")
    Feedback.objects.create(course=course, student=classmate, feedback="b")
    body = client_for(teacher).get(f"/api/courses/{course.pk}/feedback/", {"student": classmate.pk}).json()
    assert [f["feedback"] for f in body["results"]] == ["b"]


def test_student_reads_only_their_own_feedback(client_for, student, classmate, course):
    Feedback.objects.create(course=course, student=student, feedback="mine")
    Feedback.objects.create(course=course, student=classmate, feedback="theirs")
    response = client_for(student).get(f"/api/courses/{course.pk}/feedback/")
    assert response.status_code == 200
    assert [f["feedback"] for f in response.json()["results"]] == ["mine"]


def test_admin_reads_all_feedback(client_for, admin_user, student, course):
    Feedback.objects.create(course=course, student=student, feedback="a")
    assert client_for(admin_user).get(f"/api/courses/{course.pk}/feedback/").json()["count"] == 1


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_outsiders_cannot_read_feedback(request, client_for, course, who):
    assert client_for(request.getfixturevalue(who)).get(f"/api/courses/{course.pk}/feedback/").status_code == 403


def test_feedback_on_an_unknown_course_is_404(client_for, student):
    assert client_for(student).get("/api/courses/55555/feedback/").status_code == 404
