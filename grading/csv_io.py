"""The gradebook as CSV: a streamed export, and an import of that same format back.

Format: header ``email,first_name,last_name,<test name> (#<test id>),...,average_percent,
current_percent,final_percent,letter``, one row a student (ordered as the gradebook), an empty cell
where a student has no result and ``EX`` where they are excused. UTF-8. The import reads ``EX`` (any
case) as "excused", and ignores the columns after the tests.

Formula injection: a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return, which some spreadsheets skip before reading a formula) is written with a leading single
quote, so a spreadsheet shows it as text instead of running it. The import removes that quote
again.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.http import StreamingHttpResponse
from django.utils.text import slugify

from accounts.models import normalize_email
from courses.models import Course
from grading import reports, services
from grading.models import GradeChange, Test
from gradingsite.errors import Invalid

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"
FIXED_COLUMNS = ("email", "first_name", "last_name")
AVERAGE_COLUMN = "average_percent"
GRADE_COLUMNS = ("current_percent", "final_percent", "letter")
IGNORED_COLUMNS = {"first_name", "last_name", AVERAGE_COLUMN, *GRADE_COLUMNS}
TEST_COLUMN = re.compile(r"\(#(\d+)\)\s*$")
# An import file larger than this is refused (413): 5,000 students x 20 tests fit in about 1 MB.
IMPORT_MAX_BYTES = 10 * 1024 * 1024


def escape_cell(value) -> str:
    """The text of one cell, quoted against formula injection when it needs to be."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS):
        return ESCAPE + text
    return text


def unescape_cell(text: str) -> str:
    """Undo ``escape_cell``: a leading quote before a formula character is removed."""
    if text.startswith(ESCAPE) and text[1:].startswith(FORMULA_STARTS):
        return text[1:]
    return text


def format_score(score: Decimal | None) -> str:
    """A score cell: empty for none, ``EX`` for excused (a result whose score is None)."""
    if score is None:
        return ""
    # 87.50 → 87.5, 90.00 → 90: the shortest exact spelling.
    text = f"{score:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def test_column(test: Test) -> str:
    return f"{test.name} (#{test.pk})"


test_column.__test__ = False


class _Echo:
    """A file-like object whose ``write`` hands the line back, for a streaming csv.writer."""

    def write(self, value):
        return value


def gradebook_csv_lines(course: Course) -> Iterator[str]:
    """The gradebook CSV, one line at a time, from the streamed gradebook rows."""
    tests = reports.course_tests(course.pk)
    grades = reports.grades_by_student(course)
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    header = (*FIXED_COLUMNS, *map(test_column, tests), AVERAGE_COLUMN, *GRADE_COLUMNS)
    yield writer.writerow([escape_cell(c) for c in header])
    for row in reports.gradebook_rows(course.pk, tests):
        student = row.student
        cells = [student.email, student.first_name, student.last_name]
        cells.extend(_score_cell(row.scores, test.pk) for test in tests)
        cells.append("" if row.average_percent is None else f"{row.average_percent:.1f}")
        grade = grades.get(student.pk)
        if grade is None:
            cells.extend(("", "", ""))
        else:
            cells.append(_percent_cell(grade["current_percent"]))
            cells.append(_percent_cell(grade["final_percent"]))
            cells.append(grade["letter"] or "")
        yield writer.writerow([escape_cell(c) for c in cells])


def _score_cell(scores: dict, test_id: int) -> str:
    if test_id in scores and scores[test_id] is None:
        return services.EXCUSED_CELL
    return format_score(scores.get(test_id))


def _percent_cell(percent: Decimal | None) -> str:
    return "" if percent is None else f"{percent:.2f}"


def _encoded(lines: Iterable[str], batch: int = 200) -> Iterator[bytes]:
    """Lines joined into chunks of a few kilobytes: fewer, larger writes to the socket."""
    pending: list[str] = []
    for line in lines:
        pending.append(line)
        if len(pending) >= batch:
            yield "".join(pending).encode()
            pending = []
    if pending:
        yield "".join(pending).encode()


def gradebook_csv_response(course: Course) -> StreamingHttpResponse:
    response = StreamingHttpResponse(_encoded(gradebook_csv_lines(course)), content_type="text/csv; charset=utf-8")
    name = slugify(course.name) or "course"
    response["Content-Disposition"] = f'attachment; filename="gradebook-{course.pk}-{name}.csv"'
    return response


# Import -------------------------------------------------------------------------------------------


@dataclass
class RowError:
    row: int
    column: str
    message: str

    def as_dict(self) -> dict:
        return {"row": self.row, "column": self.column, "message": self.message}


# At most this many errors are reported; the file is read no further once they are found.
MAX_REPORTED_ERRORS = 100


class ImportRejected(Invalid):
    """The file has errors; nothing was written. ``detail`` is ``{"errors": [...]}``; when checking
    stopped at ``MAX_REPORTED_ERRORS``, also ``truncated: true``, ``stopped_at_row`` and a ``detail``."""

    def __init__(self, errors: list[RowError], stopped_at_row: int | None = None):
        body: dict = {"errors": [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]]}
        if stopped_at_row is not None:
            body = {
                "detail": f"The first {MAX_REPORTED_ERRORS} errors are listed; the file was checked up to row "
                f"{stopped_at_row}. Fix these and upload it again. Nothing was saved.",
                **body,
                "truncated": True,
                "stopped_at_row": stopped_at_row,
            }
        super().__init__(body)
        self.errors = errors


