#!/usr/bin/env python3
"""Benchmark of the admin's pages at the size of a large class: server time, bytes and queries per page.

What it does (nothing outside this machine is touched):

1. creates a fresh PostgreSQL database on the server of ``$DATABASE_URL`` (default
   ``postgres://postgres@127.0.0.1:5432``), migrates it and loads
   ``manage.py seed --students 1000 --tests 20 --courses 1 --categories 4`` (one course of 1,000
   students x 20 tests in 4 weighted categories, 20,000 results and their history); then, in bulk, a
   sent notice per test emailed to every student, a piece of feedback per student and a superuser;
   the first test online, in a course with a late policy, with an attempt of every student (bodies
   of 500 characters, two in three late and handed in after their grade: to grade) and a comment on
   each student's work; then ``ANALYZE``;
2. signs in the course's teacher and the superuser through the Django test client's session
   machinery (``force_login`` writes a session row; its cookie is what the timed requests send);
3. per checkout measured (this one, and with ``--baseline-tree DIR`` another one on the same
   database, e.g. a worktree of ``main``): counts each page's queries in process (``manage.py
   shell`` in that checkout, the test client without its template-context record, DEBUG off,
   ``CaptureQueriesContext``), each page read once before it is counted;
4. starts one gunicorn per checkout as production runs it (gunicorn.conf.py, DEBUG off, generated
   secrets, **one worker**), checks each page answers 200 (the save: 302), warms each page up, then
   times every page ``--repeat`` times to the last byte of the body, the pages and the checkouts
   taking turns request by request (the checkout going first alternating round by round);
5. prints a markdown table (median and p90 ms, bytes, queries; before and after side by side when a
   baseline is given) and writes it to ``bench/ADMIN.md`` (``--output``); stops gunicorn and drops
   the database, also after an error or Ctrl-C.

The pages are listed in ``PAGES``: a URL name, what its arguments are, a query string, and who opens
it. A page whose URL name a checkout doesn't have is shown as "-" for that checkout (a page added
later, such as the test's grade-entry page, is measured where it exists).

Goal: under 300 ms of server time for every page at 1,000 students, with one worker.

Run from the project root: ``.venv/bin/python bench/admin.py --baseline-tree /tmp/base-adm``.
"""

from __future__ import annotations

import argparse
import http.client
import inspect
import itertools
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gradebook as bench  # the gradebook benchmark's database and gunicorn helpers

ROOT = bench.ROOT
GOAL_MS = 300
TEACHER = bench.TEACHER
ADMIN = "admin@bench.example.com"


@dataclass(frozen=True)
class Page:
    """One admin page: ``url`` a URL name of the admin, ``args`` what its arguments are (``course``,
    ``test``, ``result``, ``enrollment``, ``student``, ``submission``: ids of the benchmark's course and
    of one of its tests, results...), ``query`` a query string (``{course}``, ``{test}`` filled in), ``who`` the
    users who open it, ``method`` GET, or POST for the save of one score on a result's page."""

    key: str
    label: str
    url: str
    args: tuple[str, ...] = ()
    query: str = ""
    who: tuple[str, ...] = ("teacher", "admin")
    method: str = "GET"


