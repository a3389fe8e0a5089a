"""The gradebook as CSV: the streamed export (/gradebook.csv, Accept: text/csv) and the import back."""

import csv
import io
import json
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from courses.models import Enrollment, Role
from grading import services
from grading.models import GradeChange, Test, TestResult


def csv_url(course_id):
    return f"/api/courses/{course_id}/gradebook.csv"


def import_url(course_id, dry_run=False):
    return f"/api/courses/{course_id}/gradebook/import/" + ("?dry_run=true" if dry_run else "")


def content(response) -> str:
    return b"".join(response.streaming_content).decode()


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def to_csv(table: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue().encode()


def post_csv(client, course_id, body: bytes, dry_run=False):
    return client.generic("POST", import_url(course_id, dry_run), body, content_type="text/csv")


@pytest.fixture
def final(course):
    return Test.objects.create(course=course, name="Final", date=date(2026, 12, 20), max_score=Decimal("50"))


@pytest.fixture
def bob(make_user, course):
    user = make_user("bob@example.com", first_name="Bob", last_name="Young")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    return user


@pytest.fixture
def graded(teacher, student, bob, test_, final):
    services.result_record(test=test_, student=student, score=Decimal("87.5"), by=teacher)
    services.result_record(test=final, student=student, score=Decimal("40"), by=teacher)
    services.result_record(test=test_, student=bob, score=Decimal("60"), by=teacher)


def db_state():
    return (
        sorted(TestResult.objects.values_list("test_id", "student_id", "score")),
        GradeChange.objects.count(),
    )


# Export -----------------------------------------------------------------------------------------


@time_machine.travel(datetime(2026, 12, 5, 12, tzinfo=UTC), tick=False)  # the midterm is past, the final to come
def test_csv_export_has_the_contract_header_and_one_row_per_student(
    course, teacher, student, bob, test_, final, graded, client_for
):
    response = client_for(teacher).get(csv_url(course.pk))

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    tests = [f"Midterm (#{test_.pk})", f"Final (#{final.pk})"]
    assert rows(content(response)) == [
        ["email", "first_name", "last_name", *tests, "average_percent", "current_percent", "final_percent", "letter"],
        ["student@example.com", "Shakuntala", "Devi", "87.5", "40", "83.8", "85.00", "85.00", "B"],
        ["bob@example.com", "Bob", "Young", "60", "", "60.0", "60.00", "60.00", "D"],
    ]


def test_accept_text_csv_on_the_gradebook_gives_csv(course, teacher, graded, client_for):
    response = client_for(teacher).get(f"/api/courses/{course.pk}/gradebook/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert content(response).startswith("email,first_name,last_name,")


def test_the_csv_path_is_csv_whatever_the_accept_header(course, teacher, client_for):
    response = client_for(teacher).get(csv_url(course.pk), HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"


def test_an_unacceptable_accept_header_is_406_json(course, teacher, client_for):
    response = client_for(teacher).get(f"/api/courses/{course.pk}/gradebook/", HTTP_ACCEPT="image/png")

    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["gradebook.csv", "gradebook/"])
def test_errors_are_json_even_when_csv_was_asked_for(path, course, stranger, client_for):
    response = client_for(stranger).get(f"/api/courses/{course.pk}/{path}", HTTP_ACCEPT="text/csv")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_anonymous_csv_export_is_401_and_unknown_course_404(course, teacher, client_for):
    assert client_for().get(csv_url(course.pk)).status_code == 401
    assert client_for(teacher).get(csv_url(10**9)).status_code == 404


def test_cells_that_could_run_as_formulas_are_quoted(course, teacher, make_user, client_for):
    evil = make_user("evil@example.com", first_name='=HYPERLINK("http://x")', last_name="+1")
    Enrollment.objects.create(user=evil, course=course, role=Role.STUDENT)
    other = make_user("other@example.com", first_name="-2", last_name="@SUM(A1)")
    Enrollment.objects.create(user=other, course=course, role=Role.STUDENT)
    test = Test.objects.create(course=course, name="=cmd|' /C calc'!A0", date=date(2026, 1, 1))

    table = rows(content(client_for(teacher).get(csv_url(course.pk))))

    assert table[0][3] == f"'=cmd|' /C calc'!A0 (#{test.pk})"
    by_email = {row[0]: row for row in table[1:]}
    assert by_email["evil@example.com"][1:3] == ['\'=HYPERLINK("http://x")', "'+1"]
    assert by_email["other@example.com"][1:3] == ["'-2", "'@SUM(A1)"]
    assert by_email["student@example.com"][1:3] == ["Shakuntala", "Devi"]


def test_export_streams_a_large_course_row_by_row(course, teacher, make_user, test_, client_for):
    users = [make_user() for _ in range(300)]
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    services.results_upsert(test=test_, items=[(u.pk, Decimal(u.pk % 100)) for u in users], by=teacher)

    response = client_for(teacher).get(csv_url(course.pk))
    chunks = list(response.streaming_content)

    assert len(chunks) > 1  # rows are sent in batches, not built as one body
    table = rows(b"".join(chunks).decode())
    assert len(table) == 1 + 301
    assert {row[0]: row[3] for row in table[1:]}[users[7].email] == str(users[7].pk % 100)


# Import -----------------------------------------------------------------------------------------


def test_export_edit_import_round_trip(course, teacher, student, bob, test_, final, graded, client_for):
    client = client_for(teacher)
    table = rows(content(client.get(csv_url(course.pk))))
    table[1][3] = "90"  # Devi's midterm: 87.5 → 90
    table[1][4] = ""  # Devi's final: an empty cell changes nothing (stays 40)
    table[2][4] = "45.25"  # Young's final: new
    table[2][1] = "Robert"  # names and the average are ignored
    table[2][5] = "99"
    before = GradeChange.objects.count()

    response = post_csv(client, course.pk, to_csv(table))

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 1}
    scores = {(r.test_id, r.student_id): r.score for r in TestResult.objects.all()}
    assert scores == {
        (test_.pk, student.pk): Decimal("90"),
        (final.pk, student.pk): Decimal("40"),
        (test_.pk, bob.pk): Decimal("60"),
        (final.pk, bob.pk): Decimal("45.25"),
    }
    changes = list(GradeChange.objects.order_by("id")[before:])
    assert [(c.action, c.old_score, c.new_score, c.via, c.changed_by_id) for c in changes] == [
        ("updated", Decimal("87.5"), Decimal("90"), "import", teacher.pk),
        ("created", None, Decimal("45.25"), "import", teacher.pk),
    ]
    bob.refresh_from_db()
    assert bob.first_name == "Bob"


def test_import_by_multipart_upload(course, teacher, bob, test_, client_for):
    upload = SimpleUploadedFile("grades.csv", f"email,Midterm (#{test_.pk})\r\nbob@example.com,70\r\n".encode())

    response = client_for(teacher).post(import_url(course.pk), {"file": upload}, format="multipart")

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}
    assert TestResult.objects.get(test=test_, student=bob).score == 70


