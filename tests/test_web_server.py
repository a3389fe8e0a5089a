"""The web server's worker (``gradingsite.worker.SharedPollWorker``, gunicorn.conf.py): kept-alive
connections, pipelined requests, bodies, a slow answer beside quick ones, idle connections closed,
the connection limit, restarts after ``max_requests``, and a graceful stop. Served by gunicorn with
the project's configuration, over real sockets."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live import ROOT, free_port
from tests.workers import wait_until


class Server:
    def __init__(self, tmp_path: Path, *args: str):
        self.port = free_port()
        self.log_path = tmp_path / "gunicorn.log"
        env = {**os.environ, "PORT": str(self.port), "WEB_CONCURRENCY": "1", "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "tests.web_server_app", "--no-control-socket", *args],
            cwd=ROOT,
            env=env,
            stdout=self.log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, 30, "gunicorn to answer")

    def _answers(self) -> bool:
        assert self.process.poll() is None, self.log()
        try:
            with self.connect() as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                return read_response(sock)[0] == 200
        except OSError:
            return False

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=40)
        return sock

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(tmp_path):
    servers = []

    def start(*args: str) -> Server:
        servers.append(Server(tmp_path, *args))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def read_response(sock: socket.socket, buffer: bytearray | None = None):
    """(status, headers, body) of one response; ``buffer`` keeps bytes read past it."""
    buffer = bytearray() if buffer is None else buffer
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed after {bytes(buffer)!r}")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed within the body")
        rest += chunk
    buffer[:] = rest[length:]
    return status, headers, rest[:length]


def get(sock, path="/", extra=b""):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n".encode() + extra + b"\r\n")
    return read_response(sock)


def closed_by_server(sock) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_the_production_configuration_uses_the_shared_poll_worker(serve):
    server = serve()
    assert "Using worker: gradingsite.worker.SharedPollWorker" in server.log()


def test_a_kept_alive_connection_serves_request_after_request(serve):
    server = serve()
    with server.connect() as sock:
        answers = {get(sock)[2] for _ in range(50)}
    assert len(answers) == 1  # one process, one client port: the same connection throughout


def test_pipelined_requests_are_answered_in_order(serve):
    server = serve()
    with server.connect() as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nfirst"
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 6\r\n\r\nsecond"
            b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        buffer = bytearray()
        bodies = [read_response(sock, buffer)[2] for _ in range(3)]
    assert bodies[:2] == [b"first", b"second"]
    assert bodies[2].split()[0].isdigit()


def test_a_body_sent_in_pieces_and_a_body_left_unread_keep_the_connection_in_step(serve):
    server = serve()
    with server.connect() as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        time.sleep(0.05)  # the second half of the body arrives later, whenever it does
        sock.sendall(b"world")
        assert read_response(sock)[2] == b"helloworld"
        # ``/`` doesn't read its body: the server skips it before the next request.
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabcGET /echo HTTP/1.1\r\nHost: t\r\n\r\n")
        buffer = bytearray()
        assert read_response(sock, buffer)[0] == 200
        assert read_response(sock, buffer)[2] == b""


def test_a_slow_answer_does_not_hold_up_other_connections(serve, tmp_path):
    server = serve()
    with server.connect() as slow, server.connect() as quick:
        slow.sendall(f"GET /hold?{tmp_path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        wait_until((tmp_path / "started").exists, 30, "the slow request to start")
        for _ in range(5):
            assert get(quick)[0] == 200
        (tmp_path / "go").touch()
        assert read_response(slow)[2] == b"held"


def test_an_error_in_the_app_is_a_500_and_the_server_goes_on(serve):
    server = serve()
    with server.connect() as sock:
        assert get(sock, "/fail")[0] == 500
    with server.connect() as sock:
        assert get(sock)[0] == 200
    assert "the app failed" in server.log()


def test_a_client_leaving_mid_request_does_not_disturb_the_others(serve):
    server = serve()
    for _ in range(5):
        with server.connect() as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHo")
    with server.connect() as sock:
        assert get(sock)[0] == 200


def test_an_idle_connection_is_closed_after_the_keepalive_time(serve):
    server = serve("--keep-alive", "1")
    with server.connect() as sock:
        assert get(sock)[0] == 200
        started = time.monotonic()
        assert closed_by_server(sock)
    assert time.monotonic() - started < 30


def test_connections_past_the_limit_wait_for_one_to_close(serve):
    server = serve("--worker-connections", "2")
    with server.connect() as first, server.connect() as second:
        assert get(first)[0] == 200
        assert get(second)[0] == 200
        third = server.connect()
        third.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        third.settimeout(0.5)
        with pytest.raises(TimeoutError):
            third.recv(1)  # not accepted yet: the server waits for a connection to close
        third.settimeout(40)
        first.close()
        assert read_response(third)[0] == 200
        third.close()


def test_the_worker_restarts_after_max_requests_and_keeps_serving(serve):
    server = serve("--max-requests", "5")
    pids = set()
    for _ in range(12):
        with server.connect() as sock:
            status, _, body = get(sock)
        assert status == 200
        pids.add(body.split()[0])
    assert len(pids) >= 2


def test_stopping_lets_the_answer_in_flight_finish_then_closes_its_connection(serve, tmp_path):
    server = serve()
    with server.connect() as slow:
        slow.sendall(f"GET /hold?{tmp_path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        wait_until((tmp_path / "started").exists, 30, "the slow request to start")
        server.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "Handling signal: term" in server.log(), 30, "gunicorn to pass the signal on")
        (tmp_path / "go").touch()
        status, _, body = read_response(slow)
        assert (status, body) == (200, b"held")
        # Kept open briefly for a request already on its way, then closed.
        assert closed_by_server(slow)
    server.process.wait(30)
    assert server.process.returncode == 0
