"""Real database servers for tests: PgBouncer in transaction mode, and a primary with a streaming replica.

``PgBouncer`` — Debian's PgBouncer (``/usr/sbin/pgbouncer``) on a free port of 127.0.0.1, in
transaction mode (``pool_mode = transaction``, ``default_pool_size`` server connections per
database), passing every database name through to one PostgreSQL server as user ``postgres``
(``auth_type = any``: any client user name and password get in). ``.url(dbname)`` is a URL for
clients, ``.show("POOLS")`` reads the admin console, ``.log()`` is its log.

``ReplicaPair`` — a throwaway primary cluster (``initdb``) and a hot standby made from it with
``pg_basebackup -R``, streaming, each on a free port of 127.0.0.1, both deleted on ``.stop()``.
``.wait_caught_up()`` waits for the replica to replay what the primary has written;
``.pause_replay()`` / ``.resume_replay()`` make it lag on purpose; ``.stop_replica()`` /
``.start_replica()`` take it down and bring it back on the same port.

Both run as the ``postgres`` system user when this process is root (PostgreSQL and PgBouncer
refuse to run as root), from a temporary directory that holds their data, configuration, sockets
and logs. Both stop, and their directories go, on ``.stop()`` or when the Python process exits.

Fixtures (registered through ``pytest_plugins`` in ``tests/conftest.py``):

- ``pgbouncer`` (session): a ``PgBouncer`` in front of the server of the Django test database::

      def test_pooled(pgbouncer):
          with psycopg.connect(pgbouncer.url(connection.settings_dict["NAME"]), prepare_threshold=None) as conn:
              ...

- ``replica_pair`` (session): a started ``ReplicaPair``.

Without the binaries (``apt-get install pgbouncer postgresql``) the fixtures skip with a loud
reason, or fail when ``CI=true`` or ``REQUIRE_SCALING=1``.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

PGBOUNCER = "pgbouncer"
PG_BINARIES = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
START_TIMEOUT = 60.0
# Durability is pointless for clusters deleted at exit: turned off for speed.
FAST = "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"


# --- binaries, users, ports ------------------------------------------------------------------


def _pg_bindir() -> Path | None:
    """The directory of the PostgreSQL server binaries: from PATH, else Debian's newest."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(Path(d).parent.name.split(".")[0]))
    return next((Path(d) for d in reversed(dirs) if Path(d, "pg_ctl").exists()), None)


def find_binary(name: str) -> str | None:
    """Where the binary ``name`` is: PostgreSQL's bin directory, PATH, or /usr/sbin (off a user's PATH)."""
    bindir = _pg_bindir()
    if name in PG_BINARIES and bindir and (bindir / name).exists():
        return str(bindir / name)
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _binary(name: str) -> str:
    path = find_binary(name)
    if path is None:
        raise FileNotFoundError(f"{name} not found (apt-get install pgbouncer postgresql)")
    return path


def require(binary_names: Iterable[str]) -> None:
    """Skip the test unless every binary is installed; fail instead when ``CI=true`` or ``REQUIRE_SCALING=1``."""
    needed = list(binary_names)
    if os.geteuid() == 0:
        needed.append("runuser")  # to run the servers as the postgres user
    missing = [name for name in needed if find_binary(name) is None]
    if not missing:
        return
    reason = (
        f"!!! SCALING TEST NOT RUN: {', '.join(missing)} missing. Install them (apt-get install pgbouncer postgresql) "
        "to run it; CI sets CI=true (or REQUIRE_SCALING=1) and fails here."
    )
    if os.environ.get("CI") == "true" or os.environ.get("REQUIRE_SCALING") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