def test_import_undoes_the_formula_quote_and_matches_email_case_insensitively(course, teacher, make_user, client_for):
    user = make_user("minus@example.com", first_name="-Dash")
    Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    test = Test.objects.create(course=course, name="=Formula", date=date(2026, 1, 1))
    client = client_for(teacher)
    table = rows(content(client.get(csv_url(course.pk))))
    assert table[0][3] == f"'=Formula (#{test.pk})"
    row = next(r for r in table if r[0] == "minus@example.com")
    row[0] = "Minus@Example.COM"
    row[3] = "12"

    response = post_csv(client, course.pk, to_csv(table))

    assert response.status_code == 200, response.content
    assert TestResult.objects.get(test=test, student=user).score == 12


def test_import_accepts_a_byte_order_mark_and_blank_lines(course, teacher, student, test_, client_for):
    body = f"\ufeffemail,Midterm (#{test_.pk})\r\n\r\nstudent@example.com,55\r\n,\r\n".encode()

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 1, "updated": 0, "unchanged": 0}


def test_dry_run_counts_and_writes_nothing(course, teacher, student, bob, test_, final, graded, client_for):
    body = to_csv(
        [
            ["email", f"Midterm (#{test_.pk})", f"Final (#{final.pk})"],
            ["student@example.com", "87.5", "41"],
            ["bob@example.com", "60", "30"],
        ]
    )
    before = db_state()

    response = post_csv(client_for(teacher), course.pk, body, dry_run=True)

    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 1, "unchanged": 2}
    assert db_state() == before


