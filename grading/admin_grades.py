"""A test's grades, entered a page of the class at a time: the admin's grade-entry page.

``/admin/grading/test/<id>/grades/`` (``admin:grading_test_grades``), linked from the test's page,
for the teachers of the test's course and admins (``policy.can_manage_test``). Another course's
test is a 404, as every scoped admin page answers; someone who may not use the admin is sent to
its sign-in page.

- **Rows**: the course's students, ``PAGE_SIZE`` a page (``?page=``), by last name, first name,
  email. ``?q=`` finds students by name or email (each word must be in one of them); ``?show=``
  keeps ``all`` of them, those ``missing`` the test (``grading.grades``' rule: on a test without
  submissions, no result on a test that is due, its date before today in the course's time zone,
  and whose results are published; on an online test, no attempt, no result and no excuse once the
  student's effective ``due_at`` is past), the ``ungraded`` (no score and not excused) or the
  ``excused``.
- **Scores** in the boxes are as the teacher entered them (``entered_score``): what a write takes.
  Where the late policy took points off (an online test), the row says so beside the stored score.
- **Saving**: every row posts what it held when it was read (score, excused, and the result's
  version, or ``none`` for no result) beside what is in its boxes; only rows whose score or
  excused differ are written, each through the grade service (``via="admin"``, which writes the
  history). A score and excused unticked on a student without a result records it; excused ticked,
  score blank, excuses; a blank score with excused unticked on a student who has a result deletes
  that result (the way to clear one).
- **Validation** is the admin's: the score field of the result forms (plain decimal digits, as
  every score written as text, ``services.SCORE_TEXT``; at most 7 digits, 2 after the point) and
  the grade service's rules (``services.score_error`` against ``max_score``; a score or excused,
  not both). Any error and nothing is written: the page comes back with what was typed
  and each error by its row.
- **Conflicts**: each write expects the version its row was read at (``expected_version``; for a
  row read without a result, ``result_record`` finds one there), checked under the result's lock
  by the service. A row someone else changed, graded or deleted meanwhile is not written: the page
  comes back with that row marked, their value now beside the one typed (kept in its box), and the
  other changed rows saved. The marked row then carries their version: saving again replaces
  theirs. A save PostgreSQL undoes to break a deadlock comes back with nothing saved, as typed.
- **Cost**: unchanged rows cost nothing. Reading a page is a fixed number of queries whatever the
  class size (the test, the counts, the page's rows); a save reads the changed rows' results (and
  the students of new ones) and then writes each changed row through the grade service (several
  in one transaction that holds the test's lock first, ``services.lock_for_several_writes``).
"""

from __future__ import annotations

import math
import re
from contextlib import nullcontext
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import OperationalError, transaction
from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    FilteredRelation,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import LessThan
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from psycopg import errors as psycopg_errors

from accounts.models import User
from courses import policy
from courses.models import Role
from grading import grades, services
from grading.models import Extension, GradeChange, Submission, SubmissionType, Test, TestResult, percent_of
from gradingsite.errors import DomainError, Invalid

PAGE_SIZE = 100
SHOW = {"all": "All", "missing": "Missing", "ungraded": "Ungraded", "excused": "Excused"}
# Words of a search, at most; and its length.
SEARCH_WORDS, SEARCH_LENGTH = 10, 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NO_RESULT = "none"
TEMPLATE = "admin/grading/test/grades.html"

SCORE_AND_EXCUSED = "An excused result has no score: clear the score or uncheck excused."
NOT_A_STUDENT = "This user is not a student of the course."
CONCURRENT_WRITE = "another write to these grades at the same moment got in the way. Save again."


class ScoreField(forms.DecimalField):
    """A score typed in an admin form: plain decimal digits, as every score written as text
    (``services.SCORE_TEXT``): "1e3", "+5", ".5" and "NaN" are not numbers here either."""

    def to_python(self, value):
        text = "" if value in self.empty_values else str(value).strip()
        if text and not services.SCORE_TEXT.fullmatch(text):
            raise ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


