"""JWTs: refresh, logout, logout-all, revoked users, forged tokens and the 30-day chain cap."""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from io import StringIO

import jwt
import pytest
import time_machine
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts.authentication import JWTAuthentication
from accounts.tokens import issue_tokens
from tests.concurrency import run_at_once

PROFILE = "/api/profile/"
REFRESH = "/api/auth/refresh/"
LOGOUT = "/api/auth/logout/"
LOGOUT_ALL = "/api/auth/logout-all/"


def bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def refresh(raw):
    return APIClient().post(REFRESH, {"refresh": raw}, format="json")


def claims(raw):
    return jwt.decode(raw, options={"verify_signature": False})


def sign(payload, *, key=None, algorithm="HS256"):
    return jwt.encode(payload, key or settings.JWT_SECRET, algorithm=algorithm)


# --- access tokens ---------------------------------------------------------------------


def test_an_access_token_authenticates(student):
    assert bearer(issue_tokens(student)["access"]).get(PROFILE).status_code == 200


def test_tokens_are_hs256_with_issuer_audience_and_login_time(student):
    pair = issue_tokens(student)

    header = jwt.get_unverified_header(pair["access"])
    access, refresh_claims = claims(pair["access"]), claims(pair["refresh"])
    assert header["alg"] == "HS256"
    assert access["iss"] == refresh_claims["iss"] == settings.SIMPLE_JWT["ISSUER"]
    assert access["aud"] == refresh_claims["aud"] == settings.SIMPLE_JWT["AUDIENCE"]
    assert access["token_type"] == "access"
    assert refresh_claims["token_type"] == "refresh"
    assert access["auth_time"] == refresh_claims["auth_time"]
    assert access["exp"] - int(access["iat"]) == 15 * 60
    assert refresh_claims["exp"] - int(refresh_claims["iat"]) == 7 * 24 * 3600


def test_authentication_loads_the_user_in_one_query(student, django_assert_num_queries):
    access = issue_tokens(student)["access"]
    request = APIRequestFactory().get(PROFILE, HTTP_AUTHORIZATION=f"Bearer {access}")

    with django_assert_num_queries(1):
        user, _token = JWTAuthentication().authenticate(request)

    assert user == student


def test_an_expired_access_token_is_401(student):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        access = issue_tokens(student)["access"]
        traveller.shift(timedelta(minutes=15, seconds=1))
        response = bearer(access).get(PROFILE)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def _forgeries(access):
    payload = claims(access)
    none_token = ".".join(
        base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()
        for part in ({"alg": "none", "typ": "JWT"}, payload)
    )
    return {
        "alg none": none_token + ".",
        "HS512 with the right key": sign(payload, algorithm="HS512"),
        "wrong key": sign(payload, key="another-secret-that-is-long-enough-0123456789"),
        "wrong audience": sign({**payload, "aud": "someone-else"}),
        "no audience": sign({k: v for k, v in payload.items() if k != "aud"}),
        "wrong issuer": sign({**payload, "iss": "someone-else"}),
        "no issuer": sign({k: v for k, v in payload.items() if k != "iss"}),
        "tampered user": access.split(".")[0]
        + "."
        + base64.urlsafe_b64encode(json.dumps({**payload, "user_id": "1"}).encode()).rstrip(b"=").decode()
        + "."
        + access.split(".")[2],
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "HS512 with the right key",
        "wrong key",
        "wrong audience",
        "no audience",
        "wrong issuer",
        "no issuer",
        "tampered user",
        "garbage",
    ],
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_forged_access_token_is_401(student, kind):
    forged = _forgeries(issue_tokens(student)["access"])[kind]

    response = bearer(forged).get(PROFILE)

    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "kind", ["alg none", "HS512 with the right key", "wrong key", "wrong audience", "wrong issuer"]
)
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_forged_refresh_token_is_401(student, kind):
    forged = _forgeries(issue_tokens(student)["refresh"])[kind]

    assert refresh(forged).status_code == 401


