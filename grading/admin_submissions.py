"""Submissions in the admin: a test's counts, and the grading page of one student's work on a test.

``/admin/grading/test/<id>/grade/<student_id>/`` (``admin:grading_test_grade_student``), for the
teachers of the test's course and admins (``policy.can_manage_test``, as the grade-entry page,
``grading.admin_grades``). Another course's test, or someone who isn't a student of the course, is a
404.

- **What it shows**: the student's effective due and lock times and attempts (their extension's,
  else the test's), their attempts newest first with their text and how late each is
  (``ATTEMPTS_SHOWN`` of them; the rest are in the submissions list), the result (the score as
  entered, the late deduction and the score kept, excused, late waived) and the comments on the
  student's work, oldest first. Times are in the course's time zone.
- **Saving** is one form: the score as entered, excused, late waived and a new comment. The result
  goes through the grade service (``via="admin"``) and the comment through ``grading.comments``, in
  one transaction: all or nothing. A blank score with excused unticked clears a result (as on the
  grade-entry page). Saving grades the student's latest attempt even with the score as it was
  (``services.result_update``'s ``confirm``): it leaves the grading queue.
- **Conflicts**: the form carries the version of the result it was read at (``none``: no result),
  and the write expects it, checked under the result's lock. A result someone else changed,
  recorded or deleted meanwhile is not overwritten and nothing is saved: the page comes back with
  what was typed, theirs beside it, and their version, so saving again replaces theirs.
- **The queue**: "Save and grade next" (the form's default button: Enter in the score box) saves,
  then opens the next student of the grading queue (``submissions.grading_queue``: each student's
  latest attempt not graded yet, first handed in first) after this one, wrapping around to its
  start; with nobody left, the test's submissions list.
- **Cost**: a fixed number of queries whatever the class, the attempts or the comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.lookups import GreaterThan
from django.http import Http404, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from courses.models import Enrollment, Role
from grading import comments, services, submissions
from grading.admin_grades import (
    NO_RESULT,
    SCORE_AND_EXCUSED,
    _last_changed_by,
    _same_score,
    _score_field,
    _test_of,
    class_list,
    score_text,
)
from grading.models import Comment, GradeChange, Submission, Test, TestResult, Upload, percent_of
from gradingsite import files
from gradingsite.errors import DomainError

TEMPLATE = "admin/grading/test/grade_student.html"
# Attempts shown on the grading page, newest first; older ones are in the submissions list.
ATTEMPTS_SHOWN = 20
NEXT = "_next"


def course_zone(test: Test) -> ZoneInfo:
    return ZoneInfo(test.course.time_zone)


def late_text(seconds: int) -> str:
    """How late, in words a teacher reads at a glance: the two largest units ("1 d 4 h", "3 min 2 s")."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append((count, unit))
    shown = [f"{count} {unit}" for count, unit in parts[:2] if count]
    return " ".join(shown) or "0 s"


# The test's page: its counts ------------------------------------------------------------------------


def submission_counts(test: Test) -> dict[str, int]:
    """Of the course's students: how many submitted, how many of those are late (their latest
    attempt, as it is now), and how many are to grade (the grading queue): one query."""
    students = Enrollment.objects.filter(course_id=test.course_id, role=Role.STUDENT, user_id=OuterRef("student_id"))
    latest = submissions.latest_only(Submission.objects.filter(test_id=test.pk)).filter(Exists(students))
    late = GreaterThan(submissions.seconds_late_column(), 0)
    return latest.aggregate(
        submitted=Count("id"),
        late=Count("id", filter=Q(late)),
        to_grade=Count("id", filter=submissions.graded_filter(False)),
    )


def submissions_url(test: Test, **filters: str) -> str:
    """The submissions list of this test, with the list's own filters (``latest``, ``late``, ``graded``)."""
    query = "&".join([f"test__id__exact={test.pk}", *(f"{key}={value}" for key, value in filters.items())])
    return f"{reverse('admin:grading_submission_changelist')}?{query}"


def grade_url(test: Test, student_id: int) -> str:
    return reverse("admin:grading_test_grade_student", args=[test.pk, student_id])