@cache
def _score_field():
    """The score field of the admin's result forms: plain decimal digits, at most 2 places."""
    return TestResult._meta.get_field("score").formfield(form_class=ScoreField)


def score_text(score: Decimal | None) -> str:
    """A stored score as the page writes it in its box: ``88.5``, ``100``, ``0.25``; blank for none."""
    if score is None:
        return ""
    return format(score.normalize(), "f")


def _same_score(typed: str, read: str) -> bool:
    typed, read = typed.strip(), read.strip()
    if typed == read:
        return True
    try:
        return Decimal(typed) == Decimal(read)  # "88.50" is the score read as "88.5"
    except (InvalidOperation, ValueError):
        return False


# Reading the class --------------------------------------------------------------------------------


def class_list(test: Test) -> QuerySet:
    """The students of the test's course, each with their result on the test as ``r`` (if any)."""
    return User.objects.filter(enrollments__course_id=test.course_id, enrollments__role=Role.STUDENT).annotate(
        r=FilteredRelation("test_results", condition=Q(test_results__test_id=test.pk))
    )


def missing_applies(test: Test) -> bool:
    """Whether a student can be missing this test (``grading.grades``): an online test, by each
    student's due time (``missing_filter``); any other once it is due and published."""
    if test.submission_type == SubmissionType.ONLINE:
        return True
    return test.results_published and test.date < grades.course_today(test.course)


NO_ROW = Q(r__id__isnull=True)
_FILTERS = {
    "all": Q(),
    "ungraded": NO_ROW | Q(r__score__isnull=True, r__excused=False),
    "excused": Q(r__excused=True),
}


def missing_filter(test: Test) -> Q | None:
    """The students of a ``class_list`` missing the test (``grading.grades``' rule); None: nobody.

    An online test: no attempt, no result and no excuse once the time is past the student's
    effective ``due_at`` (their extension's, else the test's; neither: never missing). Any other
    test: no result once it is due and published (``missing_applies``)."""
    if not missing_applies(test):
        return None
    if test.submission_type != SubmissionType.ONLINE:
        return NO_ROW
    extension_due = Extension.objects.filter(test_id=test.pk, student_id=OuterRef("pk")).values("due_at")[:1]
    due = Coalesce(Subquery(extension_due), Value(test.due_at, output_field=DateTimeField()))
    attempted = Exists(Submission.objects.filter(test_id=test.pk, student_id=OuterRef("pk")))
    return NO_ROW & ~attempted & Q(LessThan(due, Value(timezone.now(), output_field=DateTimeField())))


def _filter(show: str, test: Test) -> Q | None:
    """The rows ``show`` keeps; None for none at all (no one is missing a test that isn't due)."""
    if show == "missing":
        return missing_filter(test)
    return _FILTERS[show]


def grade_counts(test: Test, students: QuerySet | None = None) -> dict[str, int]:
    """How many of the course's students (or of ``students``, a ``class_list``) are graded, excused,
    ungraded and missing, and how many there are (``all``): one query."""
    students = class_list(test) if students is None else students
    missing = missing_filter(test)
    counts = students.aggregate(
        all=Count("id"),
        graded=Count("id", filter=Q(r__score__isnull=False)),
        excused=Count("id", filter=_FILTERS["excused"]),
        ungraded=Count("id", filter=_FILTERS["ungraded"]),
        **({} if missing is None else {"missing": Count("id", filter=missing)}),
    )
    counts.setdefault("missing", 0)
    return counts


def _search(students: QuerySet, q: str) -> QuerySet:
    for word in q.split()[:SEARCH_WORDS]:
        students = students.filter(
            Q(first_name__icontains=word) | Q(last_name__icontains=word) | Q(email__icontains=word)
        )
    return students


_ROW_COLUMNS = ("id", "first_name", "last_name", "email", "r__score", "r__excused", "r__version", "r__late_deduction")


