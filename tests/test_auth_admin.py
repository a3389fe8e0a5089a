"""The admin's sign-in page: an emailed code through the same backend as the API, or a password."""

import pytest

from accounts.models import LoginCode, User

LOGIN = "/admin/login/"


def request_code(client, email, **extra):
    return client.post(LOGIN, {"step": "request-code", "email": email, "next": "/admin/"}, **extra)


def enter_code(client, email, code, next_url="/admin/"):
    return client.post(LOGIN, {"step": "verify-code", "email": email, "code": code, "next": next_url})


def test_the_login_page_offers_a_code_and_looks_like_the_admin(client, db):
    response = client.get(LOGIN)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Grading administration" in page
    assert "admin/css/login.css" in page
    assert 'name="step" value="request-code"' in page
    assert "Email me a code" in page
    assert "Log in with a password instead" in page


def test_a_teacher_signs_in_with_an_emailed_code(client, fake_sendgrid, course, teacher):
    response = request_code(client, "Teacher@Example.com")

    assert response.status_code == 200
    assert 'name="step" value="verify-code"' in response.content.decode()
    message = fake_sendgrid.last_message_to("teacher@example.com")
    assert message.path == "/v3/mail/send"
    assert message.authorization == f"Bearer {fake_sendgrid.api_key}"

    response = enter_code(client, "teacher@example.com", fake_sendgrid.latest_code("teacher@example.com"))

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert int(client.session["_auth_user_id"]) == teacher.pk
    assert client.session["_auth_user_backend"] == "accounts.backends.EmailCodeBackend"


def test_after_signing_in_the_person_goes_where_they_were_going(client, fake_sendgrid, course, teacher):
    request_code(client, "teacher@example.com")
    code = fake_sendgrid.latest_code("teacher@example.com")

    response = enter_code(client, "teacher@example.com", code, "/admin/accounts/")

    assert response["Location"] == "/admin/accounts/"


def test_an_outside_next_url_is_not_followed(client, fake_sendgrid, course, teacher):
    request_code(client, "teacher@example.com")

    response = enter_code(
        client, "teacher@example.com", fake_sendgrid.latest_code("teacher@example.com"), "https://evil.example/"
    )

    assert response["Location"] == "/admin/"


def test_a_wrong_code_shows_an_error_and_signs_no_one_in(client, fake_sendgrid, course, teacher):
    request_code(client, "teacher@example.com")
    code = fake_sendgrid.latest_code("teacher@example.com")

    response = enter_code(client, "teacher@example.com", f"{(int(code) + 1) % 10**8:08d}")

    assert response.status_code == 400
    assert "wrong, expired or already used" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert LoginCode.objects.get().attempts == 1


def test_a_code_works_once_in_the_admin_too(client, fake_sendgrid, course, teacher):
    request_code(client, "teacher@example.com")
    code = fake_sendgrid.latest_code("teacher@example.com")
    enter_code(client, "teacher@example.com", code)
    client.logout()

    assert enter_code(client, "teacher@example.com", code).status_code == 400


def test_a_code_from_the_api_signs_a_teacher_into_the_admin(client, fake_sendgrid, course, teacher):
    client.post("/api/auth/login/", {"email": "teacher@example.com"}, content_type="application/json")

    response = enter_code(client, "teacher@example.com", fake_sendgrid.latest_code("teacher@example.com"))

    assert response.status_code == 302


@pytest.mark.parametrize("email", ["student@example.com", "nobody@example.com"])
def test_no_code_is_sent_to_someone_who_cannot_use_the_admin(client, fake_sendgrid, course, email):
    response = request_code(client, email)

    assert response.status_code == 200  # the same answer as for a teacher: nothing to learn here
    assert 'name="step" value="verify-code"' in response.content.decode()
    assert fake_sendgrid.messages == []
    assert not User.objects.filter(email="nobody@example.com").exists()


def test_a_student_with_an_api_code_is_not_let_into_the_admin(client, fake_sendgrid, course, student):
    client.post("/api/auth/login/", {"email": "student@example.com"}, content_type="application/json")

    response = enter_code(client, "student@example.com", fake_sendgrid.latest_code("student@example.com"))

    assert response.status_code == 403
    assert "cannot use the admin" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_superuser_still_signs_in_with_a_password(client, db):
    User.objects.create_superuser("root@example.com", password="a-long-admin-password-42")

    assert client.get(LOGIN + "?with=password").status_code == 200
    response = client.post(LOGIN, {"username": "Root@Example.com", "password": "a-long-admin-password-42"})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_a_wrong_password_is_refused(client, db):
    User.objects.create_superuser("root@example.com", password="a-long-admin-password-42")

    response = client.post(LOGIN, {"username": "root@example.com", "password": "nope"})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_superuser_can_sign_in_with_a_code(client, fake_sendgrid, admin_user):
    request_code(client, "admin@example.com")

    response = enter_code(client, "admin@example.com", fake_sendgrid.latest_code("admin@example.com"))

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_sendgrid_failing_shows_a_message_instead_of_an_error_page(client, fake_sendgrid, course, teacher):
    fake_sendgrid.fail_with("500")

    response = request_code(client, "teacher@example.com")

    assert response.status_code == 503
    assert "could not be emailed" in response.content.decode()


def test_the_admin_shares_the_login_limits(client, fake_sendgrid, settings, course, teacher):
    settings.LOGIN_CODES_PER_EMAIL_PER_HOUR = 2
    for _ in range(2):
        request_code(client, "teacher@example.com")

    response = request_code(client, "teacher@example.com")

    assert response.status_code == 429
    assert "Too many sign-in requests" in response.content.decode()
    api = client.post("/api/auth/login/", {"email": "teacher@example.com"}, content_type="application/json")
    assert api.status_code == 429


def test_a_signed_in_teacher_is_sent_on_to_the_admin(client, course, teacher):
    client.force_login(teacher, backend="accounts.backends.EmailCodeBackend")

    response = client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_a_passwordless_teacher_is_not_offered_a_password_to_change(client_as, course, teacher):
    client = client_as(teacher)

    index = client.get("/admin/")
    change = client.get("/admin/password_change/", follow=True)

    assert index.status_code == 200 and "Change password" not in index.content.decode()
    assert change.redirect_chain == [("/admin/", 302)]
    assert "there is no password to change" in change.content.decode()


def test_someone_with_a_password_still_changes_it(client, db):
    from accounts.models import User

    admin = User.objects.create_superuser("pw@example.com", password="a-long-enough-password-1")
    client.force_login(admin)

    assert "Change password" in client.get("/admin/").content.decode()
    assert client.get("/admin/password_change/").status_code == 200


def test_a_refused_admin_page_is_logged_in_one_line_without_a_traceback(client_as, course, teacher, caplog):
    client = client_as(teacher)

    with caplog.at_level("WARNING", logger="django.request"):
        response = client.get("/admin/auth/group/")

    assert response.status_code == 403
    refused = [r for r in caplog.records if r.name == "django.request"]
    assert refused and all(r.exc_info is None for r in refused)
    assert "Traceback" not in caplog.text
