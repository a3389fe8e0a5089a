"""Result notices in the admin: read-only, on the test's page and in their own list, scoped to the
caller's courses like every other grading page."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from courses.models import Enrollment, Role
from grading import notices, services
from grading.models import Notice, Test

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_teacher(teacher):
    teacher.is_staff = True
    teacher.save()
    return teacher


@pytest.fixture
def sent_notice(staff_teacher, test_, student, classmate, fake_sendgrid):
    classmate.notify_by_email = False
    classmate.save()
    services.results_upsert(test=test_, items=[(student.pk, Decimal(9)), (classmate.pk, Decimal(8))], by=staff_teacher)
    notice = Notice.objects.get()
    notices.deliver(notice.pk)
    return notice


def test_the_tests_page_lists_its_notices_with_their_counts(client_as, staff_teacher, test_, sent_notice):
    page = client_as(staff_teacher).get(reverse("admin:grading_test_change", args=[test_.pk]))

    assert page.status_code == 200
    html = re.sub(r"\s+", " ", page.content.decode())
    assert "Emails to students about their results" in html
    inline = html[html.index("Emails to students about their results") :]
    # recipients 1 (the classmate turned notifications off), sent 1, failed 0
    for column, value in [("kind", "Changed"), ("state", "Sent"), ("recipients", 1), ("sent", 1), ("failed", 0)]:
        assert f'<td class="field-{column}"> <p>{value}</p> </td>' in inline


def test_a_teacher_lists_the_notices_of_their_courses_only(
    client_as, staff_teacher, other_teacher, other_course, sent_notice
):
    other_test = Test.objects.create(course=other_course, name="Elsewhere", date=date(2026, 12, 1))
    pupil = other_teacher.__class__.objects.create_user("pupil@example.com")
    Enrollment.objects.create(user=pupil, course=other_course, role=Role.STUDENT)
    services.result_record(test=other_test, student=pupil, score=Decimal(1), by=other_teacher)
    elsewhere = Notice.objects.get(test=other_test)
    client = client_as(staff_teacher)

    listing = client.get(reverse("admin:grading_notice_changelist"))
    foreign = client.get(reverse("admin:grading_notice_change", args=[elsewhere.pk]))
    own = client.get(reverse("admin:grading_notice_change", args=[sent_notice.pk]))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    assert (foreign.status_code, own.status_code) == (404, 200)


def test_notices_cannot_be_added_changed_or_deleted_from_the_admin(client_as, admin_user, sent_notice):
    client = client_as(admin_user)

    add = client.get(reverse("admin:grading_notice_add"))
    change = client.post(reverse("admin:grading_notice_change", args=[sent_notice.pk]), {"state": "pending"})
    delete = client.post(reverse("admin:grading_notice_delete", args=[sent_notice.pk]), {"post": "yes"})

    assert add.status_code == 403
    assert delete.status_code == 403
    assert change.status_code in (302, 403)
    assert Notice.objects.get().state == "sent"