@dataclass
class Row:
    """A student's row: what it held when read, what is in its boxes, and what became of it."""

    student_id: int
    name: str = ""
    # The student's name as a link to their grading page (an online test), else the name.
    name_html: str = ""
    email: str = ""
    # As read: the result's version (None: no result), its entered score as written in the box, excused.
    version: int | None = None
    was_score: str = ""
    was_excused: bool = False
    # In the boxes.
    score: str = ""
    excused: bool = False
    # The result as it is now (shown as "Now"): percent text.
    now: str = "-"
    error: str = ""
    # Someone else's change kept this row from being saved: their value now, and who made it.
    conflict: bool = False
    theirs: str = ""
    theirs_by: str = ""

    @property
    def version_field(self) -> str:
        return NO_RESULT if self.version is None else str(self.version)

    @property
    def changed(self) -> bool:
        return self.excused != self.was_excused or not _same_score(self.score, self.was_score)

    def html(self) -> str:
        """The row's ``<tr>``: written here rather than in the page's template, where a page of
        100 rows cost about 20 variable lookups a row, the largest part of drawing the page."""
        key = str(self.student_id)
        classes = " conflict" if self.conflict else ""
        classes += " errors" if self.error else ""
        error = format_html('<ul class="errorlist"><li>{}</li></ul>', self.error) if self.error else ""
        conflict = ""
        if self.conflict:
            by = format_html(" by {}", self.theirs_by) if self.theirs_by else ""
            conflict = format_html(
                '<span class="conflict-note">Changed meanwhile{}: theirs is <strong class="theirs">{}</strong>, '
                "yours is in the box.</span>",
                by,
                self.theirs,
            )
        return format_html(
            _ROW_HTML,
            classes=classes,
            key=key,
            name=self.name,
            name_html=self.name_html or self.name,
            email=self.email,
            score=self.score,
            was_score=self.was_score,
            was_excused="1" if self.was_excused else "",
            version=self.version_field,
            checked=_CHECKED if self.excused else "",
            now=self.now,
            note=format_html("{}{}", error, conflict),
        )

    def read(self, values: tuple, test: Test, link: str = "") -> None:
        """Take the row's student and result from a ``_ROW_COLUMNS`` row, as read now. ``link``: the
        URL of the test's grading page of a student, with ``0`` for the student's id (none: no link)."""
        _, first, last, email, score, excused, version, deduction = values
        self.name, self.email = f"{first} {last}".strip() or email, email
        if link:
            self.name_html = format_html('<a href="{}{}/">{}</a>', link, self.student_id, self.name)
        entered = None if score is None else score + (deduction or 0)
        self.version, self.was_score, self.was_excused = version, score_text(entered), bool(excused)
        self.score, self.excused = self.was_score, self.was_excused
        self.now = _shown(version, score, excused, test, deduction)


_CHECKED = mark_safe(" checked")
_ROW_HTML = (
    '<tr class="grade-row{classes}" data-student="{key}">'
    '<td class="student">{name_html}<input type="hidden" name="student" value="{key}"></td>'
    '<td class="email">{email}</td>'
    '<td><input type="text" class="score" name="score-{key}" value="{score}" inputmode="decimal" autocomplete="off"'
    ' aria-label="Score of {name}">'
    '<input type="hidden" name="was-score-{key}" value="{was_score}">'
    '<input type="hidden" name="was-excused-{key}" value="{was_excused}">'
    '<input type="hidden" name="version-{key}" value="{version}"></td>'
    '<td><input type="checkbox" class="excused" name="excused-{key}"{checked} aria-label="{name} is excused"></td>'
    '<td class="now">{now}</td>'
    '<td class="note">{note}</td>'
    "</tr>"
)


