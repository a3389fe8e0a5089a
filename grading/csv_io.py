"""The gradebook as CSV: a streamed export, and an import of that same format back.

Format: header ``email,first_name,last_name,<test name> (#<test id>),...,average_percent,
current_percent,final_percent,letter``, one row a student (ordered as the gradebook), an empty cell
where a student has no result and ``EX`` where they are excused. UTF-8. The import reads ``EX`` (any
case) as "excused", and ignores the columns after the tests.

Formula injection: a cell that starts with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return, which some spreadsheets skip before reading a formula) is written with a leading single
quote, so a spreadsheet shows it as text instead of running it. The import removes that quote
again.

Line breaks: only ``\r``, ``\n`` and ``\r\n`` outside quotes end a row, as in RFC 4180 and the csv
module reading a file opened with ``newline=""``. A cell holding any character that ``str.splitlines``
also takes for a line break (``\x0b``, ``\x0c``, ``\x1c``-``\x1e``, ``\x85``, U+2028, U+2029) is
quoted by the export, like one holding a comma, a quote or a newline, so readers that split lines
on them still see it as one cell.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
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
from grading.serializers import ImportCountsSerializer, ImportErrorSerializer, ImportErrorsSerializer
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
# Past its own columns (the fixed ones, one per test, the average and the grades), an import file may
# have this many more (columns with an empty header, which are skipped) before it is refused.
IMPORT_EXTRA_COLUMNS = 20
# Past a row per student of the course, an import file may have this many more rows, blank ones included.
IMPORT_EXTRA_ROWS = 100
# A row of an import file may be this many characters long per column it may have: far more than the
# export writes (an email is at most 254 characters, a name 150, a test's name 200, all doubled at
# worst by quoting), and a bound on the cells the csv module builds for one row.
IMPORT_CHARS_PER_COLUMN = 1000
# Characters that str.splitlines ends a line at, besides \r and \n, which the csv module quotes itself.
LINE_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# What makes a cell quoted: csv.QUOTE_MINIMAL's characters and LINE_BREAKS.
NEEDS_QUOTES = re.compile('[,"\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]')


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
    header_breaks = any(LINE_BREAKS.search(test.name) for test in tests)
    yield (_quoted_line if header_breaks else writer.writerow)([escape_cell(c) for c in header])
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
        # The email, the names and the letter are text; the other cells are numbers or EX.
        breaks = LINE_BREAKS.search("".join((cells[0], cells[1], cells[2], cells[-1])))
        yield (_quoted_line if breaks else writer.writerow)([escape_cell(c) for c in cells])


def _quoted_line(cells: list[str]) -> str:
    """One CSV line as ``csv.writer`` writes it, with cells holding ``LINE_BREAKS`` quoted as well."""
    return (
        ",".join('"' + cell.replace('"', '""') + '"' if NEEDS_QUOTES.search(cell) else cell for cell in cells) + "\r\n"
    )


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
        return ImportErrorSerializer.build(row=self.row, column=self.column, message=self.message)


# At most this many errors are reported; the file is read no further once they are found.
MAX_REPORTED_ERRORS = 100


class ImportRejected(Invalid):
    """The file has errors; nothing was written. ``detail`` is ``{"errors": [...]}``; when checking
    stopped at ``MAX_REPORTED_ERRORS`` (``stopped_at_row``), or more errors than that are given (the
    row of the last one listed), also ``truncated: true``, ``stopped_at_row`` and a ``detail``."""

    def __init__(self, errors: list[RowError], stopped_at_row: int | None = None):
        if stopped_at_row is None and len(errors) > MAX_REPORTED_ERRORS:
            stopped_at_row = errors[MAX_REPORTED_ERRORS - 1].row
        listed = [error.as_dict() for error in errors[:MAX_REPORTED_ERRORS]]
        if stopped_at_row is None:
            body = ImportErrorsSerializer.build(errors=listed)
        else:
            body = ImportErrorsSerializer.build(
                detail=f"The first {MAX_REPORTED_ERRORS} errors are listed; the file was checked up to row "
                f"{stopped_at_row}. Fix these and upload it again. Nothing was saved.",
                errors=listed,
                truncated=True,
                stopped_at_row=stopped_at_row,
            )
        super().__init__(body)
        self.errors = errors


@dataclass
class _Plan:
    # test id → [(student id, score or None for excused, row number)]
    items: dict[int, list[tuple[int, Decimal | None, int]]] = field(default_factory=dict)
    columns: dict[int, str] = field(default_factory=dict)  # test id → its header text
    errors: list[RowError] = field(default_factory=list)
    stopped_at_row: int | None = None  # reading stopped here, MAX_REPORTED_ERRORS being found


def check_utf8(data: bytes) -> None:
    """``ImportRejected`` unless the file is UTF-8 (a byte-order mark allowed: spreadsheets write one).

    Checked a megabyte at a time: the file's text is decoded again, a few kilobytes at a time, as it
    is read, so it is never held whole (10 MB of text can take 40 MB as a Python string).
    """
    if data.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for start in range(0, len(data), 1 << 20):
            decoder.decode(view[start : start + (1 << 20)])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportRejected([RowError(1, "", "The file is not UTF-8 text.")]) from None


class _TooLong(Exception):
    """A row went past the characters it may have; ``lines`` is its text read so far."""

    def __init__(self, lines: list[str]):
        super().__init__()
        self.lines = lines


class _Rows:
    """The rows of an import file, as the csv module reads a file opened with ``newline=""``: only
    ``\\r``, ``\\n`` and ``\\r\\n`` outside quotes end a row.

    A row may be at most ``max_chars`` characters long; reading stops at a longer one (``_TooLong``)
    before its whole text is read, so neither a row's text nor the list of cells the csv module
    makes of it can grow with the file.
    """

    def __init__(self, data: bytes, max_chars: int):
        self.max_chars = max_chars
        self._stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        self._reader = csv.reader(self._lines())
        self._row: list[str] = []  # the lines of the row being read
        self._chars = 0

    def _lines(self) -> Iterator[str]:
        # csv.reader asks for a line only while its row is unfinished, so the lines read since
        # ``next_row`` began are that row's.
        while line := self._stream.readline(self.max_chars - self._chars + 1):
            self._chars += len(line)
            self._row.append(line)
            if self._chars > self.max_chars:
                raise _TooLong(self._row)
            yield line

    def next_row(self) -> list[str] | None:
        """The next row's cells (``[]`` for a blank line); None at the end of the file."""
        self._row = []
        self._chars = 0
        return next(self._reader, None)