@pytest.mark.parametrize("flag", ["maybe", "yes please", ""])
def test_a_dry_run_flag_that_is_not_true_or_false_is_a_400_and_writes_nothing(
    course, teacher, student, test_, client_for, flag
):
    body = to_csv([["email", f"Midterm (#{test_.pk})"], ["student@example.com", "87.5"]])
    before = db_state()

    response = client_for(teacher).generic(
        "POST", f"/api/courses/{course.pk}/gradebook/import/?dry_run={flag}", body, content_type="text/csv"
    )

    assert response.status_code == 400
    assert "dry_run" in response.json()
    assert db_state() == before


def test_dry_run_reports_the_same_errors(course, teacher, test_, client_for):
    body = to_csv([["email", f"Midterm (#{test_.pk})"], ["nobody@example.com", "1"]])

    response = post_csv(client_for(teacher), course.pk, body, dry_run=True)

    assert response.status_code == 400
    assert response.json()["errors"][0]["row"] == 2


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["student@example.com", "50"], ["nobody@example.com", "50"]],
            [{"row": 3, "column": "email", "message": "No student of this course has the email nobody@example.com."}],
            id="unknown-student",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["teacher@example.com", "50"]],
            [{"row": 2, "column": "email", "message": "No student of this course has the email teacher@example.com."}],
            id="a-teacher-is-not-a-student",
        ),
        pytest.param(
            lambda t, f, o: [["email", "M (#999999)"], ["student@example.com", "50"]],
            [{"row": 1, "column": "M (#999999)", "message": "This course has no test #999999."}],
            id="unknown-test-column",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"Elsewhere (#{o})"], ["student@example.com", "50"]],
            "other-course",
            id="test-of-another-course",
        ),
        pytest.param(
            lambda t, f, o: [["email", "Notes"], ["student@example.com", "hello"]],
            [
                {
                    "row": 1,
                    "column": "Notes",
                    "message": "Unknown column: a test column's header ends with its id, like 'Midterm (#12)'.",
                }
            ],
            id="unknown-column",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})", f"F (#{f})"], ["student@example.com", "abc", "50.5"]],
            [
                {"row": 2, "column": "M (#{t})", "message": "A valid number is required."},
                {
                    "row": 2,
                    "column": "F (#{f})",
                    "message": "Ensure this value is less than or equal to the test's max_score (50.00).",
                },
            ],
            id="bad-scores",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["student@example.com", "-1"]],
            [{"row": 2, "column": "M (#{t})", "message": "Ensure this value is greater than or equal to 0."}],
            id="negative-score",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["student@example.com", "1.005"]],
            [{"row": 2, "column": "M (#{t})", "message": "Ensure that there are no more than 2 decimal places."}],
            id="three-decimals",
        ),
        pytest.param(
            lambda t, f, o: [["first_name", f"M (#{t})"], ["Shakuntala", "5"]],
            "missing-email",
            id="missing-email-column",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["student@example.com", "5"], ["STUDENT@example.com", "6"]],
            [{"row": 3, "column": "email", "message": "This email is also on row 2."}],
            id="duplicate-emails",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})", f"Again (#{t})"], ["student@example.com", "5", "6"]],
            [{"row": 1, "column": "Again (#{t})", "message": "Test #{t} has more than one column."}],
            id="duplicate-test-column",
        ),
        pytest.param(
            lambda t, f, o: [["email", f"M (#{t})"], ["", "5"]],
            [{"row": 2, "column": "email", "message": "The email is missing."}],
            id="missing-email",
        ),
    ],
)
def test_every_import_error_is_reported_and_nothing_is_written(
    table, expected, course, teacher, student, bob, test_, final, other_course, graded, client_for
):
    grid = table(test_.pk, final.pk, Test.objects.create(course=other_course, name="X", date=date(2026, 1, 1)).pk)
    # Every error case also carries a good change, to show that it is not applied either.
    body = to_csv([*grid, ["bob@example.com"] + ["1"] * (len(grid[0]) - 1)])
    before = db_state()

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    errors = response.json()["errors"]
    if expected == "other-course":
        assert errors == [{"row": 1, "column": grid[0][1], "message": f"This course has no test #{grid[0][1][12:-1]}."}]
    elif expected == "missing-email":
        assert errors == [{"row": 1, "column": "email", "message": "The header has no email column."}]
    else:
        assert errors == [
            {**e, "column": e["column"].format(t=test_.pk, f=final.pk), "message": e["message"].format(t=test_.pk)}
            for e in expected
        ]
    assert db_state() == before