def _segment(part) -> str:
    raw = part if isinstance(part, bytes) else json.dumps(part).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _signed_as(header: dict, payload) -> str:
    """A token with exactly this header and payload, signed with our key (HS256)."""
    signing_input = f"{_segment(header)}.{_segment(payload)}"
    mac = hmac.new(settings.JWT_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_segment(mac)}"


def _variants(access):
    """Tokens signed with our key that differ from an issued one in one way each, and whether each is good."""
    payload = claims(access)
    header, body, signature = access.split(".")
    now = int(time.time())
    # The signature's last character carries 4 bits that no byte uses: changing them keeps the bytes.
    spare = "AEIMQUYcgkosw048"
    other_last = spare[(spare.index(signature[-1]) + 1) % 16] if signature[-1] in spare else signature[-1]
    return {
        "as issued": (access, True),
        "audience among others": (sign({**payload, "aud": ["someone-else", payload["aud"]]}), True),
        "a key id in the header": (jwt.encode(payload, settings.JWT_SECRET, "HS256", headers={"kid": "k1"}), True),
        "header spelled with spaces": (_signed_as({"alg": "HS256", "typ": "JWT"}, payload), True),
        "issued in the future": (sign({**payload, "iat": now + 3600}), False),
        "not valid before an hour from now": (sign({**payload, "nbf": now + 3600}), False),
        "expired": (sign({**payload, "exp": now - 1}), False),
        "no expiry": (sign({k: v for k, v in payload.items() if k != "exp"}), False),
        "audience list without ours": (sign({**payload, "aud": ["someone-else"]}), False),
        "a subject that is not a string": (sign({**payload, "sub": 5}), False),
        "a refresh token's type": (sign({**payload, "token_type": "refresh"}), False),
        "signature encoded otherwise": (f"{header}.{body}.{signature[:-1]}{other_last}", False),
        "signature with base64 padding": (f"{header}.{body}.{signature}=", True),
        "a fourth segment": (f"{access}.{signature}", False),
        "a payload that is not an object": (_signed_as({"alg": "HS256", "typ": "JWT"}, [payload]), False),
        "a payload that is not JSON": (_signed_as({"alg": "HS256", "typ": "JWT"}, b"{nope"), False),
    }


@pytest.mark.parametrize(
    "kind",
    [
        "as issued",
        "audience among others",
        "a key id in the header",
        "header spelled with spaces",
        "issued in the future",
        "not valid before an hour from now",
        "expired",
        "no expiry",
        "audience list without ours",
        "a subject that is not a string",
        "a refresh token's type",
        "signature encoded otherwise",
        "signature with base64 padding",
        "a fourth segment",
        "a payload that is not an object",
        "a payload that is not JSON",
    ],
)
def test_a_token_signed_with_our_key_is_good_only_as_issued_or_in_a_form_jwt_allows(student, kind):
    token, good = _variants(issue_tokens(student)["access"])[kind]

    response = bearer(token).get(PROFILE)

    assert response.status_code == (200 if good else 401), response.content
    if not good:
        assert "detail" in response.json()


@pytest.mark.parametrize("user_id", ["abc", [1], None, "99999999999999999999999", "-1", 1.5])
def test_a_validly_signed_access_token_with_a_nonsense_user_is_401(student, user_id):
    forged = sign({**claims(issue_tokens(student)["access"]), "user_id": user_id})
    response = bearer(forged).get(PROFILE)
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize("change", ["no jti", "nonsense user", "huge user"])
def test_a_validly_signed_refresh_token_with_nonsense_claims_is_401(student, change):
    payload = claims(issue_tokens(student)["refresh"])
    if change == "no jti":
        payload.pop("jti")
    else:
        payload["user_id"] = "abc" if change == "nonsense user" else str(10**30)
    assert refresh(sign(payload)).status_code == 401


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_name_is_case_insensitive(student, scheme):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {issue_tokens(student)['access']}")
    assert client.get(PROFILE).status_code == 200


def test_a_refresh_token_is_not_an_access_token(student):
    assert bearer(issue_tokens(student)["refresh"]).get(PROFILE).status_code == 401


