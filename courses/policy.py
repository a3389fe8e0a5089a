"""The authorization policy: who may do what, in one module.

Small predicates over (user, object), read from the database on every call, never from token
claims. The API's routes name them in their rules (``gradingsite.api.permissions.Rule``), its
querysets and input serializers call them, and so do the admin's ``has_*_permission`` methods;
nothing else decides access. A predicate a route names takes ``(user, obj)``: ``obj`` is the object
the path names, or None where it names none.
"""

from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.lookups import Exact

from accounts.policy import (  # the rules about accounts alone, re-exported: ask this module
    can_act_on_user as can_act_on_user,
)
from accounts.policy import (
    can_change_account_flags as can_change_account_flags,
)
from accounts.policy import (
    can_change_preferences as can_change_preferences,
)
from accounts.policy import (
    can_create_users as can_create_users,
)
from accounts.policy import (
    can_list_users as can_list_users,
)
from accounts.policy import (
    is_admin as is_admin,
)
from accounts.policy import (
    is_signed_in as is_signed_in,
)
from accounts.policy import (
    sees_unpublished_results as sees_unpublished_results,
)
from courses.models import Course, Enrollment, Role


def _course_id(course) -> int:
    return course if isinstance(course, int) else course.pk


def role_in(user, course) -> str | None:
    """The user's role in the course ("TEACHER", "STUDENT") or None."""
    if not (user and user.is_authenticated):
        return None
    return (
        Enrollment.objects.filter(user_id=user.pk, course_id=_course_id(course)).values_list("role", flat=True).first()
    )


def is_teacher_of(user, course) -> bool:
    return role_in(user, course) == Role.TEACHER


def is_student_of(user, course) -> bool:
    return role_in(user, course) == Role.STUDENT


def is_member_of(user, course) -> bool:
    return role_in(user, course) is not None


def is_teacher_anywhere(user) -> bool:
    """Teaches at least one course: enough to sign in to the instructors' admin."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return Enrollment.objects.filter(user_id=user.pk, role=Role.TEACHER).exists()


def can_manage_course(user, course) -> bool:
    """Edit or delete the course, its members, tests and grades."""
    return is_admin(user) or _role(user, course, _course_id(course)) == Role.TEACHER


def can_view_course_tests(user, course) -> bool:
    return is_admin(user) or _role(user, course, _course_id(course)) is not None


def can_enroll(actor, target, course, role: str) -> bool:
    """Rule E: anyone may enroll themself as a student; everything else needs a teacher or admin."""
    if is_admin(actor):
        return True
    if actor.pk == target.pk and role == Role.STUDENT:
        return True
    return is_teacher_of(actor, course)


def can_unenroll(actor, enrollment) -> bool:
    """End an enrollment (``enrollment`` names a user and a course; it need not exist): the user
    themself, a teacher of the course, an admin."""
    return is_admin(actor) or actor.pk == enrollment.user_id or is_teacher_of(actor, enrollment.course_id)


def can_view_result(user, result) -> bool:
    if is_admin(user):
        return True
    if user.pk == result.student_id:
        return result.test.results_published
    return _role(user, result, result.test.course_id) == Role.TEACHER


def courses_taught_by(user) -> QuerySet:
    if is_admin(user):
        return Course.objects.all()
    return Course.objects.taught_by(user)


def taught_course_ids(user) -> QuerySet:
    """A subquery of the ids of the courses the user teaches (for scoping other querysets)."""
    return Enrollment.objects.filter(user_id=user.pk, role=Role.TEACHER).values("course_id")


def visible_results_filter(user) -> Q:
    """Which results the user may read: their own published ones and all in courses they teach."""
    return Q(test__course_id__in=taught_course_ids(user)) | Q(student_id=user.pk, test__results_published=True)


def can_use_admin(user) -> bool:
    """Admins, staff, and anyone who teaches a course may sign in to the admin."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_superuser or user.is_staff or is_teacher_anywhere(user)


# Role-aware reads: the caller's role fetched together with the object it is about.
#
# A request that reads a test or a result and then asks "may this caller see it?" would cost two
# queries. ``with_caller_role`` annotates the queryset with the caller's role in each row's course,
# so the object and the answer come back in one; the predicates below use that annotation when it
# was made for the same user, and ask the database otherwise.


def with_caller_role(queryset: QuerySet, user, course_field: str = "course_id") -> QuerySet:
    """Annotate each row with ``caller_role``: ``user``'s role in the course named by ``course_field``."""
    role = Enrollment.objects.filter(user_id=user.pk, course_id=OuterRef(course_field)).values("role")[:1]
    return queryset.annotate(caller_role=Subquery(role), caller_role_for=Value(user.pk))


def _role(user, obj, course_id: int) -> str | None:
    if not (user and user.is_authenticated):
        return None
    if getattr(obj, "caller_role_for", None) == user.pk:
        return obj.caller_role
    return role_in(user, course_id)


def can_view_test(user, test) -> bool:
    """Read a test: members of its course and admins (students too: hiding is about results)."""
    return is_admin(user) or _role(user, test, test.course_id) is not None