def next_in_queue(test: Test, after: Submission | None = None) -> int | None:
    """The student to grade next: the first of the grading queue after ``after`` (a student's latest
    attempt), else from its start (never ``after``'s student). None when nobody is left."""
    queue = submissions.grading_queue(test).values_list("student_id", flat=True)
    if after is None:
        return queue.first()
    later = Q(submitted_at__gt=after.submitted_at) | Q(submitted_at=after.submitted_at, id__gt=after.pk)
    found = queue.filter(later).first()
    if found is None:
        found = queue.exclude(student_id=after.student_id).first()
    return found


# The grading page ---------------------------------------------------------------------------------


class GradeForm(forms.Form):
    """The result as entered, and a new comment. The ``was_*`` fields and ``version`` hold what the
    page read: only a result that differs from them is written, and only at that version."""

    score = forms.CharField(required=False, max_length=50)
    excused = forms.BooleanField(required=False)
    late_waived = forms.BooleanField(required=False)
    comment = forms.CharField(
        required=False,
        max_length=comments.COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=f"Up to {comments.COMMENT_MAX:,} characters; the student is emailed it.",
    )
    version = forms.CharField(widget=forms.HiddenInput)
    was_score = forms.CharField(required=False, widget=forms.HiddenInput)
    was_excused = forms.BooleanField(required=False, widget=forms.HiddenInput)
    was_waived = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, test: Test, **kwargs):
        super().__init__(*args, **kwargs)
        self.test = test

    def clean_version(self):
        version = self.cleaned_data["version"]
        if version != NO_RESULT and not (version.isascii() and version.isdigit() and len(version) < 19):
            raise ValidationError("Unreadable version.")
        return None if version == NO_RESULT else int(version)

    def clean_score(self):
        text = self.cleaned_data["score"].strip()
        if not text:
            return None
        score = _score_field().clean(text)
        problem = services.score_error(score, self.test.max_score)
        if problem:
            raise ValidationError(problem)
        return score

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("excused") and cleaned.get("score") is not None:
            self.add_error("score", SCORE_AND_EXCUSED)
        return cleaned

    def result_changed(self) -> bool:
        data = self.cleaned_data
        return (
            not _same_score(self.data.get("score", ""), data.get("was_score", ""))
            or data["excused"] != data["was_excused"]
            or data["late_waived"] != data["was_waived"]
        )


def _initial(result: dict | None) -> dict:
    """The form's fields for the result as it is now (``_student_row``'s result, or None)."""
    if result is None:
        return {"version": NO_RESULT, "score": "", "excused": False, "late_waived": False}
    entered = result["entered"]
    values = {
        "version": str(result["version"]),
        "score": score_text(entered),
        "excused": result["excused"],
        "late_waived": result["late_waived"],
    }
    return {**values, **{f"was_{key}": values[name] for key, name in _WAS.items()}}


_WAS = {"score": "score", "excused": "excused", "waived": "late_waived"}


@dataclass
class Student:
    pk: int
    name: str
    email: str


def _student_row(test: Test, student_id) -> tuple[Student, dict | None]:
    """The student (a student of the course, else 404) and their result on the test: one query."""
    try:
        student_id = int(student_id)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 1 <= student_id < 2**63:
        raise Http404
    columns = ("first_name", "last_name", "email", "r__id", "r__score", "r__excused", "r__late_deduction")
    columns += ("r__late_waived", "r__version", "r__graded_at")
    row = class_list(test).filter(pk=student_id).values_list(*columns).first()
    if row is None:
        raise Http404("Not a student of this course.")
    first, last, email, result_id, score, excused, deduction, waived, version, graded_at = row
    student = Student(pk=student_id, name=f"{first} {last}".strip() or email, email=email)
    if result_id is None:
        return student, None
    result = {
        "id": result_id,
        "score": score,
        "excused": excused,
        "deduction": deduction,
        "entered": None if score is None else score + deduction,
        "late_waived": waived,
        "version": version,
        "graded_at": graded_at,
        "percent": None if score is None else percent_of(score, test.max_score),
    }
    return student, result


def grade_student_view(model_admin, request, object_id, student_id):
    """The grading page of one student's work on a test (``TestAdmin.get_urls``): GET shows it, POST saves."""
    test = _test_of(model_admin, request, object_id)
    student, result = _student_row(test, student_id)
    with timezone.override(course_zone(test)):
        if request.method == "POST":
            return _save(model_admin, request, test, student, result)
        form = GradeForm(initial=_initial(result), test=test)
        return _render(model_admin, request, test, student, result, form)


