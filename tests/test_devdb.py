"""``make run``'s own PostgreSQL (``gradingsite.devdb``): started for a command, stopped after it.

Each test runs ``python -m gradingsite.devdb`` as ``make run`` does, without ``DATABASE_URL``, on
an embedded server with its data in a temporary directory, and reads the server's state from
its data directory (``postmaster.pid`` exists while it runs).
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.workers import wait_until

BASE_DIR = Path(__file__).resolve().parent.parent
DEADLINE = 120  # seconds: an embedded server's first start runs initdb


def devdb(data: Path, *command: str) -> subprocess.Popen:
    env = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}
    env["GRADING_PG_DATA"] = str(data)
    return subprocess.Popen(
        [sys.executable, "-m", "gradingsite.devdb", "--", *command],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def server_running(data: Path) -> bool:
    pid_file = data / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return False
    return psutil.pid_exists(pid)


@pytest.fixture
def data(embedded_pg_data):
    """The server's data directory; a server a failed test left running there is stopped."""
    data = embedded_pg_data
    yield data
    if server_running(data):
        postmaster = psutil.Process(int((data / "postmaster.pid").read_text().split()[0]))
        postmaster.terminate()
        postmaster.wait(DEADLINE)


CONNECT = "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL']).execute('select 1'); print('connected')"


def test_a_command_runs_on_the_embedded_server_which_stops_when_the_command_ends(data):
    run = devdb(data, sys.executable, "-c", CONNECT)
    output, _ = run.communicate(timeout=DEADLINE)

    assert run.returncode == 0, output
    assert "connected" in output
    assert not server_running(data)


def test_a_run_killed_outright_leaves_the_server_to_the_next_run_which_stops_it(data, tmp_path):
    marker = tmp_path / "started"
    killed = devdb(data, "sh", "-c", f"touch {marker}; exec sleep 600")
    wait_until(marker.exists, timeout=DEADLINE, what="the first command to start")
    command = psutil.Process(killed.pid).children(recursive=True)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=DEADLINE)
    for process in command:
        process.kill()  # the command itself would run on, as a command under a killed make does
    assert server_running(data), "a SIGKILL gives devdb no chance to stop the server"

    run = devdb(data, sys.executable, "-c", CONNECT)
    output, _ = run.communicate(timeout=DEADLINE)

    assert run.returncode == 0, output
    assert "connected" in output
    assert not server_running(data)
