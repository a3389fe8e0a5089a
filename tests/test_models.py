"""The database itself enforces the data model's rules, even when Python is bypassed."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading.models import Test, TestResult
from tests.conftest import first_category


def _raises_integrity(sql, params):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_duplicate_enrollment_is_refused_by_the_database(course, student):
    _raises_integrity(
        "INSERT INTO courses_enrollment (user_id, course_id, role, created_at) VALUES (%s, %s, 'TEACHER', now())",
        [student.pk, course.pk],
    )


def test_enrollment_role_must_be_student_or_teacher(course, stranger):
    _raises_integrity(
        "INSERT INTO courses_enrollment (user_id, course_id, role, created_at) VALUES (%s, %s, 'JANITOR', now())",
        [stranger.pk, course.pk],
    )


def test_duplicate_result_is_refused_by_the_database(test_, student):
    TestResult.objects.create(test=test_, student=student, score=Decimal("50"))
    with pytest.raises(IntegrityError), transaction.atomic():
        TestResult.objects.bulk_create([TestResult(test=test_, student=student, score=Decimal("60"))])


def test_negative_score_is_refused_by_the_database(test_, student):
    with pytest.raises(IntegrityError), transaction.atomic():
        TestResult.objects.bulk_create([TestResult(test=test_, student=student, score=Decimal("-1"))])


def test_zero_score_is_accepted(test_, student):
    TestResult.objects.bulk_create([TestResult(test=test_, student=student, score=Decimal("0"))])
    assert TestResult.objects.get().score == 0


def test_max_score_must_be_positive_in_the_database(course):
    with pytest.raises(IntegrityError), transaction.atomic():
        broken = Test(course=course, category=first_category(course), name="Broken", date=date(2026, 1, 1), max_score=0)
        Test.objects.bulk_create([broken])


def test_email_differing_only_in_case_is_refused_by_the_database(make_user):
    make_user("grace@hey.com")
    _raises_integrity(
        "INSERT INTO accounts_user (email, first_name, last_name, social, is_active, is_staff, is_superuser,"
        " date_joined, password) VALUES (%s, '', '', '{}', true, false, false, now(), '!')",
        ["Grace@Hey.com"],
    )


def test_upper_case_email_is_stored_lower_cased(db):
    user = User.objects.create_user("Grace@Hey.COM")
    assert User.objects.values_list("email", flat=True).get(pk=user.pk) == "grace@hey.com"
    assert User.objects.get_by_natural_key("GRACE@hey.com") == user


def test_deleting_a_grader_keeps_their_grades(test_, student, teacher):
    result = TestResult.objects.create(test=test_, student=student, grader=teacher, score=Decimal("70"))
    teacher.delete()
    result.refresh_from_db()
    assert result.grader is None
    assert result.score == Decimal("70")


def test_a_course_holding_results_is_protected_from_deletion(test_, student, course):
    TestResult.objects.create(test=test_, student=student, score=Decimal("70"))
    with pytest.raises(ProtectedError):
        course.delete()
    assert Course.objects.filter(pk=course.pk).exists()


def test_a_course_without_results_deletes_with_its_tests_and_enrollments(test_, course):
    course.delete()
    assert not Test.objects.exists()
    assert not Enrollment.objects.filter(role=Role.TEACHER).exists()
