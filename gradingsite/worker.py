"""gunicorn's threaded worker, its threads taking requests from one shared poller.

gunicorn's ``gthread`` worker waits for requests in its main thread and hands each ready connection
to a thread of its pool and back: per request a queue put and take (two thread wake-ups), a byte
through a pipe, the socket taken out of the poller and put back, its blocking mode switched twice,
and the heartbeat file touched. Here every thread waits on the same ``epoll`` itself and serves
what it is given (a leader/followers pool): a connection is registered once, ``EPOLLONESHOT``
hands each of its readiness events to exactly one thread, and re-arming it after the answer is the
only poller call a kept-alive request costs. While one thread waits for PostgreSQL, another takes
the next ready connection, as in ``gthread``.

Everything else is ``gthread``'s own: the request's parsing and answer (``ThreadWorker.handle``,
``handle_request``: the access log, ``max_requests``, errors, HTTP/2), its settings (``threads``,
``keepalive``, ``worker_connections``, ``graceful_timeout``) and its shutdown: on SIGTERM the
listeners are closed, answers in flight finish and say ``Connection: close``, kept-alive
connections stay open ``STOP_KEEPALIVE_LINGER`` seconds for a request already on its way. The main
thread beats the heartbeat once a second and closes connections idle past ``keepalive``.
"""

import contextlib
import errno
import os
import select
import threading
import time

from gunicorn.workers import base
from gunicorn.workers.gthread import _DEFER, STOP_KEEPALIVE_LINGER, TConn, ThreadWorker

# Each readiness event goes to one waiting thread, and the connection is then disarmed until its
# thread has answered (re-armed with ``epoll.modify``).
_ARMED = select.EPOLLIN | select.EPOLLONESHOT
# How often the main thread beats the heartbeat and closes idle connections, in seconds.
_TICK = 1.0


class SharedPollWorker(ThreadWorker):
    """``worker_class = "gradingsite.worker.SharedPollWorker"`` (gunicorn.conf.py)."""

    def init_process(self):
        self.epoll = select.epoll()
        self.listeners = {}
        # Every open client connection by its descriptor. Added to and removed from under ``lock``,
        # which also guards each connection's ``busy`` flag: a connection being answered is never
        # closed as idle, nor answered by two threads.
        self.conns: dict[int, TConn] = {}
        self.lock = threading.Lock()
        self.accepting = False
        self.stopping = False
        # Not ThreadWorker's: no thread pool nor main-thread poller here.
        base.Worker.init_process(self)

    def handle_exit(self, sig, frame):
        self.alive = False

    def handle_quit(self, sig, frame):
        base.Worker.handle_quit(self, sig, frame)

    def run(self):
        for listener in self.sockets:
            listener.setblocking(False)
            self.listeners[listener.fileno()] = listener
            self.epoll.register(listener.fileno(), _ARMED)
        self.accepting = True
        threads = [
            threading.Thread(target=self._serve, name=f"gunicorn-{index}", daemon=True)
            for index in range(self.cfg.threads)
        ]
        for thread in threads:
            thread.start()

        while self.alive:
            self.notify()
            if not self.is_parent_alive():
                break
            self._close_idle()
            self._sleep(_TICK)

        # Stopping: no new connections; answers in flight finish (they say "Connection: close" now
        # that ``alive`` is false); kept-alive connections linger briefly for a request on its way.
        self.alive = False
        for fd in list(self.listeners):
            self._forget(fd)
        linger = time.monotonic() + STOP_KEEPALIVE_LINGER
        with self.lock:
            for conn in self.conns.values():
                conn.timeout = min(conn.timeout, linger)
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while self.conns and time.monotonic() < deadline:
            self.notify()
            self._close_idle()
            self._sleep(0.1)
        self.stopping = True
        for thread in threads:
            thread.join(_TICK + 0.5)
        with self.lock:
            remaining, self.conns = list(self.conns.values()), {}
        for conn in remaining:
            conn.close()
        self.epoll.close()
        for listener in self.sockets:
            listener.close()

    def _sleep(self, seconds):
        # The signal wake-up pipe (``Worker.init_signals``) ends the wait at once on SIGTERM.
        try:
            ready, _, _ = select.select([self.PIPE[0]], [], [], seconds)
        except InterruptedError:
            return
        if ready:
            try:
                while os.read(self.PIPE[0], 512):
                    pass
            except BlockingIOError:
                pass

    def _serve(self):
        poll, listeners, conns = self.epoll.poll, self.listeners, self.conns
        while not self.stopping:
            try:
                events = poll(_TICK, 1)
            except InterruptedError:
                continue
            except (OSError, ValueError):  # the poller closed at the very end
                return
            for fd, _ in events:
                listener = listeners.get(fd)
                if listener is not None:
                    self._accept(listener)
                    continue
                conn = conns.get(fd)
                if conn is not None:
                    self._answer(fd, conn)

    def _accept(self, listener):
        try:
            while len(self.conns) < self.worker_connections:
                try:
                    sock, client = listener.accept()
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno in (errno.ECONNABORTED, errno.EAGAIN):
                        continue
                    raise
                conn = TConn(self.cfg, sock, client, listener.getsockname())
                conn.busy = False
                # Time to send a first request, then to send each next one: ``keepalive``.
                conn.set_timeout()
                fd = sock.fileno()
                with self.lock:
                    self.conns[fd] = conn
                self.epoll.register(fd, _ARMED)
            else:
                # ``worker_connections`` open: accept again when one closes (``_close``).
                self.accepting = False
                return
        finally:
            if self.accepting and self.alive:
                self._rearm(listener.fileno())

    def _answer(self, fd, conn):
        with self.lock:
            if conn.busy or self.conns.get(fd) is not conn:
                return  # a stale event: closed as idle meanwhile, its descriptor reused
            conn.busy = True
        try:
            while True:
                result = self.handle(conn)
                # A body drain may have read the start of the next request, which the poller
                # can no longer see: answer it now.
                if result is True and conn.parser.unreader.buf.getvalue():
                    continue
                break
        except Exception:
            result = None
            self.log.exception("Error serving a connection")
        if result is True or result is _DEFER:
            conn.set_timeout()
            if not self.alive:
                conn.timeout = min(conn.timeout, time.monotonic() + STOP_KEEPALIVE_LINGER)
            with self.lock:
                conn.busy = False
            self._rearm(fd)
        else:
            self._close(fd, conn, graceful=result is False)

    def _rearm(self, fd):
        with contextlib.suppress(OSError, ValueError):  # closed meanwhile
            self.epoll.modify(fd, _ARMED)

    def _forget(self, fd):
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.epoll.unregister(fd)

    def _close(self, fd, conn, graceful=False):
        with self.lock:
            if self.conns.get(fd) is conn:
                del self.conns[fd]
            self._forget(fd)
        conn.close(graceful=graceful)
        if not self.accepting and self.alive and len(self.conns) < self.worker_connections:
            self.accepting = True
            for listener_fd in self.listeners:
                self._rearm(listener_fd)

    def _close_idle(self):
        now = time.monotonic()
        with self.lock:
            expired = [(fd, conn) for fd, conn in self.conns.items() if not conn.busy and conn.timeout <= now]
            for fd, _conn in expired:
                del self.conns[fd]
                self._forget(fd)
        for _fd, conn in expired:
            conn.close()
