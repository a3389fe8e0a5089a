"""Submissions in the instructors' admin: a test's submission settings and a course's late policy on
their pages, a test's counts, the scoped submissions list, and the grading page of one student's work.

Forms are submitted as a browser would: the page is read, its fields filled in, and posted back.
"""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from courses.models import Course, Enrollment, Role
from grading import comments, services, submissions
from grading.models import Comment, Extension, GradeChange, Submission, Test, TestResult
from tests.test_admin_course_grades import read_form
from tests.test_admin_grade_entry import grades_url, read_grades, row_html

pytestmark = pytest.mark.django_db

DAILY = {"deduction_percent": 10, "interval": "day", "minimum_percent": 50}
# The standing test's due time in this file: a week before the machine's clock in these tests.
DUE = datetime(2026, 11, 20, 17, tzinfo=UTC)
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=True):
        yield


def page_url(test):
    return reverse("admin:grading_test_change", args=[test.pk])


def grade_url(test, student):
    return reverse("admin:grading_test_grade_student", args=[test.pk, student.pk])


def submissions_url(**query):
    url = reverse("admin:grading_submission_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def submit(test, student, attempt, at, body="My work."):
    return Submission.objects.create(test=test, student=student, attempt=attempt, submitted_at=at, body=body)


def hand_in(test, student, at, body="My work."):
    """The student submits at ``at`` through the service (the deduction of a result recomputed)."""
    with time_machine.travel(at, tick=False):
        return submissions.submit(test=test, student=student, body=body)


def grade(test, student, score, by, at):
    """``by`` records the score at ``at``, through the service."""
    with time_machine.travel(at, tick=False):
        return services.result_record(test=test, student=student, score=Decimal(score), by=by)


@pytest.fixture
def online(course, test_):
    """The standing test, online, due at DUE, unlimited attempts, in a course of ``DAILY``."""
    Course.objects.filter(pk=course.pk).update(late_policy=DAILY)
    Test.objects.filter(pk=test_.pk).update(submission_type="online", due_at=DUE, allowed_attempts=None)
    test_.refresh_from_db()
    return test_


def post_form(client, url, form_id, changes, **extra):
    fields = read_form(client.get(url), form_id).fields
    fields.update(changes)
    for name in [name for name, value in fields.items() if value is None]:
        del fields[name]
    return client.post(url, {**fields, **extra})


# A test's submission settings ----------------------------------------------------------------------


def test_a_teacher_sets_the_submission_settings_in_the_courses_time_zone(teacher, course, test_, client_as):
    Course.objects.filter(pk=course.pk).update(time_zone="Europe/Paris")  # UTC+1 in December
    client = client_as(teacher)
    settings = {
        "submission_type": "online",
        "unlock_at_0": "2026-12-01",
        "unlock_at_1": "08:00",
        "due_at_0": "2026-12-08",
        "due_at_1": "18:00",
        "lock_at_0": "2026-12-10",
        "lock_at_1": "23:59",
        "allowed_attempts": "3",
    }

    response = post_form(client, page_url(test_), "test_form", settings)

    assert response.status_code == 302, response.content.decode()[:3000]
    test_.refresh_from_db()
    assert (test_.submission_type, test_.allowed_attempts) == ("online", 3)
    assert (test_.unlock_at, test_.due_at, test_.lock_at) == (
        datetime(2026, 12, 1, 7, tzinfo=UTC),
        datetime(2026, 12, 8, 17, tzinfo=UTC),
        datetime(2026, 12, 10, 22, 59, tzinfo=UTC),
    )
    shown = read_form(client.get(page_url(test_)), "test_form").fields
    assert (shown["due_at_0"], shown["due_at_1"]) == ("2026-12-08", "18:00:00")
    assert "In the course's time zone (Europe/Paris)." in client.get(page_url(test_)).content.decode()


def test_empty_attempts_are_unlimited_and_empty_times_none(teacher, online, client_as):
    response = post_form(
        client_as(teacher),
        page_url(online),
        "test_form",
        {"allowed_attempts": "", "due_at_0": "", "due_at_1": ""},
    )

    assert response.status_code == 302
    online.refresh_from_db()
    assert (online.allowed_attempts, online.due_at) == (None, None)


def _settings(test):
    return Test.objects.values("submission_type", "unlock_at", "due_at", "lock_at", "allowed_attempts").get(pk=test.pk)


def test_times_out_of_order_are_refused_naming_each_field_and_nothing_is_saved(teacher, online, client_as):
    before = _settings(online)
    # Due before unlock, and the lock before both: each field the teacher typed gets its message.
    times = {"unlock_at_0": "2026-12-05", "unlock_at_1": "10:00", "due_at_0": "2026-12-04", "due_at_1": "10:00"}
    times |= {"lock_at_0": "2026-12-03", "lock_at_1": "10:00"}

    response = post_form(client_as(teacher), page_url(online), "test_form", times)

    page = response.content.decode()
    assert response.status_code == 200
    assert "unlock_at must not be after due_at." in _field_errors(page, "due_at")
    assert "unlock_at must not be after lock_at." in _field_errors(page, "lock_at")
    assert "Constraint" not in page
    assert _settings(online) == before


def _field_errors(page: str, name: str) -> str:
    """The error list shown with a field of the admin's change form."""
    match = re.search(rf'<div class="form-row[^"]*field-{name}[^"]*">(.*?)</div>\s*</div>', page, re.S)
    assert match, f"no row for {name}"
    return match.group(1)


def test_a_due_time_before_the_stored_unlock_names_the_due_time(teacher, online, client_as):
    Test.objects.filter(pk=online.pk).update(unlock_at=DUE - timedelta(days=3))

    response = post_form(
        client_as(teacher), page_url(online), "test_form", {"due_at_0": "2026-11-10", "due_at_1": "12:00"}
    )

    assert "unlock_at must not be after due_at." in _field_errors(response.content.decode(), "due_at")
    online.refresh_from_db()
    assert online.due_at == DUE


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "abc", "1000001"])
def test_attempts_are_a_positive_whole_number_as_in_the_api(value, teacher, online, client_as):
    response = post_form(client_as(teacher), page_url(online), "test_form", {"allowed_attempts": value})

    assert response.status_code == 200
    assert "errorlist" in _field_errors(response.content.decode(), "allowed_attempts")
    online.refresh_from_db()
    assert online.allowed_attempts is None


