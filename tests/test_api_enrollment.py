"""Enrollment: a course's members, a user's courses, rule E, unenrolling and the last teacher."""

import pytest

from accounts.models import User
from courses.models import Course, Enrollment, Role

pytestmark = pytest.mark.django_db


def roles(course):
    return dict(Enrollment.objects.filter(course=course).values_list("user__email", "role"))


# /api/courses/{id}/members/


def test_teacher_lists_members(client_for, teacher, student, course):
    response = client_for(teacher).get(f"/api/courses/{course.pk}/members/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["results"][0]
    assert set(first) == {"user", "course", "role", "created_at"}
    assert first["user"] == {"id": teacher.pk, "email": teacher.email, "first_name": "Grace", "last_name": "Bell"}
    assert first["course"] == course.pk
    assert first["role"] == "TEACHER"


def test_members_filter_by_role(client_for, teacher, student, course):
    body = client_for(teacher).get(f"/api/courses/{course.pk}/members/", {"role": "STUDENT"}).json()
    assert [m["user"]["id"] for m in body["results"]] == [student.pk]


def test_members_order_by_last_name(client_for, teacher, student, course):
    body = client_for(teacher).get(f"/api/courses/{course.pk}/members/", {"ordering": "-last_name"}).json()
    assert [m["user"]["last_name"] for m in body["results"]] == ["Devi", "Bell"]


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_and_admins_list_members(request, client_for, course, who):
    assert client_for(request.getfixturevalue(who)).get(f"/api/courses/{course.pk}/members/").status_code == 403


def test_teacher_enrolls_a_user_by_id(client_for, teacher, stranger, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/members/", {"user": stranger.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 201
    body = response.json()
    assert body["user"]["id"] == stranger.pk
    assert body["course"] == course.pk
    assert body["role"] == "STUDENT"
    assert body["created_at"].endswith("Z")
    assert roles(course)[stranger.email] == "STUDENT"


def test_teacher_enrolls_another_teacher(client_for, teacher, other_teacher, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/members/", {"user": other_teacher.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 201
    assert roles(course)[other_teacher.email] == "TEACHER"


def test_enrolling_an_unknown_email_creates_the_user(client_for, teacher, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/members/", {"email": "New.Student@Example.com", "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 201
    user = User.objects.get(email="new.student@example.com")
    assert response.json()["user"]["id"] == user.pk
    assert roles(course)["new.student@example.com"] == "STUDENT"


def test_enrolling_a_known_email_uses_that_user(client_for, teacher, stranger, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/members/", {"email": "STRANGER@example.com", "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["user"]["id"] == stranger.pk
    assert User.objects.filter(email="stranger@example.com").count() == 1


def test_enrolling_a_member_again_is_409(client_for, teacher, student, course):
    response = client_for(teacher).post(
        f"/api/courses/{course.pk}/members/", {"user": student.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 409
    assert roles(course)[student.email] == "STUDENT"


@pytest.mark.parametrize(
    "payload",
    [
        {"role": "STUDENT"},
        {"user": 1, "email": "a@example.com", "role": "STUDENT"},
        {"email": "not-an-email", "role": "STUDENT"},
        {"user": 987654, "role": "STUDENT"},
        {"user": 99999999999999999999999, "role": "STUDENT"},
        {"user": "abc", "role": "STUDENT"},
        {"email": "a@example.com", "role": "OWNER"},
        {"email": "a@example.com"},
    ],
)
def test_bad_member_payloads_are_400(client_for, teacher, course, payload):
    response = client_for(teacher).post(f"/api/courses/{course.pk}/members/", payload, format="json")
    assert response.status_code == 400
    assert Enrollment.objects.filter(course=course).count() == 2
    assert not User.objects.filter(email="a@example.com").exists()


def test_neither_user_nor_email_is_a_detail_error(client_for, teacher, course):
    response = client_for(teacher).post(f"/api/courses/{course.pk}/members/", {"role": "STUDENT"}, format="json")
    assert set(response.json()) == {"detail"}


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_and_admins_enroll_members(request, client_for, course, who):
    user = request.getfixturevalue(who)
    response = client_for(user).post(
        f"/api/courses/{course.pk}/members/", {"email": "x@example.com", "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 403
    assert not User.objects.filter(email="x@example.com").exists()


def test_admin_enrolls_members(client_for, admin_user, stranger, course):
    response = client_for(admin_user).post(
        f"/api/courses/{course.pk}/members/", {"user": stranger.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 201


# /api/users/{id}/courses/ and rule E


def test_user_lists_their_enrollments_with_courses(client_for, student, course):
    response = client_for(student).get(f"/api/users/{student.pk}/courses/")
    assert response.status_code == 200
    (item,) = response.json()["results"]
    assert item["course"] == {"id": course.pk, "name": course.name, "details": course.details}
    assert item["role"] == "STUDENT"
    assert item["user"]["id"] == student.pk


def test_admin_lists_anyones_enrollments(client_for, admin_user, student, course):
    assert client_for(admin_user).get(f"/api/users/{student.pk}/courses/").json()["count"] == 1


def test_others_cannot_list_a_users_enrollments(client_for, teacher, student, course):
    assert client_for(teacher).get(f"/api/users/{student.pk}/courses/").status_code == 403


def test_user_enrolls_themself_as_student(client_for, stranger, course):
    response = client_for(stranger).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["course"] == course.pk
    assert response.json()["role"] == "STUDENT"
    assert roles(course)[stranger.email] == "STUDENT"


def test_user_cannot_enroll_themself_as_teacher(client_for, stranger, course):
    response = client_for(stranger).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 403
    assert stranger.email not in roles(course)


def test_student_cannot_promote_themself_to_teacher(client_for, student, course):
    response = client_for(student).post(
        f"/api/users/{student.pk}/courses/", {"course": course.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 403
    assert roles(course)[student.email] == "STUDENT"


def test_user_cannot_enroll_someone_else(client_for, student, stranger, course):
    response = client_for(student).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 403
    assert stranger.email not in roles(course)


def test_teacher_of_another_course_cannot_enroll_someone_here(client_for, other_teacher, stranger, course):
    response = client_for(other_teacher).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 403


def test_teacher_enrolls_someone_as_teacher(client_for, teacher, stranger, course):
    response = client_for(teacher).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 201
    assert roles(course)[stranger.email] == "TEACHER"


def test_admin_enrolls_anyone_as_anything(client_for, admin_user, stranger, course):
    response = client_for(admin_user).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 201


def test_enrolling_twice_is_409(client_for, student, course):
    response = client_for(student).post(
        f"/api/users/{student.pk}/courses/", {"course": course.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 409
    assert Enrollment.objects.filter(user=student, course=course).count() == 1


def test_enrolling_in_an_unknown_course_is_400(client_for, stranger):
    response = client_for(stranger).post(
        f"/api/users/{stranger.pk}/courses/", {"course": 99999, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 400
    assert "course" in response.json()


def test_enrolling_an_unknown_user_is_404(client_for, admin_user, course):
    response = client_for(admin_user).post(
        "/api/users/99999/courses/", {"course": course.pk, "role": "STUDENT"}, format="json"
    )
    assert response.status_code == 404


# DELETE /api/users/{id}/courses/{course_id}/


def test_student_unenrolls_themself(client_for, student, course):
    assert client_for(student).delete(f"/api/users/{student.pk}/courses/{course.pk}/").status_code == 204
    assert student.email not in roles(course)


def test_teacher_unenrolls_a_student(client_for, teacher, student, course):
    assert client_for(teacher).delete(f"/api/users/{student.pk}/courses/{course.pk}").status_code == 204
    assert student.email not in roles(course)


def test_admin_unenrolls_anyone(client_for, admin_user, student, course):
    assert client_for(admin_user).delete(f"/api/users/{student.pk}/courses/{course.pk}/").status_code == 204


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_others_cannot_unenroll_a_student(request, client_for, student, course, who):
    user = request.getfixturevalue(who)
    assert client_for(user).delete(f"/api/users/{student.pk}/courses/{course.pk}/").status_code == 403
    assert student.email in roles(course)


def test_student_cannot_unenroll_their_teacher(client_for, student, teacher, course):
    assert client_for(student).delete(f"/api/users/{teacher.pk}/courses/{course.pk}/").status_code == 403
    assert teacher.email in roles(course)


def test_last_teacher_cannot_leave(client_for, teacher, course):
    response = client_for(teacher).delete(f"/api/users/{teacher.pk}/courses/{course.pk}/")
    assert response.status_code == 409
    assert "detail" in response.json()
    assert roles(course)[teacher.email] == "TEACHER"


def test_a_teacher_leaves_when_another_remains(client_for, teacher, other_teacher, course):
    Enrollment.objects.create(user=other_teacher, course=course, role=Role.TEACHER)
    assert client_for(teacher).delete(f"/api/users/{teacher.pk}/courses/{course.pk}/").status_code == 204
    assert roles(course) == {"student@example.com": "STUDENT", "other.teacher@example.com": "TEACHER"}


def test_admin_cannot_remove_the_last_teacher_either(client_for, admin_user, teacher, course):
    assert client_for(admin_user).delete(f"/api/users/{teacher.pk}/courses/{course.pk}/").status_code == 409


def test_unenrolling_someone_not_enrolled_is_404(client_for, stranger, course):
    assert client_for(stranger).delete(f"/api/users/{stranger.pk}/courses/{course.pk}/").status_code == 404


def test_unenrolling_from_an_unknown_course_is_404(client_for, student):
    assert client_for(student).delete(f"/api/users/{student.pk}/courses/98765/").status_code == 404
    assert client_for(student).delete(f"/api/users/{student.pk}/courses/99999999999999999999999/").status_code == 404


def test_seed_hole_any_user_could_enroll_as_teacher_is_closed(client_for, stranger):
    course = Course.objects.create(name="Seeded")
    response = client_for(stranger).post(
        f"/api/users/{stranger.pk}/courses/", {"course": course.pk, "role": "TEACHER"}, format="json"
    )
    assert response.status_code == 403
    assert not Enrollment.objects.filter(course=course).exists()