def test_an_access_token_is_not_a_refresh_token(student):
    assert refresh(issue_tokens(student)["access"]).status_code == 401


# --- refresh ---------------------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_token_stops_working(student):
    old = issue_tokens(student)["refresh"]

    response = refresh(old)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert bearer(body["access"]).get(PROFILE).status_code == 200
    assert refresh(old).status_code == 401
    assert refresh(body["refresh"]).status_code == 200
    assert BlacklistedToken.objects.filter(token__jti=claims(old)["jti"]).exists()


def test_refresh_works_without_a_trailing_slash_and_ignores_a_stale_bearer(student):
    client = bearer("stale")

    response = client.post("/api/auth/refresh", {"refresh": issue_tokens(student)["refresh"]}, format="json")

    assert response.status_code == 200


@pytest.mark.parametrize("body", [{}, {"refresh": ""}, {"refresh": None}])
def test_refresh_without_a_token_is_400(db, body):
    assert APIClient().post(REFRESH, body, format="json").status_code == 400


@pytest.mark.parametrize("token", ["\n", " ", "not-a-jwt", "a.b.c"])
def test_a_refresh_token_that_is_not_a_token_is_401(db, token):
    response = APIClient().post(REFRESH, {"refresh": token}, format="json")
    assert response.status_code == 401
    assert "detail" in response.json()


def test_an_expired_refresh_token_is_401(student):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        raw = issue_tokens(student)["refresh"]
        traveller.shift(timedelta(days=7, seconds=1))
        assert refresh(raw).status_code == 401


def test_no_chain_of_refreshes_outlives_thirty_days_from_the_login(student):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        raw = issue_tokens(student)["refresh"]
        for _ in range(4):  # days 6, 12, 18, 24
            traveller.shift(timedelta(days=6))
            response = refresh(raw)
            assert response.status_code == 200
            raw = response.json()["refresh"]

        traveller.shift(timedelta(days=5, hours=23))  # 29 days 23 hours after the login
        response = refresh(raw)
        assert response.status_code == 200
        end = int((start + timedelta(days=30)).timestamp())
        assert claims(response.json()["refresh"])["exp"] == end
        assert claims(response.json()["access"])["exp"] <= end
        raw = response.json()["refresh"]

        traveller.shift(timedelta(hours=1, seconds=1))
        assert refresh(raw).status_code == 401