def _shown(version, score, excused, test, deduction=None) -> str:
    """The result as stored: its score and percent; where the late policy took points off the
    entered score, how many (the entered score is in the box)."""
    if version is None:
        return "-"
    if excused:
        return "excused"
    shown = f"{score_text(score)} ({percent_of(score, test.max_score):.1f} %)"
    if deduction:
        entered = score_text(score + deduction)
        return format_html(
            '{} <span class="late-deduction">entered {} &minus; {} late</span>', shown, entered, score_text(deduction)
        )
    return shown


# The page -----------------------------------------------------------------------------------------


@dataclass
class Listing:
    """What the query string asks for: a search, a filter and a page."""

    q: str
    show: str
    page: int

    @classmethod
    def of(cls, request) -> Listing:
        # Control characters match no name (and PostgreSQL takes no NUL in text).
        q = _CONTROL.sub(" ", request.GET.get("q", "")).strip()[:SEARCH_LENGTH]
        show = request.GET.get("show", "all")
        page = request.GET.get("page", "1")
        return cls(
            q=q,
            show=show if show in SHOW else "all",
            page=max(1, int(page)) if page.isascii() and page.isdigit() and len(page) < 8 else 1,
        )

    def query(self, **changes) -> str:
        """This listing's query string with ``changes`` (defaults left out)."""
        params = {"q": self.q, "show": self.show, "page": self.page, **changes}
        defaults = {"q": "", "show": "all", "page": 1}
        kept = {key: value for key, value in params.items() if value != defaults[key]}
        return f"?{urlencode(kept)}" if kept else "?"


def _test_of(model_admin, request, object_id) -> Test:
    """The test, within the caller's scope (a 404 outside it), with the caller's role in its course."""
    queryset = policy.with_caller_role(model_admin.get_queryset(request).select_related("course"), request.user)
    try:
        test = queryset.get(pk=Test._meta.pk.to_python(object_id))
    except (Test.DoesNotExist, ValidationError, ValueError, OverflowError):
        raise Http404("No such test, or not one of your courses'.") from None
    if not policy.can_manage_test(request.user, test):
        raise PermissionDenied
    return test


def grades_view(model_admin, request, object_id):
    """The grade-entry page of a test (``TestAdmin.get_urls``): GET shows a page, POST saves it."""
    test = _test_of(model_admin, request, object_id)
    listing = Listing.of(request)
    if request.method == "POST":
        return _save(model_admin, request, test, listing)
    return _render(model_admin, request, test, listing, rows=None)


def student_link(test: Test) -> str:
    """The start of the URL of the test's grading page of a student (the student's id and a slash
    complete it): for an online test, where students hand in work; else empty."""
    if test.submission_type != SubmissionType.ONLINE:
        return ""
    return reverse("admin:grading_test_grade_student", args=[test.pk, 0]).removesuffix("0/")


def _render(model_admin, request, test: Test, listing: Listing, rows: list[Row] | None):
    """The page; ``rows``: those to show instead of the listing's page (a save shown back)."""
    students = _search(class_list(test), listing.q)
    counts = grade_counts(test, students)
    kept = _filter(listing.show, test)
    total = 0 if kept is None else counts[listing.show]
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(listing.page, pages)
    if rows is None:
        rows = []
        link = student_link(test)
        if kept is not None and total:
            start = (page - 1) * PAGE_SIZE
            ordered = students.filter(kept).order_by("last_name", "first_name", "email", "id")
            for values in ordered.values_list(*_ROW_COLUMNS)[start : start + PAGE_SIZE]:
                row = Row(student_id=values[0])
                row.read(values, test, link)
                rows.append(row)
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"Grades: {test.name}",
        "subtitle": test.course.name,
        "test": test,
        "max_score": score_text(test.max_score),
        "rows": rows,
        "counts": counts,
        "listing": listing,
        "filters": [
            {"key": key, "label": label, "count": counts[key], "url": listing.query(show=key, page=1)}
            for key, label in SHOW.items()
        ],
        "missing_applies": missing_applies(test),
        "online": test.submission_type == SubmissionType.ONLINE,
        "page": page,
        "pages": pages,
        "previous_url": listing.query(page=page - 1) if page > 1 else None,
        "next_url": listing.query(page=page + 1) if page < pages else None,
        "clear_search_url": listing.query(q="", page=1),
        "test_url": reverse("admin:grading_test_change", args=[test.pk]),
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, TEMPLATE, context)


