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

# Processes: Heroku sets WEB_CONCURRENCY from the dyno's size.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Two threads per process, and connections kept alive between requests (gthread).
#
# Measured with bench/ (1 process on this 2-core machine, wrk at 16 connections, configurations
# taking turns, medians of 3 runs), requests/s of sync -> gthread with 2 threads: results page of
# 1,000 102 -> 120, a student's results 152 -> 205 (with 2,000 results: 113 -> 162), course
# 351 -> 410, POST a result 146 -> 168; but GET / 1,537 -> 1,274 and profile 589 -> 552.
# A request that waits for PostgreSQL leaves a sync process idle; a second thread runs meanwhile.
# Where little is waited for, sync is cheaper: gunicorn's gthread costs ~200 us more CPU per
# request (thread hand-offs, the poller) than the new TCP connection per request that sync pays.
# 3, 4 and 8 threads were never faster than 2 beyond noise, mostly slower (GIL contention).
# Off this machine the waits only grow (Heroku Postgres is across a network, SendGrid is called
# inside the sign-in request), and a sync process waiting on them serves nobody else meanwhile.
#
# Database connections: each thread keeps its own (CONN_MAX_AGE=600, health-checked), so a
# dyno holds up to WEB_CONCURRENCY x threads = 4 by default; Essential-0/1 Postgres allows 20 in
# all (release phase and one-off dynos included).
#
# The worker class is gthread's, with its threads taking requests from one shared poller instead of
# through the main thread (gradingsite/worker.py): the same settings, parsing, logging and shutdown,
# without two thread hand-offs, a pipe write and two poller calls per request. Measured with one
# process, wrk at 16 connections, the two taking turns (medians of 3, CPU ms per request):
# GET / 0.65 -> 0.50, profile 1.19 -> 1.11, course 1.88 -> 1.73, a student's results 2.18 -> 2.01.
worker_class = "gradingsite.worker.SharedPollWorker"
threads = 2

# Heroku's router (Router 2.0) keeps connections to the dyno alive and closes them after 90 s
# idle. Waiting longer than that leaves the closing to the router: gunicorn closing first could
# race a request the router is just sending on that connection (Heroku's own Python app uses 95).
keepalive = 95

# Access and error logs to stdout/stderr, where Heroku's log router reads them.
accesslog = "-"
errorlog = "-"
# gunicorn's logger, writing the same access-log line for a fifth of the CPU: gunicorn's own builds
# a dict of every header and WSGI variable per request to fill in the line's nine values
# (~75 us -> ~13 us per request, measured in process; gradingsite/serverlog.py).
logger_class = "gradingsite.serverlog.AccessLogger"

# Heroku's router gives up on a request after 30 s: stop a stuck worker before that,
# and let workers finish in-flight requests on restart within the same window. With gthread
# the timeout is a heartbeat of the process (a hung process is killed and replaced), not a
# limit on one request: a request still running after 30 s gets the router's 503 but finishes.
timeout = 25
graceful_timeout = 20

# Heroku's router sets X-Forwarded-For/-Proto and is the only way in: trust it.
forwarded_allow_ips = "*"

# gunicorn 27 creates a control socket at ~/.gunicorn/gunicorn.ctl by default; a second
# instance (another dyno process, a test, the deploy rehearsal) takes it over and deletes
# it on exit. Nothing here uses gunicornc, so don't create one.
control_socket_disable = True