PAGES = [
    Page("index", "admin index", "admin:index"),
    Page("course", "course page", "admin:courses_course_change", ("course",)),
    Page("courses", "courses list", "admin:courses_course_changelist"),
    Page("tests", "tests list", "admin:grading_test_changelist"),
    Page("test", "test page", "admin:grading_test_change", ("test",)),
    # The test's grade-entry page, where a checkout has it.
    Page("grades", "grade entry", "admin:grading_test_grades", ("test",)),
    Page("results", "results list, by test", "admin:grading_testresult_changelist", query="test__id__exact={test}"),
    Page("result", "result page", "admin:grading_testresult_change", ("result",)),
    Page("save", "saving one score (result page)", "admin:grading_testresult_change", ("result",), method="POST"),
    Page("history", "history list, by test", "admin:grading_gradechange_changelist", query="test__id__exact={test}"),
    Page("notices", "notices list", "admin:grading_notice_changelist"),
    Page(
        "enrollments",
        "enrollments list, by course",
        "admin:courses_enrollment_changelist",
        query="course__id__exact={course}",
    ),
    # Submissions, where a checkout has them.
    Page(
        "submissions",
        "submissions list, by test",
        "admin:grading_submission_changelist",
        query="test__id__exact={test}",
    ),
    Page(
        "queue",
        "submissions list, the queue",
        "admin:grading_submission_changelist",
        query="test__id__exact={test}&latest=yes&graded=no",
    ),
    Page("submission", "submission page", "admin:grading_submission_change", ("submission",)),
    Page("grading", "grading page", "admin:grading_test_grade_student", ("test", "student")),
]

# Bulk data beyond the seed's, and the ids the pages need; runs in ``manage.py shell``.
_EXTRA_DATA = r"""
import json
from django.db import connection
from accounts.models import User
from courses.models import Course, Enrollment, Feedback, Role
from grading.models import Notice, NoticeRecipient, Test, TestResult

course = Course.objects.get(name=COURSE)
students = list(User.objects.filter(enrollments__course=course, enrollments__role=Role.STUDENT).order_by("id"))
tests = list(Test.objects.filter(course=course).order_by("date", "id"))
notices = Notice.objects.bulk_create(
    Notice(test=test, kind=Notice.Kind.PUBLISHED, state=Notice.State.SENT, send_after=test.created_at)
    for test in tests
)
NoticeRecipient.objects.bulk_create(
    (NoticeRecipient(notice=n, student=s, state="sent", batch=0) for n in notices for s in students),
    batch_size=5000,
)
Feedback.objects.bulk_create(Feedback(course=course, student=s, feedback="Thanks.") for s in students)
User.objects.create_superuser(ADMIN, first_name="Bench", last_name="Admin")
try:
    from grading.models import Comment, Submission
except ImportError:  # a checkout from before submissions
    Submission = None
if Submission is not None:
    from datetime import timedelta
    from django.utils import timezone
    now = timezone.now()
    teacher = User.objects.get(email=TEACHER)
    policy = {"deduction_percent": 10, "interval": "day", "minimum_percent": 50}
    Course.objects.filter(pk=course.pk).update(late_policy=policy)
    online = Test.objects.filter(pk=tests[0].pk)
    online.update(submission_type="online", due_at=now - timedelta(days=1), allowed_attempts=None)
    Submission.objects.bulk_create(
        Submission(
            test=tests[0], student=s, attempt=1, body=("word " * 100)[:500],
            submitted_at=now - timedelta(days=2) if i % 3 == 0 else now + timedelta(minutes=1),
        )
        for i, s in enumerate(students)
    )
    Comment.objects.bulk_create(
        Comment(test=tests[0], student=s, author=teacher, body="Fine.", email_state="sent") for s in students
    )
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
"""

_IDS = r"""
import json
from accounts.models import User
from courses.models import Course, Enrollment, Role
from grading.models import Test, TestResult

course = Course.objects.get(name=COURSE)
test = Test.objects.filter(course=course).order_by("date", "id").first()
result = TestResult.objects.filter(test=test, excused=False).order_by("id").first()
enrollment = Enrollment.objects.filter(course=course, role=Role.STUDENT).order_by("id").first()
try:
    from grading.models import Submission
    submission = Submission.objects.filter(test=test, student_id=enrollment.user_id).first()
except ImportError:  # a checkout from before submissions
    submission = None
print(json.dumps({
    "course": course.pk,
    "test": test.pk,
    "result": result.pk,
    "enrollment": enrollment.pk,
    "student": enrollment.user_id,
    "submission": submission.pk if submission else 0,
}))
"""