# Saving -------------------------------------------------------------------------------------------


class BadForm(Exception):
    """A post no page of this form writes (tampered with, or another form's)."""


def _posted_rows(post) -> list[Row]:
    rows, seen = [], set()
    ids = post.getlist("student")
    if len(ids) > PAGE_SIZE:
        raise BadForm(f"A page has at most {PAGE_SIZE} rows.")
    for raw in ids:
        if not (raw.isascii() and raw.isdigit() and len(raw) < 19) or raw in seen:
            raise BadForm("Unknown or repeated student.")
        seen.add(raw)
        version = post.get(f"version-{raw}", NO_RESULT)
        if version != NO_RESULT and not (version.isascii() and version.isdigit() and len(version) < 19):
            raise BadForm("Unreadable version.")
        rows.append(
            Row(
                student_id=int(raw),
                version=None if version == NO_RESULT else int(version),
                was_score=post.get(f"was-score-{raw}", "")[:50],
                was_excused=post.get(f"was-excused-{raw}") == "1",
                score=post.get(f"score-{raw}", "")[:50],
                excused=f"excused-{raw}" in post,
            )
        )
    return rows


def _checked(row: Row, test: Test) -> Decimal | None:
    """The row's score as the admin's forms read it; sets ``row.error`` when it is no score."""
    text = row.score.strip()
    if not text:
        return None
    try:
        score = _score_field().clean(text)
    except ValidationError as exc:
        row.error = " ".join(exc.messages)
        return None
    problem = services.score_error(score, test.max_score)
    if problem:
        row.error = problem
    elif row.excused:
        row.error = SCORE_AND_EXCUSED
    return score


def _save(model_admin, request, test: Test, listing: Listing):
    try:
        rows = _posted_rows(request.POST)
    except BadForm as exc:
        return HttpResponseBadRequest(str(exc))
    changed = [row for row in rows if row.changed]
    scores = {row.student_id: _checked(row, test) for row in changed}
    if any(row.error for row in changed):
        messages.error(request, "Nothing was saved: correct the errors below.")
        return _shown_back(model_admin, request, test, listing, rows, pending=set(map(id, changed)))
    try:
        saved = _write(request, test, changed, scores)
    except DomainError as exc:  # the test itself was deleted or locked out meanwhile
        messages.error(request, f"Nothing was saved: {exc.detail}")
        return HttpResponseRedirect(request.get_full_path())
    except OperationalError as exc:
        if not isinstance(exc.__cause__, (psycopg_errors.DeadlockDetected, psycopg_errors.SerializationFailure)):
            raise
        # PostgreSQL undid the save to break a cycle of locks with another write: nothing is kept.
        for row in changed:
            row.conflict, row.error = False, ""
        messages.error(request, f"Nothing was saved: {CONCURRENT_WRITE}")
        return _shown_back(model_admin, request, test, listing, rows, pending=set(map(id, changed)))
    unsaved = [row for row in changed if row.conflict or row.error]
    if saved:
        others = " other" if unsaved else ""
        messages.success(request, f"Saved {saved}{others} grade{'s' if saved != 1 else ''}.")
    elif not unsaved:
        messages.info(request, "Nothing to save: no grade was changed.")
    if not unsaved:
        page = listing.page + 1 if "_next" in request.POST else listing.page
        return HttpResponseRedirect(request.path + listing.query(page=page))
    conflicts = sum(row.conflict for row in unsaved)
    if conflicts:
        messages.error(
            request,
            f"{conflicts} grade{' was' if conflicts == 1 else 's were'} changed by someone else since you opened "
            "this page and not saved (marked below, theirs beside yours). Save again to replace theirs with "
            "what is in the box, or type theirs back to keep it.",
        )
    if any(row.error for row in unsaved):
        messages.error(request, "Some grades were not saved: see the errors below.")
    return _shown_back(model_admin, request, test, listing, rows, pending=set(map(id, unsaved)))


