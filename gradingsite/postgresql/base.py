"""Django's PostgreSQL backend, with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django asks ``is_usable()`` of a kept connection once per request,
before its first query, and Django's answer is a ``SELECT 1``: a round trip to the server on every
request, however healthy the connection. Here the question goes to the connection's socket first.
A PostgreSQL server that goes away (a restart, a crash, a failover, ``pg_terminate_backend``, a
pooler restarting) says so on the socket of every connection it had: a FATAL message and the end
of the stream, or a reset. An idle connection's socket is otherwise silent, since every answer was
read to its end. So:

- the socket has nothing to read: the connection is usable, no query sent;
- it has something (the server's goodbye, or a rare message a server may send between queries):
  Django's own check, ``SELECT 1``, decides, and a dead connection is closed and replaced before
  the request's first query, as before;
- psycopg already knows the connection is broken: not usable.

After an error in a request Django asks again at its end (``close_if_unusable_or_obsolete``): the
same answer holds there. A server that vanishes without a word (a host cut off the network) is not
seen by either check: its first query fails, as ``SELECT 1`` would have.

Its cursors also take psycopg's per-statement ``prepare`` from an attribute (``Preparing``), which
``gradingsite.sql.fetch`` sets for a statement worth preparing: Django's cursor wrapper, which logs
queries and translates errors, passes psycopg no such argument. psycopg prepares nothing on a
connection whose ``prepare_threshold`` is None (a pooler's: settings), asked or not.
"""

import select

from django.db.backends.postgresql import base


class Preparing:
    """A psycopg cursor that prepares what it executes while ``prepare`` is true (psycopg's
    ``execute(prepare=True)``: a named statement on the server, planned once for all its runs)."""

    prepare: bool | None = None

    def execute(self, query, params=None, *, prepare=None, **kwargs):
        return super().execute(query, params, prepare=self.prepare if prepare is None else prepare, **kwargs)


class ServerBindingCursor(Preparing, base.ServerBindingCursor):
    pass


class Cursor(Preparing, base.Cursor):
    pass


_CURSORS = {base.ServerBindingCursor: ServerBindingCursor, base.Cursor: Cursor}


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["cursor_factory"] = _CURSORS.get(params.get("cursor_factory"), params.get("cursor_factory"))
        return params

    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        if not _readable(connection.fileno()):
            return True
        return super().is_usable()


def _readable(fd: int) -> bool:
    """Whether the socket has bytes (or the end of the stream, or an error) to read, without waiting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))
