from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from courses.models import Course
from gradingsite.validators import validate_name
from gradingsite.versions import Versioned

SCORE_DIGITS = 7
SCORE_PLACES = 2


def percent_of(score: Decimal, max_score: Decimal) -> float:
    """100 · score / max_score, rounded half-up to one decimal."""
    value = (Decimal(score) * 100 / Decimal(max_score)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return float(value)


WEIGHT_DIGITS = 5
WEIGHT_PLACES = 2
DEFAULT_CATEGORY = "Tests"
# A course's grades cost time with every category (about 10 s for one course's at 1,000): no course
# has more than this many.
CATEGORIES_PER_COURSE = 50
# The largest position a category takes, given or automatic (``services.category_create``), so that
# what the API shows it takes back.
CATEGORY_MAX_POSITION = 1_000_000
# Files a submission may carry: ``max_files`` of each test, at most this many.
MAX_FILES_LIMIT = 100
DEFAULT_MAX_FILES = 10


class GradeCategory(Versioned):
    """A group of a course's tests with its weight in the course grade and its drop rules.

    Every course has at least one (a new course gets "Tests", weight 100). A category holding tests
    can't be deleted (``RESTRICT``) until they are moved, except with its course.
    """

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="grade_categories")
    name = models.CharField(max_length=200, validators=[validate_name])
    weight = models.DecimalField(max_digits=WEIGHT_DIGITS, decimal_places=WEIGHT_PLACES, default=Decimal("100"))
    drop_lowest = models.PositiveIntegerField(default=0)
    drop_highest = models.PositiveIntegerField(default=0)
    position = models.PositiveIntegerField(default=0, validators=[MaxValueValidator(CATEGORY_MAX_POSITION)])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "grade categories"
        constraints = [
            models.CheckConstraint(condition=models.Q(weight__gte=0), name="category_weight_not_negative"),
        ]
        indexes = [models.Index(fields=["course", "position"], name="category_course_position")]

    def __str__(self):
        return self.name


# The most attempts a test allows each student (``allowed_attempts``; null: unlimited), and the most
# an extension adds: the API's fields and the admin's forms take 1 (0 extra) to this many.
ATTEMPTS_MAX = 1_000_000


class SubmissionType(models.TextChoices):
    NONE = "none", "None (results only)"
    ONLINE = "online", "Online"


class Test(Versioned):
    """An exam of a course. Deleting a course deletes its tests, unless results protect them."""

    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="tests")
    category = models.ForeignKey(GradeCategory, on_delete=models.RESTRICT, related_name="tests")
    name = models.CharField(max_length=200, validators=[validate_name])
    date = models.DateField()
    max_score = models.DecimalField(max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, default=Decimal("100"))
    results_published = models.BooleanField(default=True)
    never_drop = models.BooleanField(default=False, help_text="Drop rules never drop this test.")
    # Submissions (``grading.submissions``): "none", results only; "online", students hand in work.
    submission_type = models.CharField(max_length=6, choices=SubmissionType.choices, default=SubmissionType.NONE)
    unlock_at = models.DateTimeField(null=True, blank=True, help_text="Submissions open at this time.")
    due_at = models.DateTimeField(null=True, blank=True, help_text="Work submitted after this time is late.")
    lock_at = models.DateTimeField(null=True, blank=True, help_text="Submissions close at this time.")
    allowed_attempts = models.PositiveIntegerField(
        null=True, blank=True, default=1, help_text="Attempts per student; empty for unlimited."
    )
    # Files handed in with a submission (``grading.uploads``): how many one submission carries, and the
    # endings of their names (``["pdf", "docx"]``, lower case, without the dot; null: any).
    max_files = models.PositiveIntegerField(
        default=DEFAULT_MAX_FILES,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_FILES_LIMIT)],
        help_text="Files one submission may carry.",
    )
    allowed_extensions = models.JSONField(
        null=True, blank=True, default=None, help_text="The file name endings taken (pdf, docx); empty for any."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_score__gt=0), name="test_max_score_positive"),
            models.CheckConstraint(
                condition=models.Q(max_files__gte=1, max_files__lte=MAX_FILES_LIMIT), name="test_max_files_in_range"
            ),
            models.CheckConstraint(
                condition=models.Q(submission_type__in=SubmissionType.values), name="test_submission_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(allowed_attempts__isnull=True) | models.Q(allowed_attempts__gte=1),
                name="test_allowed_attempts_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(unlock_at__isnull=True)
                | models.Q(due_at__isnull=True)
                | models.Q(unlock_at__lte=models.F("due_at")),
                name="test_unlock_before_due",
            ),
            models.CheckConstraint(
                condition=models.Q(due_at__isnull=True)
                | models.Q(lock_at__isnull=True)
                | models.Q(due_at__lte=models.F("lock_at")),
                name="test_due_before_lock",
            ),
            models.CheckConstraint(
                condition=models.Q(unlock_at__isnull=True)
                | models.Q(lock_at__isnull=True)
                | models.Q(unlock_at__lte=models.F("lock_at")),
                name="test_unlock_before_lock",
            ),
        ]
        indexes = [models.Index(fields=["course", "date"], name="test_course_date")]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.category_id is None and self.course_id is not None:
            # The course's first category, as the API does when no category is given.
            self.category = GradeCategory.objects.filter(course_id=self.course_id).order_by("position", "id").first()
        super().save(*args, **kwargs)