def _write(request, test: Test, changed: list[Row], scores: dict[int, Decimal | None]) -> int:
    """Write the changed rows through the grade service; a row it refuses is marked. How many were saved."""
    by, via = request.user, GradeChange.Via.ADMIN
    had = [row.student_id for row in changed if row.version is not None]
    new = [row.student_id for row in changed if row.version is None]
    results = {r.student_id: r for r in TestResult.objects.filter(test=test, student_id__in=had)} if had else {}
    students = User.objects.in_bulk(new) if new else {}
    saved = 0
    several = len(changed) > 1
    with transaction.atomic() if several else nullcontext():
        if several:
            services.lock_for_several_writes(test)
        for row in changed:
            score = scores[row.student_id]
            if row.version is None and score is None and not row.excused:
                continue  # nothing to clear: there was no result
            try:
                if row.version is None:
                    student = students.get(row.student_id)
                    if student is None:
                        raise Invalid(NOT_A_STUDENT)
                    services.result_record(test=test, student=student, score=score, excused=row.excused, by=by, via=via)
                else:
                    result = results.get(row.student_id)
                    if result is None:
                        raise services.StaleResult("This result was deleted meanwhile.")
                    result.test = test
                    if score is None and not row.excused:
                        services.result_delete(result=result, by=by, via=via, expected_version=row.version)
                    else:
                        services.result_update(
                            result=result,
                            score=score,
                            excused=row.excused,
                            by=by,
                            via=via,
                            expected_version=row.version,
                        )
            except services.StaleResult:
                row.conflict = True
            except Invalid as exc:
                row.error = _message(exc.detail)
            else:
                saved += 1
    return saved


def _message(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(str(m) for messages_ in detail.values() for m in messages_)
    return str(detail)


def _shown_back(model_admin, request, test: Test, listing: Listing, rows: list[Row], pending: set[int]):
    """The posted rows shown again: those not saved (``pending``, by ``id()``) with what was typed,
    everything else as it is now. A row in conflict takes the version it is at now."""
    current = {
        values[0]: values
        for values in class_list(test)
        .filter(id__in=[row.student_id for row in rows])
        .values_list(*_ROW_COLUMNS)
        .order_by()
    }
    conflicts = [row.student_id for row in rows if row.conflict]
    authors = _last_changed_by(test, conflicts) if conflicts else {}
    shown = []
    link = student_link(test)
    for row in rows:
        values = current.get(row.student_id)
        if values is None:
            continue  # no longer a student of the course
        now = Row(student_id=row.student_id)
        now.read(values, test, link)
        if id(row) in pending:
            now.score, now.excused, now.error = row.score, row.excused, row.error
            if row.conflict:
                now.conflict, now.theirs = True, _theirs(now)
                now.theirs_by = authors.get(row.student_id, "")
            else:  # still compared with what the teacher read when they typed it
                now.version, now.was_score, now.was_excused = row.version, row.was_score, row.was_excused
        shown.append(now)
    return _render(model_admin, request, test, listing, rows=shown)


def _theirs(row: Row) -> str:
    if row.version is None:
        return "no result (deleted)"
    return "excused" if row.was_excused else row.was_score


def _last_changed_by(test: Test, student_ids: list[int]) -> dict[int, str]:
    """Who last changed each of these students' results of the test (from the history): one query."""
    latest = (
        GradeChange.objects.filter(test_id=test.pk, student_id__in=student_ids)
        .order_by("student_id", "-id")
        .distinct("student_id")
        .select_related("changed_by")
    )
    return {change.student_id: change.changed_by.get_full_name() if change.changed_by else "" for change in latest}
