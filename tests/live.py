"""The app served as production serves it, for tests that need real processes: the Procfile's web
command (gunicorn with ``gunicorn.conf.py``) on a free port, DEBUG off, the environment given."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def database_url(alias: str = "default") -> str:
    """A URL of the (test) database a Django alias points at, for another process to use."""
    from django.db import connections

    s = connections[alias].settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    if s["HOST"].startswith("/"):  # a Unix socket's directory (the embedded server of gradingsite.devdb)
        return f"postgres://{s['USER']}{password}@{quote(s['HOST'], safe='')}/{s['NAME']}"
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveServer:
    def __init__(self, process: subprocess.Popen, port: int, log: Path):
        self.process, self.port, self.log_path = process, port, log

    @classmethod
    def start(cls, env: dict[str, str], log: Path, workers: int = 2) -> LiveServer:
        port = free_port()
        environment = {
            **{k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_CONNECTION_POOL_URL"}},
            "SECRET_KEY": secrets.token_urlsafe(50),
            # The test process's key: tokens it issues are good on the server.
            "JWT_SECRET": settings.JWT_SECRET,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        bin_dir = Path(sys.executable).parent
        process = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "gradingsite.wsgi", "--no-control-socket"],
            cwd=ROOT,
            env=environment,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = cls(process, port, log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{server.log()}")
            try:
                server.request("GET", "/")
                return server
            except OSError:
                time.sleep(0.2)
        server.stop()
        raise RuntimeError(f"gunicorn did not answer within 30 s:\n{server.log()}")

    def request(self, method: str, path: str, *, token: str | None = None, body=None, headers=None):
        """(status, headers, body as JSON when it is JSON, else bytes)."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), _decoded(response)
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), _decoded(error)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _decoded(response):
    raw = response.read()
    if response.headers.get("Content-Type", "").startswith("application/json") and raw:
        return json.loads(raw)
    return raw
