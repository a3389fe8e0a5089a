"""Gunicorn settings, loaded automatically from the working directory.

Heroku sets PORT and WEB_CONCURRENCY; locally both have defaults.
"""

import os
import socket


def _ipv6_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::", 0))
    except OSError:
        return False
    return True


_port = os.environ.get("PORT", "8000")
# "[::]" listens on IPv6 and, on Linux's default dual stack, on IPv4 too (as Heroku's
# own Python app does); without IPv6 fall back to every IPv4 address.
bind = [f"[::]:{_port}" if _ipv6_available() else f"0.0.0.0:{_port}"]

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Access and error logs to stdout/stderr, where Heroku's log router reads them.
accesslog = "-"
errorlog = "-"

# Heroku's router gives up on a request after 30 s: stop a stuck worker before that,
# and let workers finish in-flight requests on restart within the same window.
timeout = 25
graceful_timeout = 20

# Heroku's router sets X-Forwarded-For/-Proto and is the only way in: trust it.
forwarded_allow_ips = "*"

# gunicorn 27 creates a control socket at ~/.gunicorn/gunicorn.ctl by default; a second
# instance (another dyno process, a test, the deploy rehearsal) takes it over and deletes
# it on exit. Nothing here uses gunicornc, so don't create one.
control_socket_disable = True
