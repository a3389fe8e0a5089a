"""The grading flow through a client generated from the server's own /api/schema/.

Run by .ci/client-flow against a server started as Heroku starts it. Sign-in codes are read
from the server's log (email is off there, so codes are logged). Any deviation raises.
"""

import datetime
import io
import re
import sys
import time
import zipfile
from urllib.parse import urlsplit

import httpx
from client import AuthenticatedClient, Client
from client import models as m
from client.api.auth import auth_authenticate_create, auth_login_create, auth_refresh_create
from client.api.courses import (
    courses_create,
    courses_members_create,
    courses_partial_update,
    courses_retrieve,
    courses_tests_create,
)
from client.api.profile import profile_retrieve
from client.api.reports import courses_gradebook, test_results_history, tests_notices, tests_stats
from client.api.submissions import submissions_retrieve
from client.api.test_results import test_results_partial_update, test_results_retrieve
from client.api.tests import (
    tests_partial_update,
    tests_results_create,
    tests_results_list,
    tests_results_update,
    tests_retrieve,
    tests_students_comments_create,
    tests_students_comments_list,
    tests_submissions_create,
    tests_submissions_list,
    tests_uploads_create,
)
from client.api.users import users_test_results_list

BASE, LOG = sys.argv[1], sys.argv[2]
# As Heroku's router sends them: production settings redirect anything else to HTTPS.
HEADERS = {"X-Forwarded-Proto": "https", "Host": "localhost"}
anon = Client(base_url=BASE, headers=HEADERS, raise_on_unexpected_status=True)


def code_from_log(email: str) -> str:
    pattern = re.compile(rf"code for {re.escape(email)} is (\d{{8}})")
    for _ in range(50):
        with open(LOG) as log:
            codes = pattern.findall(log.read())
        if codes:
            return codes[-1]
        time.sleep(0.1)
    raise AssertionError(f"no sign-in code for {email} in the server log")


def sign_in(email: str) -> tuple[AuthenticatedClient, m.TokenPair]:
    assert auth_login_create.sync_detailed(client=anon, body=m.LoginRequest(email=email)).status_code == 200
    body = m.AuthenticateRequest(email=email, code=code_from_log(email))
    tokens = auth_authenticate_create.sync(client=anon, body=body)
    assert tokens.token_type == "Bearer" and tokens.expires_in > 0
    client = AuthenticatedClient(base_url=BASE, token=tokens.access, headers=HEADERS, raise_on_unexpected_status=True)
    return client, tokens


teacher, teacher_tokens = sign_in("flow.teacher@example.com")
student, _ = sign_in("flow.student@example.com")
me = profile_retrieve.sync(client=student)
assert me.email == "flow.student@example.com" and me.is_admin is False

course = courses_create.sync(client=teacher, body=m.CourseInputRequest(name="Client flow", details="generated client"))
assert course.my_role == m.Role.TEACHER
courses_members_create.sync(
    client=teacher, id=course.id, body=m.MemberInputRequest(email="flow.student@example.com", role=m.Role.STUDENT)
)
test = courses_tests_create.sync(
    client=teacher, id=course.id, body=m.TestRequest(name="Quiz", date=datetime.date(2026, 12, 1), max_score=50)
)
grade = m.ResultCreateRequest(student=me.id, score=0)
result = tests_results_create.sync(client=teacher, id=test.id, body=grade, idempotency_key="flow-grade-1")
assert (result.score, result.percent, result.student) == (0, 0, me.id)
# A retry with the same Idempotency-Key is answered again, not applied twice.
retried = tests_results_create.sync_detailed(client=teacher, id=test.id, body=grade, idempotency_key="flow-grade-1")
assert retried.status_code == 201 and retried.headers.get("Idempotent-Replayed") == "true"
assert retried.parsed.id == result.id
updated = test_results_partial_update.sync(client=teacher, id=result.id, body=m.PatchedResultUpdateRequest(score=42.5))
assert (updated.score, updated.percent) == (42.5, 85.0)
bulk = tests_results_update.sync(client=teacher, id=test.id, body=[m.BulkItemRequest(student=me.id, score=40)])
assert (bulk.created, bulk.updated, bulk.unchanged) == (0, 1, 0)
listed = tests_results_list.sync(client=teacher, id=test.id)
assert listed.count == 1 and listed.results[0].percent == 80.0
stats = tests_stats.sync(client=teacher, id=test.id)
assert stats.count == 1 and stats.mean == 80.0 and len(stats.histogram) == 10
history = test_results_history.sync(client=teacher, id=result.id)
assert [change.action.value for change in history.results] == ["created", "updated", "updated"]
gradebook = courses_gradebook.sync(client=teacher, id=course.id)
assert gradebook.students[0].average_percent == 80.0