def _plan(course: Course, data: bytes) -> _Plan:
    """Read and check the whole file; nothing touches the database's grades here.

    Row numbers are the rows as a spreadsheet shows them: the header is row 1, a blank line is a
    row, and a cell quoted over several lines is still one row. The file is read no further than
    the ``IMPORT_*`` limits that the course's tests and students set, nor past the
    ``MAX_REPORTED_ERRORS``-th error.
    """
    plan = _Plan()
    tests = {test.pk: test for test in Test.objects.filter(course_id=course.pk)}
    max_columns = len(FIXED_COLUMNS) + len(tests) + 1 + len(GRADE_COLUMNS) + IMPORT_EXTRA_COLUMNS
    rows = _Rows(data, max_columns * IMPORT_CHARS_PER_COLUMN)
    row_number = 1
    try:
        header = rows.next_row()
        if not header or not any(cell.strip() for cell in header):
            plan.errors.append(RowError(1, "", "The file is empty: a header row is required."))
            return plan
        if len(header) > max_columns:
            plan.errors.append(RowError(1, "", _too_many_columns(True, max_columns, len(tests))))
            return plan
        header = [unescape_cell(cell).strip() for cell in header]

        email_index = None
        test_indexes: dict[int, int] = {}  # column index → test id
        for index, name in enumerate(header):
            if len(plan.errors) >= MAX_REPORTED_ERRORS:
                plan.stopped_at_row = 1
                return plan
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
        max_rows = len(students) + IMPORT_EXTRA_ROWS
        seen: dict[str, int] = {}
        for row_number in itertools.count(2):
            cells = rows.next_row()
            if cells is None:
                break
            if row_number - 1 > max_rows:
                plan.errors.append(
                    RowError(
                        row_number,
                        "",
                        f"The file has more than {max_rows:,} rows after its header: a file of this course has "
                        f"a row per student ({len(students):,}) and at most {IMPORT_EXTRA_ROWS} more, blank lines "
                        "included. The file was read no further.",
                    )
                )
                break
            if len(cells) > max_columns:
                plan.errors.append(RowError(row_number, "", _too_many_columns(False, max_columns, len(tests))))
                break
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
    except _TooLong as exc:
        plan.errors.append(RowError(row_number, "", _too_long(exc.lines, row_number == 1, rows, len(tests))))
    except csv.Error as exc:
        plan.errors.append(RowError(row_number, "", f"The file is not valid CSV: {exc}."))
    return plan


def _too_many_columns(header: bool, max_columns: int, tests: int) -> str:
    return (
        f"{'The header' if header else 'This row'} has more than {max_columns} {'columns' if header else 'cells'}: "
        f"a file of this course has {', '.join(FIXED_COLUMNS)}, one column per test ({tests}), "
        f"{', '.join((AVERAGE_COLUMN, *GRADE_COLUMNS))}, and at most {IMPORT_EXTRA_COLUMNS} more. "
        "The file was read no further."
    )


def _too_long(lines: list[str], header: bool, rows: _Rows, tests: int) -> str:
    """Why a row past ``rows.max_chars`` is refused: its cells so far (at most as many as its
    characters) tell whether it has too many, or cells too long."""
    max_columns = rows.max_chars // IMPORT_CHARS_PER_COLUMN
    try:
        cells = len(next(csv.reader(lines), []))
    except csv.Error:
        cells = 0
    if cells > max_columns:
        return _too_many_columns(header, max_columns, tests)
    return (
        f"{'The header' if header else 'This row'} is longer than {rows.max_chars:,} characters "
        f"({IMPORT_CHARS_PER_COLUMN:,} for each of the {max_columns} columns a file of this course may have). "
        "The file was read no further."
    )


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
    check_utf8(data)
    plan = _plan(course, data)
    if plan.errors:
        raise ImportRejected(plan.errors, plan.stopped_at_row)
    totals = dict.fromkeys(ImportCountsSerializer().fields, 0)
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