def file_view(model_admin, request, object_id, file_id):
    """A file handed in on the test (``TestAdmin.get_urls``), for those who grade it: as the API's
    ``GET /api/files/{id}/`` answers (a presigned GET of the store, or the file streamed)."""
    test = _test_of(model_admin, request, object_id)
    upload = (
        Upload.objects.filter(test_id=test.pk, submission__isnull=False, pk=file_id).first()
        if file_id.isascii() and file_id.isdigit() and int(file_id) < 2**63
        else None
    )
    if upload is None:
        raise Http404("No such file handed in on this test.")
    return files.store().download(upload.key, name=upload.name, content_type=upload.content_type)


def _save(model_admin, request, test: Test, student: Student, result: dict | None):
    form = GradeForm(request.POST, test=test)
    if not form.is_valid():
        if "version" in form.errors:
            return HttpResponseBadRequest("A form no page of this admin writes.")
        messages.error(request, "Nothing was saved: correct the errors below.")
        return _render(model_admin, request, test, student, result, form)
    data = form.cleaned_data
    latest = _latest_attempt(test, student.pk)
    try:
        with transaction.atomic():
            graded = _write_result(request, test, student, form, latest)
            comment = data["comment"].strip()
            if comment:
                comments.comment_create(test=test, student_id=student.pk, author=request.user, body=comment)
    except services.StaleResult:
        student, result = _student_row(test, student.pk)
        _take_theirs(form, result)
        authors = _last_changed_by(test, [student.pk])
        by = authors.get(student.pk)
        theirs = _result_text(result)
        messages.error(
            request,
            f"Nothing was saved: this result was changed{f' by {by}' if by else ''} since you opened this page "
            f"(theirs: {theirs}; yours is in the box). Save again to replace theirs, or type theirs back to keep it.",
        )
        return _render(model_admin, request, test, student, result, form, conflict=theirs)
    except DomainError as exc:  # not a student any more, the test deleted meanwhile: the service's refusal
        messages.error(request, f"Nothing was saved: {_message(exc.detail)}")
        return _render(model_admin, request, test, student, result, form)
    said = [text for done, text in ((graded, "the grade"), (bool(comment), "the comment")) if done]
    if said:
        messages.success(request, f"Saved {' and '.join(said)} of {student.name}.")
    else:
        messages.info(request, f"Nothing to save for {student.name}.")
    if NEXT not in request.POST:
        return HttpResponseRedirect(request.path)
    following = next_in_queue(test, latest)
    if following is None:
        messages.info(request, "Nobody is left to grade on this test.")
        return HttpResponseRedirect(submissions_url(test))
    return HttpResponseRedirect(grade_url(test, following))


def _latest_attempt(test: Test, student_id: int) -> Submission | None:
    return (
        Submission.objects.filter(test_id=test.pk, student_id=student_id)
        .only("submitted_at", "student_id")
        .order_by("-attempt")
        .first()
    )


def _write_result(request, test: Test, student: Student, form: GradeForm, latest: Submission | None) -> bool:
    """Write the result as the form has it through the grade service; whether anything was written.

    Unchanged, the result is only confirmed as graded when the latest attempt came after it was
    last graded. ``StaleResult`` when it isn't at the version the page read."""
    data = form.cleaned_data
    by, via = request.user, GradeChange.Via.ADMIN
    score, excused, waived, version = data["score"], data["excused"], data["late_waived"], data["version"]
    changed = form.result_changed()
    if version is None:
        if score is None and not excused:
            return False  # no result, and none to record
        services.result_record(
            test=test, student=student, score=score, excused=excused, late_waived=waived, by=by, via=via
        )
        return True
    current = TestResult.objects.filter(test_id=test.pk, student_id=student.pk).first()
    if current is None:
        raise services.StaleResult("This result was deleted meanwhile.")
    current.test = test
    if score is None and not excused:
        if not changed:
            return False
        services.result_delete(result=current, by=by, via=via, expected_version=version)
        return True
    to_grade = latest is not None and current.graded_at < latest.submitted_at
    if not changed and not to_grade:
        return False
    services.result_update(
        result=current,
        score=score,
        excused=excused,
        late_waived=waived,
        by=by,
        via=via,
        expected_version=version,
        confirm=True,
    )
    return True