def can_manage_test(user, test) -> bool:
    """Change or delete a test, and read or write all of its results: its course's teachers, admins."""
    return is_admin(user) or _role(user, test, test.course_id) == Role.TEACHER


def sees_results_version(user, test) -> bool:
    """See a test's ``results_version`` (how often its results changed): whoever may read its results
    or some of them — its course's teachers and admins, its students while the results are published."""
    if can_manage_test(user, test):
        return True
    return test.results_published and _role(user, test, test.course_id) == Role.STUDENT


def results_version_shown(user, role):
    """``sees_results_version`` as a condition on a test row, for representations the database
    writes; ``role`` is an expression for ``user``'s role in the test's course."""
    if is_admin(user):
        return Value(True)
    return Q(Exact(role, Role.TEACHER)) | Q(Exact(role, Role.STUDENT), results_published=True)


def results_version_shown_sql(user, *, role: str, published: str) -> str:
    """``results_version_shown`` as SQL text, for a statement written by hand: ``role`` is SQL for
    ``user``'s role in the test's course, ``published`` for the test's ``results_published``."""
    if is_admin(user):
        return "TRUE"
    return f"({role} = '{Role.TEACHER.value}' OR ({role} = '{Role.STUDENT.value}' AND {published}))"


def can_manage_result(user, result) -> bool:
    """Change or delete one result: teachers of the test's course, admins."""
    return is_admin(user) or _role(user, result, result.test.course_id) == Role.TEACHER


def result_hidden_from(user, result) -> bool:
    """A student's own result while its test's results are unpublished: it reads as absent (404)."""
    return user.pk == result.student_id and not result.test.results_published and not is_admin(user)


def can_view_members(user, course) -> bool:
    return can_manage_course(user, course)


def feedback_scope(user, course) -> str | None:
    """Which feedback of the course the user may read: "all" (teacher, admin), "own" (student), or None."""
    if is_admin(user):
        return "all"
    role = _role(user, course, _course_id(course))
    if role == Role.TEACHER:
        return "all"
    if role == Role.STUDENT:
        return "own"
    return None


def can_read_feedback(user, course) -> bool:
    return feedback_scope(user, course) is not None


def grades_scope(user, course) -> str | None:
    """Which course grades the user may read: "all" (teacher, admin), "own" (a student's own row), or None."""
    if is_admin(user):
        return "all"
    return {Role.TEACHER: "all", Role.STUDENT: "own"}.get(_role(user, course, course.pk))


def can_read_grades(user, course) -> bool:
    return grades_scope(user, course) is not None


def can_view_category(user, category) -> bool:
    """Read a course's grade categories: its members and admins."""
    return is_admin(user) or _role(user, category, category.course_id) is not None


def can_manage_category(user, category) -> bool:
    """Add, change or delete a course's grade categories: its teachers and admins."""
    return is_admin(user) or _role(user, category, category.course_id) == Role.TEACHER


def can_leave_feedback(user, course) -> bool:
    """Only the course's students leave feedback on it."""
    return _role(user, course, _course_id(course)) == Role.STUDENT


# Submissions, extensions and comments (``grading.submissions``, ``grading.comments``).


def can_submit(user, test) -> bool:
    """Hand in work on a test: its course's students only (not its teachers, not admins)."""
    return _role(user, test, test.course_id) == Role.STUDENT


def submissions_scope(user, test) -> str | None:
    """Which submissions of a test the user may read: "all" (its course's teachers, admins), "own"
    (its students: their own attempts), or None."""
    if is_admin(user):
        return "all"
    return {Role.TEACHER: "all", Role.STUDENT: "own"}.get(_role(user, test, test.course_id))


def can_read_submissions(user, test) -> bool:
    return submissions_scope(user, test) is not None


def can_view_submission(user, submission) -> bool:
    """Read one submission: the student who submitted it, its course's teachers, admins."""
    if is_admin(user) or user.pk == submission.student_id:
        return True
    return _role(user, submission, submission.test.course_id) == Role.TEACHER


def can_comment(user, thread) -> bool:
    """Read and write the comments on one student's work on a test (``thread``: its ``test`` and
    ``student_id``): that student, the course's teachers, admins."""
    if is_admin(user) or user.pk == thread.student_id:
        return True
    return _role(user, thread.test, thread.test.course_id) == Role.TEACHER


def sees_held_comments(user, thread) -> bool:
    """See the comments held back while the test's results are hidden: everyone who may read the
    thread but the student."""
    return user.pk != thread.student_id or is_admin(user)


def can_read_file(user, upload) -> bool:
    """Download a file handed in with a submission (an upload attached to one): the student who
    handed it in, the course's teachers, admins."""
    if is_admin(user) or user.pk == upload.student_id:
        return True
    return _role(user, upload, upload.test.course_id) == Role.TEACHER


def can_download_submissions(user, test) -> bool:
    """Download every student's latest attempt on a test, files and all: its course's teachers, admins."""
    return can_manage_test(user, test)