class TestResult(Versioned):
    """A student's score on a test: one per test and student.

    A test holding results can't be deleted by accident (PROTECT): forced deletion goes through
    the grade service. A grader's account can be deleted without losing the grades they gave.
    """

    # Both indexed by the indexes that lead with them (``Meta``): a test's results by
    # ``result_one_per_test_student``, a student's by ``result_student_date``.
    test = models.ForeignKey(Test, on_delete=models.PROTECT, related_name="results", db_index=False)
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_results", db_index=False
    )
    grader = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="graded_results"
    )
    # An excused result has no score and counts nowhere; every other result has a score: the score a
    # teacher entered less the course's late deduction (``grading.submissions.late_score``).
    score = models.DecimalField(max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, null=True, blank=True)
    excused = models.BooleanField(default=False)
    # What the late policy took off the entered score (``entered_score``): 0 without a late attempt.
    late_deduction = models.DecimalField(max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, default=Decimal(0))
    late_waived = models.BooleanField(default=False, help_text="No late deduction for this result.")
    # When a person last wrote the result (its score, its excuse, its waiver): an attempt submitted
    # up to then is graded. A recompute by the late policy leaves it.
    graded_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The test's ``date`` and ``results_published``, copied by the database on every write of either
    # (the triggers of migration 0013: a result's insert reads its test, a change of the test writes
    # its results), whoever writes: a student's results are listed in their tests' date order by
    # walking an index of their own rows, without reading their other results or the tests.
    test_date = models.DateField(editable=False)
    test_published = models.BooleanField(editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["test", "student"], name="result_one_per_test_student"),
            models.CheckConstraint(condition=models.Q(score__gte=0), name="result_score_not_negative"),
            models.CheckConstraint(
                condition=models.Q(excused=True, score__isnull=True) | models.Q(excused=False, score__isnull=False),
                name="result_score_or_excused",
            ),
            models.CheckConstraint(
                condition=models.Q(late_deduction__gte=0) & (models.Q(excused=False) | models.Q(late_deduction=0)),
                name="result_late_deduction_valid",
            ),
        ]
        indexes = [
            # A student's results in their tests' date order: all of them (an admin's view), and
            # those a student sees (published).
            models.Index(fields=["student", "test_date", "id"], name="result_student_date"),
            models.Index(
                fields=["student", "test_date", "id"],
                name="result_student_published",
                condition=models.Q(test_published=True),
            ),
        ]

    def __str__(self):
        return f"{self.student} on {self.test}: {'excused' if self.excused else self.score}"

    @property
    def percent(self) -> float | None:
        return None if self.score is None else percent_of(self.score, self.test.max_score)

    @property
    def entered_score(self) -> Decimal | None:
        """The score as the teacher entered it: the stored one plus the late deduction (None: excused)."""
        return None if self.score is None else self.score + self.late_deduction


class GradeChange(models.Model):
    """One line of a result's history, appended in the same transaction as the change itself.

    Never edited or deleted through the API or the admin, and never by a cascade: ``result``
    becomes null when the result is deleted, and ``test`` and ``student`` keep the ids of what
    the line was about even after that test or user is deleted (no foreign-key constraint, no
    cascade; the columns are nullable only so that reads join them with an outer join).
    """

    class Action(models.TextChoices):
        CREATED = "created"
        UPDATED = "updated"
        DELETED = "deleted"

    class Via(models.TextChoices):
        API = "api"
        ADMIN = "admin"
        IMPORT = "import"
        # The late deduction recomputed: a new attempt, an extension, the course's late policy, a waiver.
        POLICY = "policy"

    result = models.ForeignKey(TestResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="history")
    test = models.ForeignKey(
        Test, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="grade_changes"
    )
    student = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        related_name="grade_changes",
    )
    action = models.CharField(max_length=7, choices=Action.choices)
    old_score = models.DecimalField(max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, null=True, blank=True)
    new_score = models.DecimalField(max_digits=SCORE_DIGITS, decimal_places=SCORE_PLACES, null=True, blank=True)
    # The result is excused after this change (``new_score`` is then null); ``old_score`` null on an
    # update means it was excused before.
    excused = models.BooleanField(default=False)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="grade_changes_made"
    )
    changed_at = models.DateTimeField(auto_now_add=True)
    via = models.CharField(max_length=6, choices=Via.choices)

    class Meta:
        ordering = ["changed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(action__in=["created", "updated", "deleted"]), name="gradechange_action_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(via__in=["api", "admin", "import", "policy"]), name="gradechange_via_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["result", "changed_at"], name="gradechange_result"),
            # A test's history, newest first (the admin's history of a test).
            models.Index(fields=["test", "-id"], name="gradechange_test_latest"),
        ]

    def __str__(self):
        new = "excused" if self.excused else self.new_score
        return f"{self.action} {self.old_score} → {new} ({self.via})"