@dataclass
class _Plan:
    # test id → [(student id, score or None for excused, row number)]
    items: dict[int, list[tuple[int, Decimal | None, int]]] = field(default_factory=dict)
    columns: dict[int, str] = field(default_factory=dict)  # test id → its header text
    errors: list[RowError] = field(default_factory=list)
    stopped_at_row: int | None = None  # reading stopped here, MAX_REPORTED_ERRORS being found


def decode(data: bytes) -> str:
    """The file's text: UTF-8, a byte-order mark allowed (spreadsheets write one)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected([RowError(1, "", "The file is not UTF-8 text.")]) from None


def _plan(course: Course, text: str) -> _Plan:
    """Read and check the whole file; nothing touches the database's grades here.

    Row numbers are the file's line numbers as a spreadsheet shows them: the header is row 1.
    """
    plan = _Plan()
    reader = csv.reader(text.splitlines())
    try:
        header = next(reader, None)
    except csv.Error as exc:
        plan.errors.append(RowError(1, "", f"The file is not valid CSV: {exc}."))
        return plan
    if not header or not any(cell.strip() for cell in header):
        plan.errors.append(RowError(1, "", "The file is empty: a header row is required."))
        return plan
    header = [unescape_cell(cell).strip() for cell in header]

    tests = {test.pk: test for test in Test.objects.filter(course_id=course.pk)}
    email_index = None
    test_indexes: dict[int, int] = {}  # column index → test id
    for index, name in enumerate(header):
        lowered = name.lower()
        if lowered == "email":
            if email_index is not None:
                plan.errors.append(RowError(1, name, "The email column appears more than once."))
            email_index = index
            continue
        if not name or lowered in IGNORED_COLUMNS:
            continue
        match = TEST_COLUMN.search(name)
        if match is None:
            plan.errors.append(
                RowError(1, name, "Unknown column: a test column's header ends with its id, like 'Midterm (#12)'.")
            )
            continue
        test_id = int(match.group(1))
        if test_id not in tests:
            plan.errors.append(RowError(1, name, f"This course has no test #{test_id}."))
        elif test_id in test_indexes.values():
            plan.errors.append(RowError(1, name, f"Test #{test_id} has more than one column."))
        else:
            test_indexes[index] = test_id
            plan.columns[test_id] = name
    if email_index is None:
        plan.errors.append(RowError(1, "email", "The header has no email column."))
    if plan.errors:
        return plan

    students = dict(reports.course_students(course.pk).values_list("email", "id"))
    seen: dict[str, int] = {}
    row_number = 1
    try:
        for row_number, cells in enumerate(reader, start=2):
            cells = [unescape_cell(cell) for cell in cells]
            if not any(cell.strip() for cell in cells):
                continue  # a blank line
            if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
                plan.errors.append(RowError(row_number, "", "This row has more cells than the header."))
            email = normalize_email(cells[email_index] if email_index < len(cells) else "")
            student_id = students.get(email)
            if not email:
                plan.errors.append(RowError(row_number, "email", "The email is missing."))
            elif email in seen:
                plan.errors.append(RowError(row_number, "email", f"This email is also on row {seen[email]}."))
            elif student_id is None:
                plan.errors.append(RowError(row_number, "email", f"No student of this course has the email {email}."))
            else:
                seen[email] = row_number
            for index, test_id in test_indexes.items():
                raw = cells[index].strip() if index < len(cells) else ""
                if not raw:
                    continue  # an empty cell changes nothing
                if raw.upper() == services.EXCUSED_CELL:
                    if student_id is not None:
                        plan.items.setdefault(test_id, []).append((student_id, None, row_number))
                    continue
                error = _score_error(raw, tests[test_id])
                if error:
                    plan.errors.append(RowError(row_number, header[index], error))
                elif student_id is not None:
                    score = services.parse_score(raw)
                    plan.items.setdefault(test_id, []).append((student_id, score, row_number))
            if len(plan.errors) >= MAX_REPORTED_ERRORS:
                plan.stopped_at_row = row_number
                break
    except csv.Error as exc:
        plan.errors.append(RowError(row_number, "", f"The file is not valid CSV: {exc}."))
    return plan


def _score_error(raw: str, test: Test) -> str | None:
    try:
        score = services.parse_score(raw)
    except Invalid as exc:
        return str(exc.detail)
    return services.score_error(score, test.max_score)


def gradebook_import(*, course: Course, data: bytes, by, dry_run: bool = False) -> dict[str, int]:
    """Apply a gradebook CSV: all or nothing, in one transaction, with ``via="import"`` history.

    Raises ``ImportRejected`` (a 400 with every error found) and writes nothing when any row or
    column is bad. Returns the counts ``{"created", "updated", "unchanged"}``; with ``dry_run`` the
    same counts and errors, and nothing written.
    """
    plan = _plan(course, decode(data))
    if plan.errors:
        raise ImportRejected(plan.errors, plan.stopped_at_row)
    totals = {"created": 0, "updated": 0, "unchanged": 0}
    tests = {test.pk: test for test in Test.objects.filter(pk__in=list(plan.items))}
    with transaction.atomic():
        errors: list[RowError] = []
        # In test-id order: each test is locked in turn, as other writes of several tests lock them.
        for test_id, entries in sorted(plan.items.items()):
            outcome = services.results_upsert(
                test=tests[test_id],
                items=[(student_id, score) for student_id, score, _ in entries],
                by=by,
                via=GradeChange.Via.IMPORT,
            )
            # Checked above; this catches what changed in between (an unenrolled student, a lowered max_score).
            errors.extend(
                RowError(entries[index][2], "email" if name == "student" else plan.columns[test_id], message)
                for index, name, message in outcome.errors
            )
            for key, value in outcome.counts().items():
                totals[key] += value
        if errors or dry_run:
            transaction.set_rollback(True)
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
    return totals