def test_a_test_with_submissions_stays_online(teacher, student, online, client_as):
    submit(online, student, 1, DUE)

    response = post_form(client_as(teacher), page_url(online), "test_form", {"submission_type": "none"})

    assert response.status_code == 200
    assert services.BACK_TO_NONE.replace("'", "&#x27;").replace('"', "&quot;") in _field_errors(
        response.content.decode(), "submission_type"
    )
    online.refresh_from_db()
    assert online.submission_type == "online"


def test_moving_the_due_time_recomputes_the_deduction_with_a_policy_line(teacher, student, online, client_as):
    submit(online, student, 1, DUE + timedelta(hours=1))
    result = services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)
    assert result.score == Decimal("80")

    response = post_form(
        client_as(teacher), page_url(online), "test_form", {"due_at_0": "2026-11-21", "due_at_1": "17:00:00"}
    )

    assert response.status_code == 302, response.content.decode()[:3000]
    result.refresh_from_db()
    assert (result.score, result.late_deduction) == (Decimal("90"), Decimal("0"))
    line = GradeChange.objects.filter(result=result).latest("id")
    assert (line.via, line.old_score, line.new_score, line.changed_by_id) == ("policy", 80, 90, teacher.pk)


def test_a_new_test_takes_its_times_in_the_chosen_courses_time_zone(teacher, course, client_as):
    Course.objects.filter(pk=course.pk).update(time_zone="America/New_York")  # UTC-5 in December
    client = client_as(teacher)
    fields = {
        "course": str(course.pk),
        "name": "Essay",
        "date": "2026-12-20",
        "max_score": "20",
        "category": "",
        "submission_type": "online",
        "due_at_0": "2026-12-20",
        "due_at_1": "17:00",
        "allowed_attempts": "2",
    }

    response = post_form(client, reverse("admin:grading_test_add"), "test_form", fields)

    assert response.status_code == 302, response.content.decode()[:3000]
    test = Test.objects.get(name="Essay")
    assert (test.submission_type, test.due_at, test.allowed_attempts) == (
        "online",
        datetime(2026, 12, 20, 22, tzinfo=UTC),
        2,
    )