class Notice(models.Model):
    """An email to a test's students about their results, sent by the worker (``grading.notices``).

    Opened by publishing a test's results (``published``) or by a change to a result students can
    see (``changed``); further changes to the test's results merge into the open (``pending``)
    notice until the worker takes it at ``send_after``. At most one notice per test is pending.
    """

    class Kind(models.TextChoices):
        PUBLISHED = "published"
        CHANGED = "changed"

    class State(models.TextChoices):
        PENDING = "pending"  # open: changes merge into it until the worker takes it
        SENDING = "sending"  # its recipients are fixed; batches go out
        SENT = "sent"
        FAILED = "failed"
        CANCELED = "canceled"  # the results were hidden again before it was all sent

    test = models.ForeignKey(Test, on_delete=models.CASCADE, related_name="notices")
    kind = models.CharField(max_length=9, choices=Kind.choices)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    send_after = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why it failed (SendGrid's answer), or why it was canceled.
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["test"], condition=models.Q(state="pending"), name="notice_one_pending_per_test"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=["published", "changed"]), name="notice_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(state__in=["pending", "sending", "sent", "failed", "canceled"]),
                name="notice_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["test", "created_at"], name="notice_test_created")]

    def __str__(self):
        return f"{self.get_kind_display()} notice for {self.test} ({self.state})"


class NoticeRecipient(models.Model):
    """A student a notice is about, and what became of their email.

    ``batch`` is fixed when the worker takes the notice: the students in order of id, 1,000 to a
    batch, so a retried batch is the same request. A student who, when the notice is taken or their
    batch goes, could not read the result through the API (results hidden from them, result gone, no
    longer a student of the course, account deactivated) or turned notifications off is ``skipped``;
    the students not emailed yet when the results were hidden are ``canceled``.
    """

    class State(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"
        CANCELED = "canceled"

    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="recipients")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=8, choices=State.choices, default=State.QUEUED)
    batch = models.PositiveIntegerField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["notice", "student"]
        constraints = [
            models.UniqueConstraint(fields=["notice", "student"], name="notice_recipient_once"),
            models.CheckConstraint(
                condition=models.Q(state__in=["queued", "sent", "failed", "skipped", "canceled"]),
                name="notice_recipient_state_valid",
            ),
        ]
        indexes = [models.Index(fields=["notice", "batch"], name="notice_recipient_batch")]

    def __str__(self):
        return f"{self.student_id} ({self.state})"


class ResultsVersion(models.Model):
    """A test's results version: 0 before any grade, one more with every write that changes its results.

    A row of its own, not a column of the test: every grader's transaction share-locks the test's
    row (``grading.services``), so updating that row would make two graders deadlock; this row is
    only locked from the bump to the end of the grade write. Written only by the grade service
    (``services.bump_results_versions``); a test without a row is at version 0.
    """

    test = models.OneToOneField(Test, on_delete=models.CASCADE, primary_key=True, related_name="results_counter")
    version = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.test_id}: {self.version}"


def results_version(test_ref="pk"):
    """A test's results version as an expression: its ``ResultsVersion`` (0 before any grade).

    Moves with every change of the test's results and with nothing else: not with the test's own
    changes, not with grading in other tests.
    """
    counter = ResultsVersion.objects.filter(test_id=models.OuterRef(test_ref)).values("version")[:1]
    return Coalesce(models.Subquery(counter), models.Value(0))


class Extension(models.Model):
    """One student's own due and lock times and extra attempts on a test; at most one per test and student.

    A null time falls back to the test's (``grading.submissions``: the student's effective times).
    """

    test = models.ForeignKey(Test, on_delete=models.CASCADE, related_name="extensions")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="extensions")
    due_at = models.DateTimeField(null=True, blank=True)
    lock_at = models.DateTimeField(null=True, blank=True)
    extra_attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["test", "student"], name="extension_one_per_test_student"),
            models.CheckConstraint(
                condition=models.Q(due_at__isnull=True)
                | models.Q(lock_at__isnull=True)
                | models.Q(due_at__lte=models.F("lock_at")),
                name="extension_due_before_lock",
            ),
        ]

    def __str__(self):
        return f"{self.student} on {self.test}"