@pytest.mark.parametrize(
    "body",
    [b"", b"\xff\xfe\x00not utf-8", b"\r\n\r\n", b'"unterminated\n', b"email\x00,x\n"],
    ids=["empty", "not-utf8", "blank", "unterminated-quote", "nul-byte"],
)
def test_unreadable_files_are_400_with_errors(body, course, teacher, client_for):
    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    assert response.json()["errors"]


def test_a_file_with_only_a_header_changes_nothing(course, teacher, test_, client_for):
    response = post_csv(client_for(teacher), course.pk, f"email,Midterm (#{test_.pk})\n".encode())

    assert response.status_code == 200
    assert response.json() == {"created": 0, "updated": 0, "unchanged": 0}


def test_a_multipart_request_without_the_file_is_400(course, teacher, client_for):
    response = client_for(teacher).post(import_url(course.pk), {"other": "x"}, format="multipart")

    assert response.status_code == 400


def test_import_takes_csv_not_json(course, teacher, client_for):
    response = client_for(teacher).post(import_url(course.pk), {"email": "x"}, format="json")

    assert response.status_code == 415
    assert "detail" in response.json()


@pytest.mark.parametrize("who", ["student", "stranger", "other_teacher"])
def test_only_teachers_of_the_course_and_admins_import(who, request, course, test_, other_course, client_for):
    body = f"email,M (#{test_.pk})\nstudent@example.com,5\n".encode()

    response = post_csv(client_for(request.getfixturevalue(who)), course.pk, body)

    assert response.status_code == 403
    assert not TestResult.objects.exists()


def test_admin_imports_with_history_naming_them(course, admin_user, student, test_, client_for):
    body = f"email,M (#{test_.pk})\nstudent@example.com,5\n".encode()

    response = post_csv(client_for(admin_user), course.pk, body)

    assert response.status_code == 200
    change = GradeChange.objects.get()
    assert (change.via, change.changed_by_id, change.action) == ("import", admin_user.pk, "created")


def test_anonymous_import_is_401_and_unknown_course_404(course, teacher, client_for):
    assert post_csv(client_for(), course.pk, b"email\n").status_code == 401
    for course_id in (10**9, -1, "abc", "%C2%84"):
        response = post_csv(client_for(teacher), course_id, b"email\n")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"


def test_import_path_works_without_trailing_slash(course, teacher, client_for):
    response = client_for(teacher).generic(
        "POST", f"/api/courses/{course.pk}/gradebook/import", b"email\n", content_type="text/csv"
    )

    assert response.status_code == 200


def test_import_query_count_does_not_grow_with_rows(course, teacher, make_user, test_, final, client_for):
    client = client_for(teacher)
    users = [make_user() for _ in range(60)]
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])

    def run(n):
        table = [["email", f"M (#{test_.pk})", f"F (#{final.pk})"]] + [[u.email, "10", "20"] for u in users[:n]]
        with CaptureQueriesContext(connection) as queries:
            assert post_csv(client, course.pk, to_csv(table)).status_code == 200
        return len(queries)

    run(1)  # opens the tests' result notices, which the next imports join
    assert run(5) == run(60)


def test_the_streamed_rows_cross_chunk_boundaries_in_order_with_ties(course, teacher, test_, make_user):
    from grading import reports, services

    # Same last names, same first names: the email breaks the tie across chunk boundaries.
    names = [("Lee", "Ann"), ("Lee", "Ann"), ("Lee", "Ann"), ("Lee", "Bo"), ("Abe", "Zed"), ("Lee", "Ann")]
    users = [make_user(f"s{i}@example.com", last_name=last, first_name=first) for i, (last, first) in enumerate(names)]
    Enrollment.objects.bulk_create([Enrollment(user=u, course=course, role=Role.STUDENT) for u in users])
    services.results_upsert(test=test_, items=[(u.pk, Decimal(i)) for i, u in enumerate(users)], by=teacher)
    expected = sorted(
        [*users, course.enrollments.get(role=Role.STUDENT, user__email="student@example.com").user],
        key=lambda u: (u.last_name, u.first_name, u.email),
    )

    for chunk_size in (1, 2, 3, 100):
        rows = list(reports.gradebook_rows(course.pk, [test_], chunk_size=chunk_size))
        assert [row.student.email for row in rows] == [u.email for u in expected]
        assert [row.scores.get(test_.pk) for row in rows] == [
            Decimal(users.index(u)) if u in users else None for u in expected
        ]