# A course's late policy ------------------------------------------------------------------------------


def course_url(course):
    return reverse("admin:courses_course_change", args=[course.pk])


def test_the_course_page_shows_the_late_policy(teacher, course, online, client_as):
    fields = read_form(client_as(teacher).get(course_url(course)), "course_form").fields

    assert (fields["late_interval"], fields["late_deduction_percent"], fields["late_minimum_percent"]) == (
        "day",
        "10",
        "50",
    )


def test_a_new_late_policy_recomputes_the_online_tests_results_with_policy_lines(
    teacher, student, classmate, online, client_as
):
    submit(online, student, 1, DUE + timedelta(hours=30))  # 2 days started
    submit(online, classmate, 1, DUE - timedelta(hours=1))  # on time
    late = services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)
    on_time = services.result_record(test=online, student=classmate, score=Decimal("90"), by=teacher)
    assert late.score == Decimal("70")
    policy = {"late_interval": "hour", "late_deduction_percent": "1.5", "late_minimum_percent": "0"}

    response = post_form(client_as(teacher), course_url(online.course), "course_form", policy)

    assert response.status_code == 302, response.content.decode()[:3000]
    online.course.refresh_from_db()
    assert online.course.late_policy == {"deduction_percent": 1.5, "interval": "hour", "minimum_percent": 0}
    late.refresh_from_db()
    assert (late.score, late.late_deduction) == (Decimal("45"), Decimal("45"))  # 30 hours x 1.5 %
    line = GradeChange.objects.filter(result=late).latest("id")
    assert (line.via, line.old_score, line.new_score, line.changed_by_id) == ("policy", 70, 45, teacher.pk)
    assert GradeChange.objects.filter(result=on_time).count() == 1  # its creation only


def test_no_late_deduction_clears_the_policy_and_gives_the_points_back(teacher, student, online, client_as):
    submit(online, student, 1, DUE + timedelta(seconds=1))
    result = services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)

    # The numbers left in their boxes are not read once no deduction is chosen.
    response = post_form(client_as(teacher), course_url(online.course), "course_form", {"late_interval": ""})

    assert response.status_code == 302
    online.course.refresh_from_db()
    assert online.course.late_policy is None
    result.refresh_from_db()
    assert result.score == Decimal("90")
    assert GradeChange.objects.filter(result=result, via="policy").count() == 1


def test_saving_the_course_page_unchanged_recomputes_nothing(teacher, student, online, client_as):
    submit(online, student, 1, DUE + timedelta(seconds=1))
    services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)

    response = post_form(client_as(teacher), course_url(online.course), "course_form", {})

    assert response.status_code == 302
    assert not GradeChange.objects.filter(via="policy").exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"late_deduction_percent": "0"}, "late_deduction_percent", "0 &lt; deduction_percent ≤ 100"),
        ({"late_deduction_percent": "100.5"}, "late_deduction_percent", "0 &lt; deduction_percent ≤ 100"),
        ({"late_minimum_percent": "-1"}, "late_minimum_percent", "0 ≤ minimum_percent ≤ 100"),
        ({"late_minimum_percent": "12.345"}, "late_minimum_percent", "at most 2 decimals"),
        ({"late_deduction_percent": ""}, "late_deduction_percent", "Required with a late deduction."),
        ({"late_interval": "week"}, "late_interval", "Select a valid choice."),
    ],
)
def test_a_bad_late_policy_is_refused_on_its_field_and_nothing_changes(
    changes, field, message, teacher, online, client_as
):
    response = post_form(client_as(teacher), course_url(online.course), "course_form", changes)

    assert response.status_code == 200
    assert message in _field_errors(response.content.decode(), field)
    online.course.refresh_from_db()
    assert online.course.late_policy == DAILY