# In one checkout: each page's URL, status, size and queries, as each user; and session cookies.
# Settings come in $BENCH_ADMIN as JSON; the last line of output is the answer as JSON.
_IN_PROCESS = r"""
import json, os
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from accounts.models import User


class PageClient(Client):
    # Django's test client without its record of every template's context (seconds on a big page).
    def request(self, **request):
        response = self.handler(self._base_environ(**request))
        self.cookies.update(response.cookies)
        return response


cfg = json.loads(os.environ["BENCH_ADMIN"])
ids = cfg["ids"]
users = {"teacher": User.objects.get(email=cfg["teacher"]), "admin": User.objects.get(email=cfg["admin"])}
out = {"pages": {}, "cookies": {}}
for who, user in users.items():
    client = PageClient()
    client.force_login(user)
    out["cookies"][who] = client.cookies[settings.SESSION_COOKIE_NAME].value
    for page in cfg["pages"]:
        if who not in page["who"]:
            continue
        try:
            url = reverse(page["url"], args=[ids[a] for a in page["args"]])
        except NoReverseMatch:
            continue
        if page["query"]:
            url += "?" + page["query"].format(**ids)
        if page["method"] == "POST":
            continue  # counted over HTTP's twin below: the form's fields come from the page
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        out["pages"][f"{page['key']}/{who}"] = {
            "url": url, "status": response.status_code, "bytes": len(response.content), "queries": len(queries),
        }
    for page in cfg["pages"]:
        if page["method"] != "POST" or who not in page["who"]:
            continue
        url = reverse(page["url"], args=[ids[a] for a in page["args"]])
        form = FORM(client.get(url).content.decode())
        counts = []
        for score in ("42", "43"):
            with CaptureQueriesContext(connection) as queries:
                response = client.post(url, {**form, "score": score})
            counts.append(len(queries))
        out["pages"][f"{page['key']}/{who}"] = {
            "url": url, "status": response.status_code, "bytes": len(response.content), "queries": counts[-1],
        }
print(json.dumps(out))
"""