@pytest.mark.parametrize("cell", ["1e1", "5\x00", "+5", ".5", "05", "NaN"])
def test_a_csv_score_takes_plain_decimal_digits_only(course, teacher, test_, client_for, cell):
    table = [["email", f"M (#{test_.pk})"], ["student@example.com", cell]]

    response = post_csv(client_for(teacher), course.pk, to_csv(table))

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"row": 2, "column": f"M (#{test_.pk})", "message": "A valid number is required."}
    ]
    assert not TestResult.objects.exists()


def test_a_file_full_of_errors_reports_the_first_100_and_stops_reading(course, teacher, test_, client_for):
    rows = [["email", f"M (#{test_.pk})"]] + [[f"nobody{i}@example.com", "x"] for i in range(5000)]

    response = post_csv(client_for(teacher), course.pk, to_csv(rows))

    assert response.status_code == 400
    body = response.json()
    assert len(body["errors"]) == 100
    assert body["truncated"] is True
    # Each bad row has two errors (the email and the score): 50 rows were read, rows 2 to 51.
    assert body["stopped_at_row"] == 51
    assert "first 100 errors" in body["detail"]
    assert len(response.content) < 20_000


def test_a_file_with_few_errors_lists_them_all_without_truncation(course, teacher, test_, client_for):
    rows = [["email", f"M (#{test_.pk})"]] + [[f"nobody{i}@example.com", "1"] for i in range(3)]

    body = post_csv(client_for(teacher), course.pk, to_csv(rows)).json()

    assert set(body) == {"errors"} and len(body["errors"]) == 3


# Import limits ----------------------------------------------------------------------------------
# The course of these tests has 2 tests and 2 students: at most 3 + 2 + 4 + 20 = 29 columns, and
# 2 + 100 = 102 rows after the header.

TOO_MANY_COLUMNS = (
    "The header has more than 29 columns: a file of this course has email, first_name, last_name, "
    "one column per test (2), average_percent, current_percent, final_percent, letter, and at most 20 more. "
    "The file was read no further."
)


def header_cells(test_, final, columns):
    return ["email", f"M (#{test_.pk})", f"F (#{final.pk})"] + [""] * (columns - 3)


def test_a_header_of_as_many_columns_as_the_course_allows_is_read(course, teacher, bob, test_, final, client_for):
    body = to_csv([header_cells(test_, final, 29), ["bob@example.com", "7", "8"]])

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}


@pytest.mark.parametrize("columns", [30, 2_000_000], ids=["one-too-many", "two-million"])
def test_a_header_of_more_columns_than_the_course_allows_is_refused(
    course, teacher, bob, test_, final, graded, client_for, columns
):
    body = ",".join(header_cells(test_, final, columns)).encode() + b"\r\nbob@example.com,7,8\r\n"
    before = db_state()

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    assert response.json() == {"errors": [{"row": 1, "column": "", "message": TOO_MANY_COLUMNS}]}
    assert db_state() == before


def test_a_row_of_more_cells_than_the_course_allows_is_refused(course, teacher, bob, test_, final, graded, client_for):
    body = to_csv([header_cells(test_, final, 3), ["bob@example.com", "7", "8"]])
    body += b"bob@example.com" + b"," * 1_000_000 + b"\r\n"
    before = db_state()

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "row": 3,
                "column": "",
                "message": TOO_MANY_COLUMNS.replace("The header has", "This row has").replace("columns:", "cells:"),
            }
        ]
    }
    assert db_state() == before


@pytest.mark.parametrize("row", [1, 2], ids=["header", "row"])
def test_a_row_longer_than_1000_characters_a_column_is_refused(course, teacher, bob, test_, final, client_for, row):
    # A cell under an empty header is ignored, but not read without end; nor is a header's name.
    table = [header_cells(test_, final, 4), ["bob@example.com", "7", "8", ""]]
    table[row - 1][3] = "x" * 29_000
    body = to_csv(table)

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "row": row,
                "column": "",
                "message": f"{'The header' if row == 1 else 'This row'} is longer than 29,000 characters "
                "(1,000 for each of the 29 columns a file of this course may have). The file was read no further.",
            }
        ]
    }
    assert not TestResult.objects.exists()