# A test's page: its counts -------------------------------------------------------------------------


@pytest.fixture
def handed_in(online, teacher, student, classmate, make_user, course):
    """Five students: the student late (graded before a second attempt), the classmate on time and
    graded, one late and ungraded, one who never submitted (missing), one with an extension who
    didn't submit yet (not missing)."""
    late, missing, extended = (make_user(), make_user(), make_user())
    for user in (late, missing, extended):
        Enrollment.objects.create(user=user, course=course, role=Role.STUDENT)
    hand_in(online, student, DUE - timedelta(days=1))
    grade(online, student, "70", teacher, DUE - timedelta(hours=12))
    hand_in(online, student, DUE + timedelta(hours=2), body="Second try.")  # 60 kept: a day started
    hand_in(online, classmate, DUE - timedelta(minutes=5))
    grade(online, classmate, "95", teacher, DUE + timedelta(hours=3))
    hand_in(online, late, DUE + timedelta(days=2))
    Extension.objects.create(test=online, student=extended, due_at=NOW + timedelta(days=1))
    return {"late": late, "missing": missing, "extended": extended}


def test_the_tests_page_counts_submitted_late_missing_and_to_grade(teacher, online, handed_in, client_as):
    page = client_as(teacher).get(page_url(online)).content.decode()

    counts = {
        name: int(re.search(rf'id="count-{name}"[^>]*>(\d+)<', page).group(1))
        for name in ("submitted", "late", "missing-work", "to-grade")
    }
    assert counts == {"submitted": 3, "late": 2, "missing-work": 1, "to-grade": 2}


def test_the_tests_page_links_to_the_first_student_of_the_queue(teacher, student, online, handed_in, client_as):
    page = client_as(teacher).get(page_url(online)).content.decode()

    # The queue goes by when the latest attempt came: the student's (DUE + 2 h) before the late one's.
    assert f'href="{grade_url(online, student)}" id="grade-next"' in page


def test_a_test_without_submissions_shows_no_submission_counts(teacher, test_, client_as):
    page = client_as(teacher).get(page_url(test_)).content.decode()

    assert 'id="test-submissions"' not in page


# The submissions list --------------------------------------------------------------------------------


def listed(response) -> set[int]:
    assert response.status_code == 200, response.content.decode()[:2000]
    return {submission.pk for submission in response.context["cl"].result_list}


@pytest.fixture
def theirs(other_course, make_user):
    pupil = make_user("pupil@example.com")
    Enrollment.objects.create(user=pupil, course=other_course, role=Role.STUDENT)
    test = Test.objects.create(
        course=other_course, name="Their essay", date=DUE.date(), submission_type="online", due_at=DUE
    )
    return submit(test, pupil, 1, DUE)


def test_a_teacher_lists_only_their_courses_submissions_and_an_admin_all(
    teacher, admin_user, online, handed_in, theirs, client_as
):
    mine = set(Submission.objects.filter(test=online).values_list("pk", flat=True))

    assert listed(client_as(teacher).get(submissions_url())) == mine
    assert listed(client_as(admin_user).get(submissions_url())) == mine | {theirs.pk}


def test_another_courses_submission_and_grading_page_are_404s(teacher, online, theirs, client_as):
    client = client_as(teacher)

    assert client.get(reverse("admin:grading_submission_change", args=[theirs.pk])).status_code == 404
    assert client.get(grade_url(theirs.test, theirs.student)).status_code == 404
    assert client.post(grade_url(theirs.test, theirs.student), {"score": "1"}).status_code == 404