def _as_postgres(argv: list[str]) -> list[str]:
    """``argv`` run as the postgres system user when this process is root, else as it is."""
    return [_binary("runuser"), "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _temp_dir(prefix: str) -> Path:
    """A new temporary directory that the servers' user owns."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")
    return path


def free_ports(count: int = 1) -> list[int]:
    """``count`` different TCP ports of 127.0.0.1 that nothing listens on (now)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def _run(argv: list[str], cwd: Path, timeout: float = START_TIMEOUT) -> None:
    """Run ``argv`` as the servers' user in ``cwd``; raise with its output if it fails."""
    done = subprocess.run(
        _as_postgres(argv), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}")


def _poll(check: Callable[[], bool], timeout: float, what: str, interval: float = 0.05) -> None:
    """Call ``check`` until it returns true; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _answers(url: str, query: str = "SELECT 1") -> bool:
    """Whether a server at ``url`` accepts a connection and answers ``query`` with a true value."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2, prepare_threshold=None) as conn:
            row = conn.execute(query).fetchone()
    except psycopg.OperationalError:
        return False
    return bool(row and row[0])


def _tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


# --- PgBouncer -------------------------------------------------------------------------------


class PgBouncer:
    """A PgBouncer in transaction mode on 127.0.0.1, in front of one PostgreSQL server, run as a child process."""

    def __init__(self, directory: Path, port: int, process: subprocess.Popen[bytes]) -> None:
        self.directory = directory
        self.port = port
        self._process = process
        self._stopped = False

    @classmethod
    def start(cls, host: str, port: int, *, pool_size: int = 2, max_client_conn: int = 200) -> PgBouncer:
        """Start one in front of the server at ``host:port``; return once it accepts connections."""
        directory = _temp_dir("grading-pgbouncer.")
        (listen_port,) = free_ports()
        ini = directory / "pgbouncer.ini"
        ini.write_text(
            f"""[databases]
* = host={host} port={port} user=postgres

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
unix_socket_dir = {directory}
auth_type = any
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = {max_client_conn}
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
admin_users = postgres
logfile = {directory}/pgbouncer.log
pidfile = {directory}/pgbouncer.pid
"""
        )
        with open(directory / "stderr.log", "wb") as stderr:
            process = subprocess.Popen(
                _as_postgres([_binary(PGBOUNCER), str(ini)]), cwd=directory, stdout=stderr, stderr=stderr
            )
        bouncer = cls(directory, listen_port, process)
        atexit.register(bouncer.stop)
        try:
            _poll(bouncer._ready, START_TIMEOUT, f"pgbouncer on port {listen_port}")
        except Exception as error:
            log = bouncer.log() + _tail(directory / "stderr.log")
            bouncer.stop()
            raise RuntimeError(f"pgbouncer did not start:\n{log}") from error
        return bouncer

    def _ready(self) -> bool:
        if self._process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {self._process.returncode}")
        return _answers(self.url("pgbouncer"), "SHOW VERSION")

    def url(self, dbname: str) -> str:
        """A URL through this PgBouncer to database ``dbname`` (clients must not prepare statements)."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def show(self, what: str) -> list[dict[str, Any]]:
        """The rows of ``SHOW <what>`` (``POOLS``, ``SERVERS``, ``CLIENTS``...) from the admin console, as dicts."""
        with psycopg.connect(self.url("pgbouncer"), autocommit=True, prepare_threshold=None) as conn:
            return conn.cursor(row_factory=dict_row).execute(f"SHOW {what}").fetchall()

    def log(self) -> str:
        """Its log so far."""
        with contextlib.suppress(FileNotFoundError):
            return (self.directory / "pgbouncer.log").read_text(errors="replace")
        return ""

    def _pid(self) -> int:
        """PgBouncer's process id (under runuser the child process is runuser, which exits with it)."""
        with contextlib.suppress(OSError, ValueError):
            return int((self.directory / "pgbouncer.pid").read_text())
        return self._process.pid

    def stop(self) -> None:
        """Shut it down at once (clients are disconnected) and delete its directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        pid = self._pid()
        # SIGTERM: immediate shutdown up to 1.22, waits for clients from 1.23 on; then SIGKILL.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=5)
                break
        shutil.rmtree(self.directory, ignore_errors=True)


# --- a primary and its streaming replica ------------------------------------------------------


class ReplicaPair:
    """A throwaway primary cluster and a hot standby streaming from it, each on a free port of 127.0.0.1."""

    def __init__(self, directory: Path, primary_port: int, replica_port: int) -> None:
        self.directory = directory
        self.primary_port = primary_port
        self.replica_port = replica_port
        self._stopped = False

    @classmethod
    def start(cls) -> ReplicaPair:
        """Make and start both; return once the replica accepts connections and is in recovery."""
        pair = cls(_temp_dir("grading-replicas."), *free_ports(2))
        atexit.register(pair.stop)
        try:
            pair._make_primary()
            pair._make_replica()
            pair.start_replica()
        except BaseException:
            pair.stop()
            raise
        return pair

    def _data(self, which: str) -> Path:
        return self.directory / which

    def _pg(self, argv: list[str]) -> None:
        _run([_binary(argv[0]), *argv[1:]], cwd=self.directory)

    def _start(self, which: str, port: int, options: str) -> None:
        """``pg_ctl start`` the cluster ``which`` on ``port``; raise with its log if it does not start."""
        log = self.directory / f"{which}.log"
        server = f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1 {FAST} {options}"
        try:
            self._pg(["pg_ctl", "-D", str(self._data(which)), "-l", str(log), "-w", "-t", "60", "-o", server, "start"])
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{which}.log:\n{_tail(log)}") from error

    def _make_primary(self) -> None:
        data = self._data("primary")
        self._pg(["initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        hba = data / "pg_hba.conf"
        if not re.search(r"^host\s+replication\s+(all|postgres)\s+127\.0\.0\.1/32\s+trust\s*$", hba.read_text(), re.M):
            with hba.open("a") as file:
                file.write("host replication postgres 127.0.0.1/32 trust\n")
        self._start("primary", self.primary_port, "-c wal_level=replica -c max_wal_senders=5")

    def _make_replica(self) -> None:
        source = ["-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres"]
        fast = ["--checkpoint=fast", "--no-sync"]
        self._pg(["pg_basebackup", *source, "-D", str(self._data("replica")), "-R", "-X", "stream", *fast])

    def primary_url(self, dbname: str = "postgres") -> str:
        """A URL of the primary's database ``dbname``."""
        return f"postgres://postgres@127.0.0.1:{self.primary_port}/{dbname}"

    def replica_url(self, dbname: str = "postgres") -> str:
        """A URL of the replica's database ``dbname`` (read-only)."""
        return f"postgres://postgres@127.0.0.1:{self.replica_port}/{dbname}"

    def _query(self, url: str, query: str, *params: Any) -> Any:
        """The first column of the first row of ``query``, run in autocommit."""
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            row = conn.execute(query, params or None).fetchone()
        return row[0] if row else None

    def wait_caught_up(self, timeout: float = 120) -> None:
        """Wait until the replica has replayed all the WAL the primary had written when called.

        The primary runs with ``synchronous_commit=off``, so the WAL of a commit may not be written
        yet: a synchronous commit that writes WAL (a transactional logical message) first flushes
        everything before it.
        """
        with psycopg.connect(self.primary_url(), connect_timeout=5) as conn:
            conn.execute("SET LOCAL synchronous_commit = on")
            conn.execute("SELECT pg_logical_emit_message(true, 'tests.servers', 'flush')")
            conn.commit()
            target = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]
        query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
        _poll(lambda: self._query(self.replica_url(), query, target), timeout, f"the replica to replay to {target}")

    def pause_replay(self) -> None:
        """Stop the replica replaying WAL (it still receives it); return once replay is paused."""
        self._query(self.replica_url(), "SELECT pg_wal_replay_pause()")
        paused = "SELECT pg_get_wal_replay_pause_state() = 'paused'"
        _poll(lambda: self._query(self.replica_url(), paused), 10, "replay to pause")

    def resume_replay(self) -> None:
        """Let the replica replay WAL again."""
        self._query(self.replica_url(), "SELECT pg_wal_replay_resume()")

    def stop_replica(self) -> None:
        """Shut the replica down (``-m fast``)."""
        self._pg(["pg_ctl", "-D", str(self._data("replica")), "-m", "fast", "-w", "stop"])

    def start_replica(self) -> None:
        """Start the replica on its port; return once it accepts connections and is in recovery."""
        standby = "-c hot_standby=on -c hot_standby_feedback=on -c max_standby_streaming_delay=-1"
        self._start("replica", self.replica_port, standby)
        _poll(lambda: _answers(self.replica_url(), "SELECT pg_is_in_recovery()"), START_TIMEOUT, "the replica")

    def stop(self) -> None:
        """Stop both clusters at once (``-m immediate``) and delete their directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        for which in ("replica", "primary"):
            if (self._data(which) / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self._pg(["pg_ctl", "-D", str(self._data(which)), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.directory, ignore_errors=True)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pgbouncer(django_db_setup: None) -> Iterator[PgBouncer]:
    """A PgBouncer (pool of 2, transaction mode) in front of the server of the Django test database.

    Tests using it need ``pytest.mark.django_db`` (pytest-django creates the test database only
    for marked tests). It depends on ``django_db_setup``, so it stops (closing its server
    connections) before the test database is dropped.
    """
    require([PGBOUNCER])
    from django.db import connection

    settings = connection.settings_dict
    if not (settings["NAME"] == settings["TEST"]["NAME"] or settings["NAME"].startswith("test_")):
        pytest.fail("pgbouncer: no Django test database was set up: mark the test with pytest.mark.django_db")
    bouncer = PgBouncer.start(settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="session")
def replica_pair() -> Iterator[ReplicaPair]:
    """A throwaway primary and its streaming hot standby, for the session."""
    require(PG_BINARIES)
    pair = ReplicaPair.start()
    yield pair
    pair.stop()
