"""Each output serializer is THE declaration of its representation, and the fast path reads it
(``gradingsite.api.serializers.Output``): what the fast path gives renders to the same bytes as DRF's
own ``serializer.data`` for the same object, read as a model instance or as a ``values_list()`` row."""

import inspect
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection

import accounts.serializers
import courses.serializers
import grading.serializers
from courses import policy
from courses import views as course_views
from courses.embeds import Embed, embeds
from courses.models import Enrollment, Feedback, Role
from grading import csv_io, grades, reports, services
from grading.models import GradeCategory, GradeChange, Notice, NoticeRecipient, Test, TestResult, results_version
from grading.notices import with_counts
from grading.views import _RESULTS_COUNT_AND_PAGE, _page_json
from gradingsite.api.renderers import FastJSONRenderer
from gradingsite.api.serializers import Output, ReportSerializer
from gradingsite.sql import fetch

DECLARING_MODULES = [accounts.serializers, courses.serializers, grading.serializers]


def declarations() -> dict[str, Output]:
    return {
        f"{module.__name__}.{name}": value
        for module in DECLARING_MODULES
        for name, value in inspect.getmembers(module)
        if isinstance(value, Output)
    }


def _users(make_user, **_):
    plain = make_user(first_name="Ada", last_name="Lovelace")
    social = make_user(social={"github": "ada", "website": "https://example.com/ä", "other": 1})
    admin = make_user(is_superuser=True, notify_by_email=False, social=[])
    return [plain, social, admin]


def _enrollments(course, **_):
    return list(Enrollment.objects.filter(course=course).order_by("id"))


def _feedback(course, student, **_):
    return [
        Feedback.objects.create(course=course, student=student, feedback="Clear.\nThanks — ü"),
        Feedback.objects.create(course=course, student=student, feedback=""),
    ]


def _results(test_, student, make_user, course, **_):
    """Scores with and without decimals, an excused result, a grader, microseconds and none."""
    test_.max_score = Decimal("30.00")
    test_.save()
    others = [make_user() for _ in range(2)]
    Enrollment.objects.bulk_create([Enrollment(user=user, course=course, role=Role.STUDENT) for user in others])
    results = [
        TestResult.objects.create(test=test_, student=student, score=Decimal("12.35")),
        TestResult.objects.create(test=test_, student=others[0], score=None, excused=True),
        TestResult.objects.create(test=test_, student=others[1], score=Decimal("30"), grader=student),
    ]
    TestResult.objects.filter(pk=results[2].pk).update(created_at=datetime(2027, 1, 1, tzinfo=UTC))
    return [TestResult.objects.select_related("test").get(pk=result.pk) for result in results]


def _categories(course, **_):
    GradeCategory.objects.create(
        course=course, name="Ünit quizzes", weight=Decimal("12.5"), drop_lowest=1, drop_highest=2, position=7
    )
    GradeCategory.objects.create(course=course, name="Zero", weight=Decimal("0"), position=8)
    return list(GradeCategory.objects.filter(course=course).order_by("position", "id"))


def _history(test_, student, teacher, **_):
    """Created, updated (to excused), deleted: scores and nulls, a grader and a result gone."""
    result = services.result_record(test=test_, student=student, score=Decimal("12.35"), by=teacher)
    result = services.result_update(result=result, score=None, excused=True, by=teacher, via=GradeChange.Via.API)
    services.result_delete(result=result, by=teacher, via=GradeChange.Via.API)
    return list(GradeChange.objects.order_by("id"))


def _notices(test_, student, make_user, **_):
    """Notices with no recipients and with recipients in every state."""
    now = datetime(2027, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)
    empty = Notice.objects.create(test=test_, kind="published", state="canceled", send_after=now, reason="Hidden.")
    sent = Notice.objects.create(test=test_, kind="changed", state="sent", send_after=now)
    students = [student, *(make_user() for _ in range(4))]
    states = ["sent", "sent", "failed", "skipped", "queued"]
    NoticeRecipient.objects.bulk_create(
        NoticeRecipient(notice=sent, student=user, state=state) for user, state in zip(students, states, strict=True)
    )
    return list(with_counts(Notice.objects.filter(pk__in=[empty.pk, sent.pk])))


# Objects to render, by declaration: each kind of value its fields can hold.
EXAMPLES = {
    "accounts.serializers.USER": _users,
    "accounts.serializers.USER_SUMMARY": _users,
    "courses.serializers.ENROLLMENT": _enrollments,
    "courses.serializers.USER_ENROLLMENT": _enrollments,
    "courses.serializers.FEEDBACK": _feedback,
    "grading.serializers.RESULT": _results,
    "grading.serializers.STUDENT_RESULT": _results,
    "grading.serializers.CATEGORY": _categories,
    "grading.serializers.GRADE_CHANGE": _history,
    "grading.serializers.NOTICE": _notices,
}