# Students see their result while published, and not while the teacher hides it.
assert test_results_retrieve.sync(client=student, id=result.id).score == 40
assert users_test_results_list.sync(client=student, id=me.id).count == 1
# Conditional writes: a stale If-Match is a 412 and changes nothing; the current ETag goes through.
hide = m.PatchedTestRequest(results_published=False)
stale = tests_partial_update.sync_detailed(client=teacher, id=test.id, body=hide, if_match=f'"{test.version + 99}"')
assert stale.status_code == 412, stale
current = tests_retrieve.sync_detailed(client=teacher, id=test.id)
tests_partial_update.sync(client=teacher, id=test.id, body=hide, if_match=current.headers["ETag"])
assert test_results_retrieve.sync_detailed(client=student, id=result.id).status_code == 404
assert courses_retrieve.sync(client=student, id=course.id).my_role == m.Role.STUDENT

# Publishing again tells the student (the worker sends it; the delay is 0 here): the notice is sent.
tests_partial_update.sync(client=teacher, id=test.id, body=m.PatchedTestRequest(results_published=True))
deadline = time.monotonic() + 30
while True:
    latest = tests_notices.sync(client=teacher, id=test.id).results[0]
    if (latest.kind, latest.state) == (m.NoticeKind.PUBLISHED, m.NoticeState.SENT) or time.monotonic() > deadline:
        break
    time.sleep(0.3)
assert (latest.kind, latest.state, latest.recipients, latest.sent) == (m.NoticeKind.PUBLISHED, m.NoticeState.SENT, 1, 1)

# Submissions: an online test due an hour ago in a course that takes 10 % a day off late work. The
# student submits, the teacher finds it in the grading queue and grades it: the score kept is the
# entered one less the deduction; waiving it gives the entered score back.
policy = m.PatchedCourseInputRequest(
    late_policy=m.PatchedCourseInputRequestLatePolicyType0(
        deduction_percent=10, interval=m.PatchedCourseInputRequestLatePolicyType0Interval.DAY, minimum_percent=0
    )
)
assert courses_partial_update.sync(client=teacher, id=course.id, body=policy).late_policy.deduction_percent == 10
due = datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(hours=1)
essay = courses_tests_create.sync(
    client=teacher,
    id=course.id,
    body=m.TestRequest(
        name="Essay", date=datetime.date(2026, 12, 8), submission_type=m.SubmissionType.ONLINE, due_at=due
    ),
)
submitted = tests_submissions_create.sync(
    client=student, id=essay.id, body=m.SubmissionInputRequest(body="My essay."), idempotency_key="flow-submit-1"
)
assert (submitted.attempt, submitted.late) == (1, True) and submitted.seconds_late >= 3600
refused = tests_submissions_create.sync_detailed(client=student, id=essay.id, body=m.SubmissionInputRequest(body="x"))
assert refused.status_code == 409, refused  # one attempt allowed
queue = tests_submissions_list.sync(
    client=teacher,
    id=essay.id,
    latest=m.TestsSubmissionsListLatest.TRUE,
    graded=m.TestsSubmissionsListGraded.FALSE,
)
assert [row.id for row in queue.results] == [submitted.id]
assert submissions_retrieve.sync(client=student, id=submitted.id).body == "My essay."
late_grade = tests_results_create.sync(client=teacher, id=essay.id, body=m.ResultCreateRequest(student=me.id, score=90))
assert (late_grade.entered_score, late_grade.late_deduction, late_grade.score) == (90, 10, 80)
queue = tests_submissions_list.sync(
    client=teacher, id=essay.id, latest=m.TestsSubmissionsListLatest.TRUE, graded=m.TestsSubmissionsListGraded.FALSE
)
assert queue.count == 0
waived = test_results_partial_update.sync(
    client=teacher, id=late_grade.id, body=m.PatchedResultUpdateRequest(late_waived=True)
)
assert (waived.score, waived.late_deduction, waived.late_waived) == (90, 0, True)
assert [c.via.value for c in test_results_history.sync(client=teacher, id=late_grade.id).results] == ["api", "policy"]
comment = tests_students_comments_create.sync(
    client=teacher, id=essay.id, student_id=me.id, body=m.CommentInputRequest(body="Well argued.")
)
thread = tests_students_comments_list.sync(client=student, id=essay.id, student_id=me.id)
assert [c.id for c in thread.results] == [comment.id] and thread.results[0].author.id == comment.author.id