def test_the_list_filters_by_test_late_graded_and_latest(
    teacher, student, classmate, online, handed_in, theirs, client_as
):
    client = client_as(teacher)
    ids = {(s.student_id, s.attempt): s.pk for s in Submission.objects.filter(test=online)}
    late = handed_in["late"].pk

    assert listed(client.get(submissions_url(test__id__exact=online.pk))) == set(ids.values())
    assert listed(client.get(submissions_url(late="yes"))) == {ids[student.pk, 2], ids[late, 1]}
    assert listed(client.get(submissions_url(late="no"))) == set(ids.values()) - {ids[student.pk, 2], ids[late, 1]}
    # Graded as the API's ?graded= says: the result written at or after the attempt.
    assert listed(client.get(submissions_url(graded="yes"))) == {ids[student.pk, 1], ids[classmate.pk, 1]}
    queue = client.get(submissions_url(test__id__exact=online.pk, latest="yes", graded="no"))
    assert listed(queue) == {ids[student.pk, 2], ids[late, 1]}
    assert listed(client.get(submissions_url(late="maybe"))) == set(ids.values())  # no 500, no filter
    # With each choice's count ("Show counts"): the queue's two, among others.
    counted = client.get(submissions_url(_facets="True", test__id__exact=online.pk)).content.decode()
    assert re.search(r"To grade\s*\(2\)", counted), counted[counted.index("changelist-filter") :][:3000]


def test_the_list_is_read_only_for_everyone(admin_user, online, handed_in, client_as):
    client = client_as(admin_user)
    submission = Submission.objects.filter(test=online).first()
    change = reverse("admin:grading_submission_change", args=[submission.pk])

    assert client.get(reverse("admin:grading_submission_add")).status_code == 403
    assert client.get(change).status_code == 200
    client.post(change, {"body": "Rewritten", "attempt": "9"})
    assert (
        client.post(reverse("admin:grading_submission_delete", args=[submission.pk]), {"post": "yes"}).status_code
        == 403
    )
    submission.refresh_from_db()
    assert (submission.body, submission.attempt) == ("My work.", 1)


def test_the_list_shows_times_in_the_courses_time_zone_and_links_to_grading(teacher, student, online, client_as):
    Course.objects.filter(pk=online.course_id).update(time_zone="Asia/Tokyo")  # UTC+9
    submit(online, student, 1, DUE + timedelta(days=1, hours=3))

    page = client_as(teacher).get(submissions_url()).content.decode()

    assert "2026-11-22 05:00:00 JST" in page
    assert "1 d 3 h late" in page
    assert f'href="{grade_url(online, student)}"' in page


# The grading page ---------------------------------------------------------------------------------


def read_grade_form(response):
    assert response.status_code == 200, response.content.decode()[:3000]
    return read_form(response, "grade-form").fields


def test_the_grading_page_shows_the_attempts_the_result_and_the_comments(
    teacher, student, online, handed_in, client_as
):
    comments.comment_create(test=online, student_id=student.pk, author=teacher, body="Cite <your> sources.")
    comments.comment_create(test=online, student_id=student.pk, author=student, body="Done.")

    response = client_as(teacher).get(grade_url(online, student))

    page = response.content.decode()
    first, second = page.index('id="attempt-2"'), page.index('id="attempt-1"')
    assert first < second  # newest first
    assert "Second try." in page and "My work." in page
    assert "2 h late" in page and "on time" in page
    assert "Cite &lt;your&gt; sources." in page  # escaped
    assert page.index("Cite &lt;your&gt;") < page.index("Done.")  # oldest first
    assert "Shakuntala Devi (the student)" in page and "Grace Bell" in page
    assert "<strong>To grade</strong>" in page
    assert read_grade_form(response)["score"] == "70"  # as entered
    assert 'id="kept-score">60<' in page and 'id="entered-score">70<' in page