# How the fast path reads a declaration's rows where that isn't its model's table alone: the
# queryset the view annotates (``NoticeSerializer``'s counts).
READ_FROM = {
    "grading.serializers.NOTICE": with_counts,
}


def render(data) -> bytes:
    return FastJSONRenderer().render(data)


def _tests_by_caller(course, test_, teacher, student, stranger, admin_user, client_for, **_):
    """The tests list, for callers who see ``results_version`` on some tests, all or none: the rows
    render as DRF serializes the same tests for the same caller."""
    unpublished = Test.objects.create(
        course=course, name="Ünpublished", date=date(2027, 1, 2), max_score=Decimal("12.5"), results_published=False
    )
    services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    services.result_record(test=unpublished, student=student, score=Decimal("2"), by=teacher)
    Test.objects.filter(pk=test_.pk).update(updated_at=datetime(2027, 1, 1, 12, 0, 0, 5, tzinfo=UTC))
    for caller in (teacher, student, admin_user):
        response = client_for(caller).get(f"/api/courses/{course.pk}/tests/")
        tests = policy.with_caller_role(Test.objects.annotate(results_version=results_version()), caller)
        tests = tests.filter(course=course).order_by("date", "id")
        context = {"request": SimpleNamespace(user=caller)}
        expected = grading.serializers.TestSerializer(tests, many=True, context=context).data
        assert render(response.json()["results"]) == render(expected)
    shown = [
        test["results_version"]
        for test in client_for(student).get(f"/api/courses/{course.pk}/tests/").json()["results"]
    ]
    assert shown == [1, None]


# Declarations with a field computed for the caller (``Output(computed=...)``): each checked through
# its endpoints, by caller.
PER_CALLER = {
    "grading.serializers.TEST": _tests_by_caller,
}


def test_every_declaration_has_examples():
    assert sorted(declarations()) == sorted(EXAMPLES | PER_CALLER)
    assert all(declarations()[name].computed for name in PER_CALLER)


@pytest.mark.parametrize("name", sorted(PER_CALLER))
def test_representation_computed_for_the_caller_renders_as_drf_serializes(name, request, db):
    fixtures = {
        fixture: request.getfixturevalue(fixture)
        for fixture in inspect.signature(PER_CALLER[name]).parameters
        if fixture != "_"
    }
    PER_CALLER[name](**fixtures)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_fast_representation_renders_as_drf_serializes(name, request, db):
    declaration = declarations()[name]
    fixtures = {
        fixture: request.getfixturevalue(fixture)
        for fixture in inspect.signature(EXAMPLES[name]).parameters
        if fixture != "_"
    }
    objects = EXAMPLES[name](**fixtures)
    assert objects
    model = declaration.model
    for obj in objects:
        expected = render(declaration.serializer_class(obj).data)
        assert render(declaration.of(obj)) == expected
        read_from = READ_FROM.get(name, lambda queryset: queryset)(model.objects.filter(pk=obj.pk))
        fresh = read_from.get()
        assert render(declaration.serializer_class(fresh).data) == expected
        if "percent" not in declaration.columns:  # an annotation: read by the page's statement below
            row = read_from.values_list(*declaration.columns).get()
            assert render(declaration.row(row)) == expected
            assert render(declaration.rows([row, row])) == b"[" + expected + b"," + expected + b"]"
        assert list(declaration.of(obj)) == list(declaration.serializer_class(obj).data)


def _page_text(test_, limit=10) -> bytes:
    sql = _RESULTS_COUNT_AND_PAGE.format(where="", order="r.id")
    (_, rows) = fetch(sql, {"test": test_.pk, "max_score": test_.max_score, "limit": limit, "offset": 0})[0]
    return _page_json(rows).encode()


def test_a_page_of_results_written_by_the_database_is_what_drf_serializes_byte_for_byte(
    test_, student, make_user, course
):
    results = _results(test_, student, make_user, course)

    assert _page_text(test_) == render(grading.serializers.TestResultSerializer(results, many=True).data)