def test_a_file_of_as_many_rows_as_the_course_allows_is_read(course, teacher, bob, test_, final, client_for):
    body = to_csv([header_cells(test_, final, 3), ["bob@example.com", "7", "8"]]) + b"\r\n" * 101

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "updated": 0, "unchanged": 0}


@pytest.mark.parametrize("blank_lines", [102, 2_000_000], ids=["one-too-many", "two-million"])
def test_a_file_of_more_rows_than_the_course_has_students_and_100_is_refused(
    course, teacher, bob, test_, final, graded, client_for, blank_lines
):
    body = to_csv([header_cells(test_, final, 3), ["bob@example.com", "7", "8"]]) + b"\n" * blank_lines
    before = db_state()

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "row": 104,
                "column": "",
                "message": "The file has more than 102 rows after its header: a file of this course has a row "
                "per student (2) and at most 100 more, blank lines included. The file was read no further.",
            }
        ]
    }
    assert db_state() == before


def test_header_errors_stop_at_100_and_say_the_list_is_truncated(course, teacher, student, client_for):
    for i in range(100):
        Test.objects.create(course=course, name=f"T{i}", date=date(2026, 1, 1))
    # 100 tests: up to 127 columns; 120 unknown ones are 120 errors.
    body = to_csv([["email"] + [f"Notes {i}" for i in range(120)], ["student@example.com"]])

    response = post_csv(client_for(teacher), course.pk, body)

    assert response.status_code == 400
    body = response.json()
    assert len(body["errors"]) == 100
    assert body["errors"][-1]["column"] == "Notes 99"
    assert body["truncated"] is True
    assert body["stopped_at_row"] == 1
    assert "first 100 errors" in body["detail"]


def test_more_than_100_errors_found_while_writing_are_listed_as_truncated():
    # Rows checked before writing can still fail when written (a student unenrolled in between).
    from grading.csv_io import ImportRejected, RowError

    rejected = ImportRejected([RowError(row, "email", "No such student.") for row in range(2, 152)])

    assert len(rejected.detail["errors"]) == 100
    assert rejected.detail["truncated"] is True
    assert rejected.detail["stopped_at_row"] == 101


# Characters that end a line for str.splitlines --------------------------------------------------

LINE_BREAKING = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r", "\n", "\r\n"]


def test_names_with_line_breaking_characters_survive_the_export_import_round_trip(
    course, teacher, student, test_, make_user, client_for
):
    course.grading_scheme = [{"letter": "A", "min_percent": 90}, {"letter": "F\u2028x", "min_percent": 0}]
    course.save()
    students = [student]
    tests = [test_]
    for i, char in enumerate(LINE_BREAKING):
        user = make_user(f"s{i}@example.com", first_name=f"A{char}nn", last_name=f"{char}Lee{char}")
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
        students.append(user)
        tests.append(Test.objects.create(course=course, name=f"{char}Quiz{char}{i}", date=date(2026, 2, 1)))
    for t, test in enumerate(tests):
        items = [(user.pk, None if (s + t) % 5 == 0 else Decimal(s + t)) for s, user in enumerate(students)]
        services.results_upsert(test=test, items=items, by=teacher)
    client = client_for(teacher)
    exported = b"".join(client.get(csv_url(course.pk)).streaming_content)
    text = exported.decode()
    for char in ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]:
        assert f'"A{char}nn"' in text  # quoted, like a cell with a comma or a newline
    assert text.count('"F\u2028x"') == text.count("F\u2028x") == len(students)
    before = db_state()

    response = post_csv(client, course.pk, exported)

    assert response.status_code == 200, response.content
    assert response.json() == {"created": 0, "updated": 0, "unchanged": len(students) * len(tests)}
    assert db_state() == before


def test_the_schema_describes_a_truncated_list_of_import_errors(client_for):
    schema = json.loads(client_for().get("/api/schema/?format=json").content)

    properties = schema["components"]["schemas"]["ImportErrors"]["properties"]
    assert properties["truncated"]["type"] == "boolean"
    assert properties["stopped_at_row"]["type"] == "integer"
    assert properties["detail"]["type"] == "string"