def test_a_chain_keeps_its_login_time(student):
    pair = issue_tokens(student)

    rotated = refresh(pair["refresh"]).json()

    assert claims(rotated["refresh"])["auth_time"] == claims(pair["refresh"])["auth_time"]
    assert claims(rotated["access"])["auth_time"] == claims(pair["refresh"])["auth_time"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_give_exactly_one_success(make_user):
    raw = issue_tokens(make_user("ada@example.com"))["refresh"]

    responses = run_at_once(*[lambda: refresh(raw)] * 4)

    assert sorted(response.status_code for response in responses) == [200, 401, 401, 401]
    assert OutstandingToken.objects.count() == 2


# --- logout ----------------------------------------------------------------------------


def test_logout_kills_that_refresh_token(student):
    pair = issue_tokens(student)

    response = bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 204
    assert refresh(pair["refresh"]).status_code == 401


def test_logout_leaves_the_users_other_sessions(student):
    phone, laptop = issue_tokens(student), issue_tokens(student)

    bearer(phone["access"]).post("/api/auth/logout", {"refresh": phone["refresh"]}, format="json")

    assert refresh(laptop["refresh"]).status_code == 200


def test_logout_needs_authentication(student):
    pair = issue_tokens(student)

    response = APIClient().post(LOGOUT, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 401
    assert refresh(pair["refresh"]).status_code == 200


def test_logout_with_someone_elses_refresh_token_is_403(student, teacher):
    theirs = issue_tokens(teacher)["refresh"]

    response = bearer(issue_tokens(student)["access"]).post(LOGOUT, {"refresh": theirs}, format="json")

    assert response.status_code == 403
    assert refresh(theirs).status_code == 200


@pytest.mark.parametrize("which", ["access", "garbage", "missing"])
def test_logout_with_no_usable_refresh_token_is_400(student, which):
    pair = issue_tokens(student)
    body = {"access": {"refresh": pair["access"]}, "garbage": {"refresh": "x.y.z"}, "missing": {}}[which]

    response = bearer(pair["access"]).post(LOGOUT, body, format="json")

    assert response.status_code == 400
    assert "refresh" in response.json()


def test_logout_all_kills_every_token_at_once(student):
    pairs = [issue_tokens(student) for _ in range(3)]

    response = bearer(pairs[0]["access"]).post(LOGOUT_ALL)

    assert response.status_code == 204
    for pair in pairs:
        assert bearer(pair["access"]).get(PROFILE).status_code == 401
        assert refresh(pair["refresh"]).status_code == 401
    assert BlacklistedToken.objects.filter(token__user=student).count() == 3
    student.refresh_from_db()
    assert student.tokens_valid_after is not None


def test_logout_all_kills_tokens_issued_earlier_in_the_same_second_but_not_later_ones(student):
    second = timezone.now().replace(microsecond=100_000)
    with time_machine.travel(second, tick=False) as traveller:
        before = issue_tokens(student)
        traveller.shift(timedelta(milliseconds=100))
        assert bearer(before["access"]).post(LOGOUT_ALL).status_code == 204
        traveller.shift(timedelta(milliseconds=100))
        after = issue_tokens(student)

        assert int(claims(before["access"])["iat"]) == int(claims(after["access"])["iat"])
        assert bearer(before["access"]).get(PROFILE).status_code == 401
        assert bearer(after["access"]).get(PROFILE).status_code == 200
        assert refresh(after["refresh"]).status_code == 200


def test_logout_all_leaves_other_users_alone(student, teacher):
    theirs = issue_tokens(teacher)

    bearer(issue_tokens(student)["access"]).post(LOGOUT_ALL)

    assert bearer(theirs["access"]).get(PROFILE).status_code == 200
    assert refresh(theirs["refresh"]).status_code == 200


def test_logout_all_needs_authentication(db):
    assert APIClient().post(LOGOUT_ALL).status_code == 401


# --- users who are gone ----------------------------------------------------------------


def test_a_deactivated_users_tokens_are_401_everywhere(student):
    pair = issue_tokens(student)
    student.is_active = False
    student.save()

    for path in (PROFILE, "/api/courses/"):
        assert bearer(pair["access"]).get(path).status_code == 401
    assert bearer(pair["access"]).post(LOGOUT_ALL).status_code == 401
    assert bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json").status_code == 401
    assert refresh(pair["refresh"]).status_code == 401


def test_a_deleted_users_tokens_are_401_everywhere_including_refresh(student):
    pair = issue_tokens(student)
    student.delete()

    for path in (PROFILE, "/api/courses/"):
        response = bearer(pair["access"]).get(path)
        assert response.status_code == 401
        assert "detail" in response.json()
    assert bearer(pair["access"]).post(LOGOUT_ALL).status_code == 401
    response = refresh(pair["refresh"])
    assert response.status_code == 401
    assert "detail" in response.json()


# --- issue_token -----------------------------------------------------------------------


def test_issue_token_prints_a_working_access_token(student):
    out = StringIO()

    call_command("issue_token", "Student@Example.com", stdout=out)

    access = out.getvalue().strip()
    assert claims(access)["token_type"] == "access"
    assert bearer(access).get(PROFILE).json()["email"] == "student@example.com"


def test_issue_token_refuses_an_unknown_or_deactivated_user(student):
    with pytest.raises(CommandError, match="No user"):
        call_command("issue_token", "nobody@example.com", stdout=StringIO())
    student.is_active = False
    student.save()
    with pytest.raises(CommandError, match="deactivated"):
        call_command("issue_token", "student@example.com", stdout=StringIO())
