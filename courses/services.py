"""Changes to courses and enrollments: named functions, each one transaction.

Authorization is decided by the caller through ``courses.policy``; these functions enforce the
data's own rules (one enrollment per user and course, a course keeps at least one teacher).
"""

from django.db import IntegrityError, transaction

from accounts import user_services
from accounts.models import User, normalize_email
from courses.models import Course, Enrollment, Feedback, Role
from courses.signals import course_deleting, late_policy_changed
from gradingsite.errors import Conflict
from gradingsite.services import model_update

# What ``course_update`` changes.
COURSE_SETTINGS = ("name", "details", "weighting", "grading_scheme", "time_zone", "late_policy")
ALREADY_ENROLLED = "This user is already enrolled in this course."
LAST_TEACHER = "This is the course's last teacher; enroll another teacher first."


@transaction.atomic
def course_create(*, name: str, details: str = "", by: User, **settings) -> Course:
    """A new course taught by its creator (``settings``: ``weighting``, ``grading_scheme``, ``time_zone``)."""
    course = Course.objects.create(name=name, details=details, **settings)
    Enrollment.objects.create(user=by, course=course, role=Role.TEACHER)
    return course


@transaction.atomic
def course_update(*, course: Course, by: User | None = None, **changes) -> Course:
    """Change a course's settings; only those that differ are written (``model_update``).

    A new ``late_policy`` is announced (``late_policy_changed``) in the same transaction, the
    course's row locked first: ``grading`` recomputes the late deductions it governs."""
    if "late_policy" in changes:
        locked = Course.objects.select_for_update(no_key=True).filter(pk=course.pk).values_list("late_policy")
        row = locked.first()
        if row is not None:
            course.late_policy = row[0]
    before = course.late_policy
    model_update(instance=course, fields=COURSE_SETTINGS, data=changes)
    if course.late_policy != before:
        late_policy_changed.send(sender=Course, course=course, by=by)
    return course


@transaction.atomic
def course_delete(*, course: Course, force: bool = False, by: User | None = None, via: str = "api") -> None:
    """Delete a course. With results recorded in it, only when forced: ``grading`` refuses otherwise
    (``Conflict``), and deletes them with their history when forced (it receives ``course_deleting``)."""
    course_deleting.send(sender=Course, course=course, force=force, by=by, via=via)
    course.delete()


@transaction.atomic
def enroll(*, user: User, course: Course, role: str) -> Enrollment:
    """Enroll ``user`` in ``course``. ``Conflict`` when they are enrolled already (in any role)."""
    if Enrollment.objects.filter(user=user, course=course).exists():
        raise Conflict(ALREADY_ENROLLED)
    try:
        with transaction.atomic():
            return Enrollment.objects.create(user=user, course=course, role=role)
    except IntegrityError:
        raise Conflict(ALREADY_ENROLLED) from None


@transaction.atomic
def enroll_by_email(*, email: str, course: Course, role: str) -> Enrollment:
    """Enroll the user with this email, creating the account when there is none yet."""
    user = User.objects.filter(email=normalize_email(email)).first()
    if user is None:
        user = user_services.user_create(email=email)
    return enroll(user=user, course=course, role=role)


def _keep_a_teacher(enrollment: Enrollment) -> None:
    """``Conflict`` if the course has no teacher but ``enrollment``'s user. The course's teacher rows
    are locked first, so two teachers leaving at once can't both pass the check."""
    teacher_ids = list(
        Enrollment.objects.select_for_update()
        .filter(course_id=enrollment.course_id, role=Role.TEACHER)
        .values_list("user_id", flat=True)
    )
    if [pk for pk in teacher_ids if pk != enrollment.user_id] == []:
        raise Conflict(LAST_TEACHER)


@transaction.atomic
def unenroll(*, enrollment: Enrollment) -> None:
    """Remove an enrollment. ``Conflict`` when it would leave the course with no teacher."""
    if enrollment.role == Role.TEACHER:
        _keep_a_teacher(enrollment)
    enrollment.delete()


@transaction.atomic
def change_role(*, enrollment: Enrollment, role: str) -> Enrollment:
    """Make an enrollment's user a teacher or a student of its course (``enrollment`` as stored).
    ``Conflict`` when that would leave the course with no teacher."""
    if enrollment.role == Role.TEACHER and role != Role.TEACHER:
        _keep_a_teacher(enrollment)
    model_update(instance=enrollment, fields=["role"], data={"role": role})
    return enrollment


def feedback_create(*, course: Course, student: User, feedback: str) -> Feedback:
    return Feedback.objects.create(course=course, student=student, feedback=feedback)