class Submission(models.Model):
    """An attempt a student handed in: ``attempt`` counts from 1 per test and student.

    ``submitted_at`` is the server's clock. How late it is depends on the student's effective due
    time now (an extension granted afterwards makes it on time), so it is computed when read
    (``grading.submissions``), not stored. ``body`` may be empty only where files carry the work.
    """

    test = models.ForeignKey(Test, on_delete=models.CASCADE, related_name="submissions")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="submissions")
    attempt = models.PositiveIntegerField()
    submitted_at = models.DateTimeField()
    body = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["test", "student", "attempt"], name="submission_one_per_attempt"),
            models.CheckConstraint(condition=models.Q(attempt__gte=1), name="submission_attempt_positive"),
        ]
        indexes = [
            models.Index(fields=["test", "-submitted_at"], name="submission_test_latest"),
            models.Index(fields=["student", "test", "-attempt"], name="submission_student_test"),
        ]

    def __str__(self):
        return f"{self.student} on {self.test}, attempt {self.attempt}"


class Comment(models.Model):
    """A comment on one student's work on a test, by that student or a teacher (or an admin).

    A comment by someone else than the student is emailed to the student by the worker
    (``grading.comments``): ``email_state`` says where that stands.
    """

    class EmailState(models.TextChoices):
        NONE = "none"  # the student's own comment: nobody is emailed
        HELD = "held"  # the test's results are hidden: neither shown to the student nor emailed
        QUEUED = "queued"  # waits for the worker's job
        SENT = "sent"
        SKIPPED = "skipped"  # notifications off, no longer a student, account inactive
        FAILED = "failed"

    test = models.ForeignKey(Test, on_delete=models.CASCADE, related_name="comments")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments_about")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="comments_written"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    email_state = models.CharField(max_length=7, choices=EmailState.choices, default=EmailState.NONE)
    send_after = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(email_state__in=["none", "held", "queued", "sent", "skipped", "failed"]),
                name="comment_email_state_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["test", "student", "created_at"], name="comment_thread"),
            models.Index(fields=["test", "email_state"], name="comment_email_state"),
        ]

    def __str__(self):
        return f"{self.author} on {self.student}'s {self.test}"


class Upload(models.Model):
    """A file a student hands in with a submission, kept in the file store (``gradingsite.files``) at ``key``.

    Asked for by the student (``grading.uploads.upload_create``, which answers where to send it), sent
    by the client straight to the store, then attached to one of their submissions on that test, once:
    attached (``submission`` and ``uploaded_at`` set), it is one of the submission's files, which the
    API calls a File. One never attached is deleted after ``uploads.UNATTACHED_HOURS``. Whenever a row
    goes, by any path (a test, course or account deleted with it), the database records its key in
    ``DeletedObject`` in the same transaction, and the worker deletes the object.

    ``key`` is generated; ``name`` is the name the student gave, cleaned for display
    (``files.display_name``) and never used as a path.
    """

    test = models.ForeignKey(Test, on_delete=models.CASCADE, related_name="uploads")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="uploads")
    submission = models.ForeignKey(Submission, on_delete=models.CASCADE, null=True, blank=True, related_name="files")
    # The file's place among its submission's files: the order the student gave them in.
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    # When the store was found to hold the file as declared, and it was attached.
    uploaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["submission", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(submission__isnull=True, uploaded_at__isnull=True)
                | models.Q(submission__isnull=False, uploaded_at__isnull=False),
                name="upload_attached_with_its_time",
            ),
        ]
        indexes = [
            models.Index(fields=["submission", "position"], name="upload_submission_files"),
            models.Index(fields=["test", "student", "created_at"], name="upload_student_recent"),
            # The periodic sweep of uploads never attached.
            models.Index(fields=["created_at"], condition=models.Q(submission__isnull=True), name="upload_unattached"),
        ]

    def __str__(self):
        return self.name


class DeletedObject(models.Model):
    """An object of the file store whose ``Upload`` row is gone: the worker deletes it, then this row.

    Written by the database itself (a trigger on the uploads table, migration 0013) in the
    transaction that deletes the upload, whatever deleted it: a rolled-back deletion leaves both the
    row and the object, a committed one can't lose its object. ``grading.uploads.delete_objects``
    deletes the objects due (``retry_at``); one the store refuses now waits longer each time.
    """

    key = models.CharField(max_length=100)
    deleted_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    retry_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["retry_at", "id"]
        indexes = [models.Index(fields=["retry_at"], name="deletedobject_due")]

    def __str__(self):
        return self.key