def test_grading_saves_the_entered_score_less_the_deduction_through_the_service(
    teacher, student, online, handed_in, client_as
):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    response = client.post(grade_url(online, student), {**form, "score": "90", "_save": "Save"})

    assert response.status_code == 302
    assert response["Location"] == grade_url(online, student)
    result = TestResult.objects.get(test=online, student=student)
    assert (result.score, result.late_deduction, result.late_waived) == (Decimal("80"), Decimal("10"), False)
    line = GradeChange.objects.filter(result=result).latest("id")
    assert (line.via, line.old_score, line.new_score, line.changed_by_id) == ("admin", 60, 80, teacher.pk)
    page = client.get(grade_url(online, student)).content.decode()
    assert 'id="entered-score">90<' in page and 'id="late-deduction" class="late">10<' in page
    assert "Graded: nothing handed in since the last grade." in page


def test_waiving_the_deduction_keeps_the_score_as_entered(teacher, student, online, handed_in, client_as):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    client.post(grade_url(online, student), {**form, "score": "90", "late_waived": "on", "_save": "Save"})

    result = TestResult.objects.get(test=online, student=student)
    assert (result.score, result.late_deduction, result.late_waived) == (Decimal("90"), Decimal("0"), True)


def test_saving_the_score_as_it_was_grades_a_new_attempt_without_a_history_line(
    teacher, student, online, handed_in, client_as
):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))
    result = TestResult.objects.get(test=online, student=student)
    lines = GradeChange.objects.filter(result=result).count()

    client.post(grade_url(online, student), {**form, "_save": "Save"})

    assert GradeChange.objects.filter(result=result).count() == lines
    result.refresh_from_db()
    assert (result.score, result.graded_at > DUE + timedelta(hours=2)) == (Decimal("60"), True)
    page = client.get(grade_url(online, student)).content.decode()
    assert "Graded: nothing handed in since the last grade." in page


def test_a_comment_goes_through_the_comments_service(teacher, student, online, handed_in, client_as):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    response = client.post(grade_url(online, student), {**form, "comment": "  Better.  ", "_save": "Save"})

    assert response.status_code == 302
    comment = Comment.objects.get()
    assert (comment.body, comment.author_id, comment.student_id, comment.email_state) == (
        "Better.",
        teacher.pk,
        student.pk,
        Comment.EmailState.QUEUED,
    )


def test_a_comment_on_hidden_results_is_held(teacher, student, online, client_as):
    services.test_update(test=online, results_published=False)
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    client.post(grade_url(online, student), {**form, "comment": "Not yet.", "_save": "Save"})

    assert Comment.objects.get().email_state == Comment.EmailState.HELD
    assert (
        "held: the student sees it once the results are published"
        in client.get(grade_url(online, student)).content.decode()
    )


def test_save_and_grade_next_goes_through_the_queue_first_handed_in_first(
    teacher, student, online, handed_in, client_as
):
    client = client_as(teacher)
    late = handed_in["late"]

    form = read_grade_form(client.get(grade_url(online, student)))
    first = client.post(grade_url(online, student), {**form, "score": "60", "_next": "Save and grade next"})
    assert first["Location"] == grade_url(online, late)

    form = read_grade_form(client.get(grade_url(online, late)))
    last = client.post(grade_url(online, late), {**form, "score": "90", "_next": "Save and grade next"})
    assert last["Location"] == submissions_url(test__id__exact=online.pk)
    assert TestResult.objects.get(test=online, student=late).score == Decimal("70")  # 2 days late: -20