def _take_theirs(form: GradeForm, result: dict | None) -> None:
    """After a conflict: the form now expects the result as it is (its version and values), and keeps
    what was typed."""
    data = form.data.copy()
    now = _initial(result)
    data["version"] = now["version"]
    data["was_score"] = now.get("was_score", "")
    for key in ("excused", "waived"):
        data[f"was_{key}"] = "True" if now.get(f"was_{key}") else ""
    form.data = data


def _result_text(result: dict | None) -> str:
    if result is None:
        return "no result (deleted)"
    if result["excused"]:
        return "excused"
    return score_text(result["entered"])


def _message(detail) -> str:
    if isinstance(detail, dict):
        return " ".join(str(m) for messages_ in detail.values() for m in messages_)
    return str(detail)


def _render(model_admin, request, test, student, result, form, conflict: str = ""):
    window = submissions.student_window(test, student.pk)
    attempts = list(
        submissions.with_lateness(Submission.objects.filter(test_id=test.pk, student_id=student.pk))
        .order_by("-attempt")
        .values("id", "attempt", "submitted_at", "body", "seconds_late")[:ATTEMPTS_SHOWN]
    )
    handed_in: dict[int, list[dict]] = {}
    for file in (
        Upload.objects.filter(submission_id__in=[attempt["id"] for attempt in attempts])
        .order_by("submission_id", "position", "id")
        .values("id", "submission_id", "name", "size")
    ):
        file["url"] = reverse("admin:grading_test_file", args=[test.pk, file["id"]])
        handed_in.setdefault(file["submission_id"], []).append(file)
    for attempt in attempts:
        attempt["late_text"] = late_text(attempt["seconds_late"]) if attempt["seconds_late"] else ""
        attempt["files"] = handed_in.get(attempt["id"], [])
    thread = list(
        Comment.objects.filter(test_id=test.pk, student_id=student.pk)
        .order_by("created_at", "id")
        .values("body", "created_at", "email_state", "author_id", "author__first_name", "author__last_name")
        .annotate(author_email=F("author__email"))
    )
    for comment in thread:
        comment["author"] = _author(comment, student)
        comment["held"] = comment["email_state"] == Comment.EmailState.HELD
    latest = attempts[0] if attempts else None
    to_grade = bool(latest) and (result is None or result["graded_at"] < latest["submitted_at"])
    left = submissions.grading_queue(test).count()
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": opts,
        "title": f"{student.name}: {test.name}",
        "subtitle": test.course.name,
        "test": test,
        "student": student,
        "result": result,
        "kept_text": score_text(result["score"]) if result else "",
        "entered_text": score_text(result["entered"]) if result else "",
        "deduction_text": score_text(result["deduction"]) if result and result["deduction"] else "",
        "form": form,
        "conflict": conflict,
        "window": window,
        "attempts": attempts,
        "older_attempts": max(0, window.attempts_used - len(attempts)),
        "to_grade": to_grade,
        "left": left,
        "thread": thread,
        "policy_text": _policy_text(window.late_policy),
        "max_score": score_text(test.max_score),
        "zone": test.course.time_zone,
        "test_url": reverse("admin:grading_test_change", args=[test.pk]),
        "grades_url": reverse("admin:grading_test_grades", args=[test.pk]),
        "student_submissions_url": submissions_url(test, student__id__exact=str(student.pk)),
        "queue_url": submissions_url(test, latest="yes", graded="no"),
    }
    request.current_app = model_admin.admin_site.name
    response = TemplateResponse(request, TEMPLATE, context)
    return response.render()  # in the course's time zone, which the caller set


def _author(comment: dict, student: Student) -> str:
    if comment["author_id"] is None:
        return "(a deleted account)"
    if comment["author_id"] == student.pk:
        return f"{student.name} (the student)"
    name = f"{comment['author__first_name']} {comment['author__last_name']}".strip()
    return name or comment["author_email"]


def _policy_text(policy: dict | None) -> str:
    if policy is None:
        return "The course takes nothing off late work."
    return (
        f"Late work loses {policy['deduction_percent']} % of the max score per {policy['interval']} late (a "
        f"{policy['interval']} started counts), down to {policy['minimum_percent']} % of it at the least; a score "
        "entered below that is kept."
    )