class FormFields(HTMLParser):
    """The fields a browser would post from an admin change form (the first form with ``_form`` in its id)."""

    def __init__(self):
        super().__init__()
        self.inside = False
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("id") or "").endswith("_form"):
            self.inside = True
        if not self.inside:
            return
        name = a.get("name")
        if not name or "__prefix__" in name:
            return
        kind = a.get("type")
        if tag == "input" and kind not in ("submit", "button") and (kind != "checkbox" or "checked" in a):
            self.fields[name] = a.get("value") or ("on" if kind == "checkbox" else "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False


def form_fields(html: str) -> dict[str, str]:
    reader = FormFields()
    reader.feed(html)
    return reader.fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--baseline-tree", type=Path, help="another checkout (with its .venv) to measure beside this one"
    )
    parser.add_argument("--baseline-label", default="before", help="its name in the table (default: before)")
    parser.add_argument(
        "--repeat", type=int, default=15, help="timed requests per page, user and checkout (default 15)"
    )
    parser.add_argument("--students", type=int, default=1000)
    parser.add_argument("--tests", type=int, default=20)
    parser.add_argument("--categories", type=int, default=4)
    parser.add_argument("--only", help="comma-separated page keys (default: all)")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "ADMIN.md")
    args = parser.parse_args()

    pages = [p for p in PAGES if not args.only or p.key in args.only.split(",")]
    trees = {"after": ROOT}
    if args.baseline_tree:
        trees = {args.baseline_label: args.baseline_tree.resolve(), **trees}
    server = bench._server_url(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    database = f"bench_admin_{secrets.token_hex(4)}"
    servers: dict[str, tuple] = {}
    interrupted = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        seed = ["--students", str(args.students), "--tests", str(args.tests), "--categories", str(args.categories)]
        env = bench._prepare(server, database, seed)
        prelude = f"COURSE = {bench.COURSE!r}\nADMIN = {ADMIN!r}\nTEACHER = {TEACHER!r}\n"
        bench._manage(env, "shell", "--verbosity=0", "-c", prelude + _EXTRA_DATA)
        ids = json.loads(bench._manage(env, "shell", "--verbosity=0", "-c", prelude + _IDS).strip().splitlines()[-1])
        counted = {label: _count(env, tree, pages, ids) for label, tree in trees.items()}
        for label, tree in trees.items():
            process, port = bench._start(env, tree)
            servers[label] = (process, port)
        timed = _time(servers, counted, pages, args.repeat)
        load = os.getloadavg()
        report = _report(args, trees, counted, timed, load, pages)
    finally:
        for process, _ in servers.values():
            bench._stop(process)
        bench._psql(server, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        signal.signal(signal.SIGTERM, interrupted)
    print(report)
    args.output.write_text(report)
    print(f"written to {args.output}")
    return 0


def _count(env: dict, tree: Path, pages: list[Page], ids: dict) -> dict:
    bench._step(f"queries per page, in process, from {tree}")
    cfg = {"ids": ids, "teacher": TEACHER, "admin": ADMIN, "pages": [asdict(p) for p in pages]}
    code = (
        "from html.parser import HTMLParser\n"
        + _source_of(FormFields)
        + "\n"
        + "def FORM(html):\n    r = FormFields()\n    r.feed(html)\n    return r.fields\n"
        + _IN_PROCESS
    )
    done = subprocess.run(  # noqa: S603
        [str(tree / ".venv" / "bin" / "python"), "manage.py", "shell", "--verbosity=0", "-c", code],
        cwd=tree,
        env={**env, "BENCH_ADMIN": json.dumps(cfg), "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost"},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _source_of(cls) -> str:
    return inspect.getsource(cls)


def _request(port: int, method: str, url: str, cookie: str, body: dict | None = None) -> tuple[int, int, float, str]:
    """One request on a new connection, read to the last byte: (status, bytes, ms, body text); the
    CSRF cookie it sets, if any, in ``_request.csrf``."""
    headers = {"Cookie": cookie}
    data = None
    if body is not None:
        data = urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    started = time.perf_counter()
    connection.request(method, url, body=data, headers=headers)
    response = connection.getresponse()
    content = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    for header, value in response.getheaders():
        if header.lower() == "set-cookie" and value.startswith("csrftoken="):
            _request.csrf = value.split(";", 1)[0].split("=", 1)[1]
    return response.status, len(content), elapsed, content.decode(errors="replace")


def _time(servers: dict, counted: dict, pages: list[Page], repeat: int) -> dict:
    """Every page's times per checkout: {(checkout, page key, who): [ms, ...]}."""
    runs: list[tuple[str, Page, str]] = [
        (label, page, who)
        for page in pages
        for who in page.who
        for label in servers
        if f"{page.key}/{who}" in counted[label]["pages"]
    ]
    cookies = {
        label: {who: f"sessionid={value}" for who, value in counted[label]["cookies"].items()} for label in servers
    }
    saves: dict[tuple[str, str], dict] = {}
    scores = itertools.count()

    def once(label: str, page: Page, who: str) -> tuple[int, int, float]:
        _, port = servers[label]
        url = counted[label]["pages"][f"{page.key}/{who}"]["url"]
        cookie = cookies[label][who]
        if page.method == "GET":
            status, size, ms, _ = _request(port, "GET", url, cookie)
            return status, size, ms
        key = (label, who)
        if key not in saves:  # the form's fields, and the CSRF cookie that goes with its token
            _request.csrf = None
            _, _, _, html = _request(port, "GET", url, cookie)
            if not _request.csrf:
                raise SystemExit(f"{url} set no CSRF cookie")
            saves[key] = {"fields": form_fields(html), "cookie": f"{cookie}; csrftoken={_request.csrf}"}
        # Every save changes the score (one result, saved by every checkout and user in turn).
        form = {**saves[key]["fields"], "score": str(30 + next(scores) % 60)}
        status, size, ms, _ = _request(port, "POST", url, saves[key]["cookie"], form)
        return status, size, ms

    bench._step("checking every page once, then warming up")
    for label, page, who in runs:
        expected = 302 if page.method == "POST" else 200
        status, size, _ = once(label, page, who)
        if status != expected:
            raise SystemExit(f"{label}: {page.label} as {who} answered {status}, not {expected}")
        for _ in range(2):
            once(label, page, who)
    times: dict[tuple[str, str, str], list[float]] = {}
    sizes: dict[tuple[str, str, str], int] = {}
    bench._step(f"timing: {repeat} rounds over {len(runs)} (checkout, page, user) runs")
    labels = list(servers)
    for round_ in range(repeat):
        order = labels if round_ % 2 == 0 else labels[::-1]
        for page in pages:
            for who in page.who:
                for label in order:
                    if f"{page.key}/{who}" not in counted[label]["pages"]:
                        continue
                    status, size, ms = once(label, page, who)
                    times.setdefault((label, page.key, who), []).append(ms)
                    sizes[label, page.key, who] = size
        print(f"    round {round_ + 1}/{repeat}, load average {os.getloadavg()[0]:.2f}", flush=True)
    return {"times": times, "sizes": sizes}


def _git(tree: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=tree, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603, S607


def _report(args, trees: dict, counted: dict, timed: dict, load: tuple, pages: list[Page]) -> str:
    times, sizes = timed["times"], timed["sizes"]
    labels = list(trees)
    lines = [
        "# Admin pages at class size",
        "",
        f"Written by `bench/admin.py` on {datetime.now(tz=UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Machine: {platform.machine()}, {os.cpu_count()} cores, Linux {platform.release()}; "
        f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1, 5, 15 min) at the end of the runs.",
        f"- Python {platform.python_version()}.",
        f"- Data: `seed --students {args.students} --tests {args.tests} --courses 1 --categories {args.categories}`, "
        "a sent notice per test to every student, a piece of feedback per student, the first test online with an "
        "attempt of every student (two in three to grade) and a comment on each student's work, then `ANALYZE`.",
        "- Server: gunicorn with gunicorn.conf.py, **one worker**, DEBUG off, on loopback; a new connection per "
        f"request, timed to the last byte of the body; {args.repeat} timed runs per page and user after a "
        "warm-up, pages and checkouts taking turns request by request.",
        "- Queries: counted in process (the test client, DEBUG off), the page read once before.",
    ]
    for label, tree in trees.items():
        lines.append(f"- `{label}`: {tree} at {_git(tree, 'log', '-1', '--format=%h %s')}")
    lines += ["", f"**Goal: under {GOAL_MS} ms of server time for every page at {args.students:,} students.**", ""]
    header = "| Page | User |"
    rule = "|---|---|"
    for label in labels:
        header += f" {label}: median ms | p90 ms | KiB | queries |"
        rule += "--:|--:|--:|--:|"
    header += f" < {GOAL_MS} ms |"
    rule += "---|"
    lines += [header, rule]
    for page in pages:
        for who in page.who:
            row = f"| {page.label} | {who} |"
            last = None
            for label in labels:
                run = times.get((label, page.key, who))
                info = counted[label]["pages"].get(f"{page.key}/{who}")
                if not run or not info:
                    row += " - | - | - | - |"
                    continue
                median = statistics.median(run)
                p90 = statistics.quantiles(run, n=10)[-1] if len(run) > 1 else run[0]
                size = sizes[label, page.key, who] / 1024
                row += f" {median:,.0f} | {p90:,.0f} | {size:,.0f} | {info['queries']:,} |"
                last = median
            row += " yes |" if last is not None and last < GOAL_MS else " no |"
            lines.append(row)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