# Files: an online test taking text files; the student asks for an upload, sends the file to the
# upload_url it was given (without a bucket, the app itself: behind Heroku's router that is the
# app's public address, reached here at BASE), and submits it without a body. The teacher downloads
# the file and the test's zip.
portfolio = courses_tests_create.sync(
    client=teacher,
    id=course.id,
    body=m.TestRequest(
        name="Portfolio",
        date=datetime.date(2026, 12, 9),
        submission_type=m.SubmissionType.ONLINE,
        max_files=2,
        allowed_extensions=["txt"],
    ),
)
assert (portfolio.max_files, portfolio.allowed_extensions) == (2, ["txt"])
work = b"My portfolio, as plain text.\n" * 100
upload = tests_uploads_create.sync(
    client=student,
    id=portfolio.id,
    body=m.UploadInputRequest(name="portfolio.txt", size=len(work), content_type="text/plain"),
    idempotency_key="flow-upload-1",
)
sent = httpx.post(
    BASE + urlsplit(upload.upload_url).path,
    data=upload.upload_fields.to_dict(),
    files={"file": ("portfolio.txt", work, "text/plain")},
    headers=HEADERS,
    timeout=30,
)
assert sent.status_code == 204, sent.text
refused = tests_uploads_create.sync_detailed(
    client=student, id=portfolio.id, body=m.UploadInputRequest(name="portfolio.pdf", size=10, content_type="text/plain")
)
assert refused.status_code == 400, refused  # allowed_extensions
handed_in = tests_submissions_create.sync(
    client=student, id=portfolio.id, body=m.SubmissionInputRequest(files=[upload.id]), idempotency_key="flow-submit-2"
)
assert [(f.id, f.name, f.size) for f in handed_in.files] == [(upload.id, "portfolio.txt", len(work))]
assert handed_in.body == ""
download = teacher.get_httpx_client().get(f"/api/files/{upload.id}/")
assert download.status_code == 200 and download.content == work, download
assert download.headers["content-disposition"].startswith('attachment; filename="portfolio.txt"')
archive = teacher.get_httpx_client().get(f"/api/tests/{portfolio.id}/submissions.zip")
assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip", archive
names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
assert [name.split("/", 1)[1] for name in names] == ["attempt-1/portfolio.txt"], names

refreshed = auth_refresh_create.sync(client=anon, body=m.RefreshRequest(refresh=teacher_tokens.refresh))
assert refreshed.access and refreshed.refresh != teacher_tokens.refresh
print(
    "client flow: sign-in, course, enrollment, test, grading, bulk, stats, history, gradebook, publishing, "
    "notices, If-Match, Idempotency-Key, submit, grading queue, late deduction, waiver, comments, upload, "
    "submit files, download, zip: ok"
)