def test_grade_next_without_grading_skips_to_the_following_student_and_wraps(
    teacher, student, online, handed_in, client_as
):
    client = client_as(teacher)
    late = handed_in["late"]
    form = read_grade_form(client.get(grade_url(online, late)))
    form.pop("score")  # an ungraded student, nothing typed: nothing to save

    response = client.post(grade_url(online, late), {**form, "score": "", "_next": "Save and grade next"})

    # The late student's attempt is the last of the queue: the next is its first, the student.
    assert response["Location"] == grade_url(online, student)
    assert not TestResult.objects.filter(student=late).exists()


def test_a_result_changed_meanwhile_is_not_overwritten_and_nothing_is_saved(
    teacher, other_teacher, student, online, handed_in, client_as
):
    Enrollment.objects.create(user=other_teacher, course=online.course, role=Role.TEACHER)
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))
    result = TestResult.objects.get(test=online, student=student)
    services.result_update(result=result, score=Decimal("85"), by=other_teacher)

    response = client.post(grade_url(online, student), {**form, "score": "88", "comment": "Good.", "_next": "Next"})

    page = response.content.decode()
    assert response.status_code == 200
    assert '<strong class="theirs">85</strong>' in page
    assert "Alan Turing" in page
    assert not Comment.objects.exists()
    result.refresh_from_db()
    assert result.score == Decimal("75")  # theirs, 85, less the deduction for 2 hours late
    again = read_grade_form(response)
    assert (again["score"], again["comment"]) == ("88", "Good.")  # what was typed, kept

    saved = client.post(grade_url(online, student), {**again, "_save": "Save"})  # now at their version

    assert saved.status_code == 302
    result.refresh_from_db()
    assert result.score == Decimal("78")
    assert Comment.objects.get().body == "Good."


@pytest.mark.parametrize(
    ("score", "message"),
    [
        ("101", "less than or equal to the test&#x27;s max_score"),
        ("-1", "greater than or equal to 0"),
        ("1.234", "no more than 2 decimal places"),
        ("1e3", "Enter a number."),
        ("abc", "Enter a number."),
    ],
)
def test_a_bad_score_is_shown_with_what_was_typed_and_nothing_is_saved(
    score, message, teacher, student, online, handed_in, client_as
):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    response = client.post(grade_url(online, student), {**form, "score": score, "comment": "Hm.", "_save": "Save"})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert read_grade_form(response)["score"] == score
    assert TestResult.objects.get(test=online, student=student).score == Decimal("60")
    assert not Comment.objects.exists()


