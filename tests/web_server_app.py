"""A small WSGI app for the web server's own tests (``tests/test_web_server.py``), served by gunicorn
with the project's ``gunicorn.conf.py``.

- ``/``: the serving process's id and the client's port (one connection keeps its port);
- ``/echo``: the request's body;
- ``/hold?<dir>``: creates ``<dir>/started``, then answers once ``<dir>/go`` exists (at most 30 s);
- ``/fail``: raises.
"""

import os
import time
from pathlib import Path
from urllib.parse import unquote


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read()
    elif path == "/hold":
        folder = Path(unquote(environ["QUERY_STRING"]))
        (folder / "started").touch()
        deadline = time.monotonic() + 30
        while not (folder / "go").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        body = b"held"
    elif path == "/fail":
        raise RuntimeError("the app failed")
    else:
        body = f"{os.getpid()} {environ['REMOTE_PORT']}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