def test_every_score_and_time_on_the_results_page_is_written_as_drf_writes_it(test_, student, make_user, course):
    """Numbers with 0, 1 and 2 decimals, the largest score, percents rounded half up (0.5 of 40 is
    1.25%), a late deduction, time stamps with microseconds that end in zeros and with none; an
    empty page."""
    assert _page_text(test_) == b"[]"
    test_.max_score = Decimal("40")
    test_.save()
    scores = ["0", "0.5", "0.05", "1.10", "7", "12.35", "33.33", "40", "99999.99", "99999.98"]
    students = [make_user() for _ in scores]
    Enrollment.objects.bulk_create([Enrollment(user=user, course=course, role=Role.STUDENT) for user in students])
    results = [
        TestResult.objects.create(test=test_, student=user, score=Decimal(score), grader=student)
        for user, score in zip(students, scores, strict=True)
    ]
    TestResult.objects.filter(pk=results[1].pk).update(late_deduction=Decimal("2.50"))
    TestResult.objects.filter(pk=results[2].pk).update(created_at=datetime(2027, 1, 1, 0, 0, 0, 100000, tzinfo=UTC))
    TestResult.objects.filter(pk=results[3].pk).update(updated_at=datetime(2026, 12, 31, 23, 59, 59, 10, tzinfo=UTC))
    paris = timezone(timedelta(hours=2))
    waived_at = datetime(2026, 7, 1, 1, 2, 3, tzinfo=paris)
    TestResult.objects.filter(pk=results[4].pk).update(late_waived=True, created_at=waived_at)
    old = datetime(1999, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    TestResult.objects.filter(pk=results[5].pk).update(grader=None, updated_at=old)
    expected = [TestResult.objects.select_related("test").get(pk=result.pk) for result in results]

    page = _page_text(test_, limit=100)

    assert page == render(grading.serializers.TestResultSerializer(expected, many=True).data)
    assert b'"late_waived":true,"created_at":"2026-06-30T23:02:03Z",' in page
    assert b'"updated_at":"1999-01-02T03:04:05.123456Z",' in page
    with connection.cursor() as cursor:  # the session's own time zone and date style change nothing
        cursor.execute("SET LOCAL TIME ZONE 'America/New_York'")
        cursor.execute("SET LOCAL DateStyle = 'SQL, DMY'")
        assert _page_text(test_, limit=100) == page
    assert b'"percent":1.3,' in page
    assert b'"score":0.5,"percent":1.3,"excused":false,"entered_score":3.0,"late_deduction":2.5,' in page


def test_a_page_of_a_students_results_renders_as_drf_serializes_each(
    client_for, admin_user, test_, student, make_user, course
):
    results = _results(test_, student, make_user, course)
    other = TestResult.objects.create(
        test=Test.objects.create(course=course, name="Ünit 2", date=date(2027, 2, 1), max_score=Decimal("40")),
        student=student,
        score=Decimal("33.5"),  # 83.75 %: rounds half up
    )
    mine = [result for result in results if result.student_id == student.pk] + [other]

    response = client_for(admin_user).get(f"/api/users/{student.pk}/test-results/", {"ordering": "id"})

    expected = grading.serializers.StudentResultSerializer(mine, many=True).data
    assert render(response.json()["results"]) == render(expected)


def test_a_course_has_the_keys_course_serializer_declares_in_order(client_for, student, course, test_):
    declared = list(courses.serializers.CourseSerializer().fields)
    client = client_for(student)

    assert list(client.get(f"/api/courses/{course.pk}/").json()) == declared
    assert [list(row) for row in client.get("/api/courses/").json()["results"]] == [declared]


def test_a_course_list_its_serializer_does_not_declare_is_refused(monkeypatch):
    monkeypatch.setitem(embeds, "quizzes", Embed(key="quizzes", rows=lambda user: None, rows_sql=lambda user: ""))

    with pytest.raises(TypeError, match="quizzes_json"):
        course_views._course_keys()


def test_a_courses_tests_are_the_tests_lists_representations(client_for, teacher, student, admin_user, course, test_):
    Test.objects.create(course=course, name="Ünpublished", date=date(2027, 1, 2), results_published=False)
    services.result_record(test=test_, student=student, score=Decimal("1"), by=teacher)
    for caller in (teacher, student, admin_user):
        client = client_for(caller)
        listed = client.get(f"/api/courses/{course.pk}/tests/").json()["results"]
        embedded = client.get(f"/api/courses/{course.pk}/").json()["tests"]
        in_list = next(row for row in client.get("/api/courses/").json()["results"] if row["id"] == course.pk)

        assert embedded == in_list["tests"] == listed  # the same numbers, whatever their scale
        assert [list(test) for test in embedded] == [list(grading.serializers.TestSerializer().fields)] * 2


def test_a_courses_teachers_are_their_user_summaries(client_for, student, course, teacher, make_user):
    second = make_user("second@example.com", first_name="Zoë", last_name="O'Neil")
    Enrollment.objects.create(user=second, course=course, role=Role.TEACHER)
    expected = accounts.serializers.UserSummarySerializer([teacher, second], many=True).data
    client = client_for(student)

    assert client.get(f"/api/courses/{course.pk}/").json()["teachers"] == expected
    assert client.get("/api/courses/").json()["results"][0]["teachers"] == expected


# Reports: dicts the code computes, built by their serializers (``ReportSerializer.build``).


def report_serializers(cls=ReportSerializer) -> dict[str, type[ReportSerializer]]:
    found = {}
    for sub in cls.__subclasses__():
        found |= {sub.__name__: sub, **report_serializers(sub)}
    return found


def _report_course(course, test_, teacher, student, classmate):
    """Scores with and without decimals, an excused result, a test without results, drops, a scheme."""
    course.grading_scheme = [{"letter": "A", "min_percent": 90}, {"letter": "F", "min_percent": 0}]
    course.save()
    GradeCategory.objects.filter(course=course).update(weight=Decimal("12.5"), drop_lowest=1)
    test_.max_score = Decimal("30.00")
    test_.save()
    quiz = Test.objects.create(course=course, name="Ünit quiz", date=date(2020, 1, 2), max_score=Decimal("12.5"))
    Test.objects.create(course=course, name="No results yet", date=date(2020, 1, 3))
    services.results_upsert(test=test_, items=[(student.pk, Decimal("12.35")), (classmate.pk, None)], by=teacher)
    services.results_upsert(test=quiz, items=[(student.pk, Decimal("12.5"))], by=teacher)


def _export(course) -> bytes:
    return "".join(csv_io.gradebook_csv_lines(course)).encode()


# Each top-level report's values; the serializers nested in them are checked through them.
REPORTS = {
    "TestStatsSerializer": lambda course, teacher: [reports.test_stats(t) for t in Test.objects.filter(course=course)],
    "GradebookSerializer": lambda course, teacher: [reports.gradebook(course)],
    "CourseGradeSerializer": lambda course, teacher: grades.course_grades(course),
    "ImportCountsSerializer": lambda course, teacher: [
        csv_io.gradebook_import(course=course, data=_export(course), by=teacher, dry_run=True)
    ],
    "ImportErrorsSerializer": lambda course, teacher: [
        csv_io.ImportRejected([csv_io.RowError(2, "email", "No student of this course has it.")]).detail,
        csv_io.ImportRejected([csv_io.RowError(row, "", "Bad.") for row in range(2, 103)]).detail,
    ],
    # The bulk upsert's answers, as grading.views builds them.
    "BulkOutcomeSerializer": lambda course, teacher: [
        report_serializers()["BulkOutcomeSerializer"].build(created=1, updated=0, unchanged=2)
    ],
    "BulkErrorSerializer": lambda course, teacher: [
        report_serializers()["BulkErrorSerializer"].build(
            detail="Some items are invalid; nothing was saved.",
            errors=[
                report_serializers()["BulkItemErrorSerializer"].build(index=None, field=None, message="Not a list."),
                report_serializers()["BulkItemErrorSerializer"].build(index=3, field="score", message="Too high."),
            ],
        )
    ],
}
NESTED = {
    "StatsSerializer",
    "BulkItemErrorSerializer",
    "BucketSerializer",
    "CategoryGradeSerializer",
    "ImportErrorSerializer",
}
NESTED |= {
    "GradebookCourseSerializer",
    "GradebookTestSerializer",
    "GradebookStudentSerializer",
    "GradebookCellSerializer",
}


def test_every_report_serializer_is_checked():
    assert sorted(report_serializers()) == sorted(set(REPORTS) | NESTED)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_a_report_renders_as_drf_serializes_it_with_its_serializer(name, course, test_, teacher, student, classmate):
    _report_course(course, test_, teacher, student, classmate)
    serializer_class = report_serializers()[name]
    values = REPORTS[name](course, teacher)
    assert values
    for value in values:
        assert render(value) == render(serializer_class(value).data)


def test_a_report_is_built_with_exactly_its_keys_and_leaves_out_an_optional_one_not_given():
    serializers = report_serializers()
    with pytest.raises(TypeError):
        serializers["StatsSerializer"].build(count=0)
    with pytest.raises(TypeError):
        serializers["ImportCountsSerializer"].build(created=1, updated=2, unchanged=3, deleted=4)

    assert serializers["ImportErrorsSerializer"].build(errors=[]) == {"errors": []}
    assert list(serializers["BucketSerializer"].build(count=1, to=10, from_=0)) == ["from", "to", "count"]