def test_a_score_with_excused_and_a_comment_too_long_are_errors(teacher, student, online, client_as):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    response = client.post(
        grade_url(online, student),
        {**form, "score": "5", "excused": "on", "comment": "x" * 10_001, "_save": "Save"},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "An excused result has no score" in page
    assert "Ensure this value has at most 10000 characters" in page
    assert not TestResult.objects.exists() and not Comment.objects.exists()


def test_excusing_and_clearing_go_through_the_service(teacher, student, online, handed_in, client_as):
    client = client_as(teacher)
    url = grade_url(online, student)

    client.post(url, {**read_grade_form(client.get(url)), "score": "", "excused": "on", "_save": "Save"})
    result = TestResult.objects.get(test=online, student=student)
    assert (result.score, result.excused) == (None, True)

    form = read_grade_form(client.get(url))
    form.pop("excused")
    client.post(url, {**form, "score": "", "_save": "Save"})
    assert not TestResult.objects.filter(test=online, student=student).exists()
    assert list(GradeChange.objects.filter(student=student).values_list("action", "via").order_by("id"))[-2:] == [
        ("updated", "admin"),
        ("deleted", "admin"),
    ]


@pytest.mark.parametrize("who", ["stranger", "other_teacher"])
def test_someone_not_a_student_of_the_course_has_no_grading_page(who, request, teacher, online, client_as):
    client = client_as(teacher)

    assert client.get(grade_url(online, request.getfixturevalue(who))).status_code == 404
    for nonsense in ("abc", "0", "-1", "99999999999999999999"):
        url = reverse("admin:grading_test_grade_student", args=[online.pk, nonsense])
        assert client.get(url).status_code == 404


def test_another_courses_teacher_and_students_have_no_grading_page(
    other_teacher, other_course, student, online, client_as
):
    assert client_as(other_teacher).get(grade_url(online, student)).status_code == 404
    response = client_as(student).get(grade_url(online, student))
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("version", ["", "abc", "-1", "1" * 30])
def test_a_form_no_page_writes_is_a_400(version, teacher, student, online, client_as):
    client = client_as(teacher)
    form = read_grade_form(client.get(grade_url(online, student)))

    response = client.post(grade_url(online, student), {**form, "version": version, "score": "5"})

    assert response.status_code == 400
    assert not TestResult.objects.exists()


def test_times_on_the_grading_page_are_in_the_courses_time_zone(teacher, student, online, client_as):
    Course.objects.filter(pk=online.course_id).update(time_zone="Asia/Tokyo")
    Extension.objects.create(test=online, student=student, due_at=DUE + timedelta(days=1), extra_attempts=2)
    Test.objects.filter(pk=online.pk).update(allowed_attempts=1)
    submit(online, student, 1, DUE)

    page = client_as(teacher).get(grade_url(online, student)).content.decode()

    assert '<span id="due-at">2026-11-22 02:00 JST</span>' in page
    assert "(their extension)" in page
    assert '<span id="attempts-used">1</span>' in page and '<span id="attempts-allowed">3</span>' in page
    assert "2026-11-21 02:00:00 JST" in page  # the attempt: on time with the extension
    assert "on time" in page


# The grade-entry page and a result's page on an online test -------------------------------------------


def test_the_grade_entry_page_holds_entered_scores_and_says_what_the_policy_took(
    teacher, student, classmate, online, client_as
):
    submit(online, student, 1, DUE + timedelta(days=1, seconds=1))  # two days started
    services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)
    services.result_record(test=online, student=classmate, score=Decimal("90"), by=teacher)
    client = client_as(teacher)

    response = client.get(grades_url(online))

    form = read_grades(response)
    assert (form.fields[f"score-{student.pk}"], form.fields[f"score-{classmate.pk}"]) == ("90", "90")
    late_row, on_time_row = row_html(response, student), row_html(response, classmate)
    assert "70 (70.0 %)" in late_row and "entered 90 &minus; 20 late" in late_row
    assert "late-deduction" not in on_time_row
    assert f'href="{grade_url(online, student)}"' in late_row

    # Saved as it is, nothing changes: the box held what was entered.
    client.post(grades_url(online), form.fields)
    assert TestResult.objects.get(student=student).score == Decimal("70")


def test_the_grade_entry_page_lists_as_missing_by_the_submissions_rule(teacher, online, handed_in, client_as):
    response = client_as(teacher).get(grades_url(online, show="missing"))

    assert re.findall(r'data-student="(\d+)"', response.content.decode()) == [str(handed_in["missing"].pk)]


def test_a_results_page_holds_the_entered_score_so_saving_it_unchanged_takes_nothing_more(
    teacher, student, online, client_as
):
    submit(online, student, 1, DUE + timedelta(seconds=1))
    result = services.result_record(test=online, student=student, score=Decimal("90"), by=teacher)
    url = reverse("admin:grading_testresult_change", args=[result.pk])
    client = client_as(teacher)
    form = read_form(client.get(url), "testresult_form").fields
    assert form["score"] == "90.00"

    client.post(url, form)

    result.refresh_from_db()
    assert (result.score, result.late_deduction) == (Decimal("80"), Decimal("10"))
    assert "80 (entered 90 &minus; 10 late)" in client.get(url).content.decode()


def test_the_test_page_is_drawn_when_nothing_is_due(teacher, online, client_as):
    Test.objects.filter(pk=online.pk).update(due_at=None)

    page = client_as(teacher).get(page_url(online)).content.decode()

    assert 'id="nothing-to-grade"' in page
