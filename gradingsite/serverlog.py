"""gunicorn's logger, with its default access log written directly.

gunicorn fills its access-log format from a dict of every request header, response header and
WSGI variable, each escaped, built for every request: most of the cost of an access-log line,
though the default format (Apache's combined log format) uses nine values. With that format this
logger writes the same line from those nine; any other ``access_log_format`` is gunicorn's own.
``gunicorn.conf.py`` names it (``logger_class``). It imports nothing of the app: gunicorn's master
loads it before the app.
"""

from gunicorn.config import AccessLogFormat
from gunicorn.glogging import Logger


def _escaped(value) -> str:
    # As gunicorn's SafeAtoms: a double quote in a value is written \".
    return value.replace('"', '\\"') if isinstance(value, str) else value


class AccessLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != AccessLogFormat.default:
            return super().access(resp, req, environ, request_time)
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        request_line = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}"
        # '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"', value by value as gunicorn.
        line = '{} - {} {} "{}" {} {} "{}" "{}"'.format(
            _escaped(environ.get("REMOTE_ADDR", "-")),
            _escaped(self._get_user(environ) or "-"),
            self.now(),
            _escaped(request_line),
            _escaped(status),
            (sent is not None and str(sent)) or "-",
            _escaped(environ.get("HTTP_REFERER", "-")),
            _escaped(environ.get("HTTP_USER_AGENT", "-")),
        )
        try:
            # A message without arguments is written as it is (no %-formatting of the line).
            self.access_log.info(line)
        except Exception:
            self.exception("Error writing the access log")
