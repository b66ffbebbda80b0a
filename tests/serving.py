"""A quiet HTTP server on 127.0.0.1 for a folder, for the tests that need one."""

import contextlib
import functools
import http.server
import threading
from pathlib import Path


@contextlib.contextmanager
def serve(directory: Path):
    """A quiet HTTP server for ``directory`` on 127.0.0.1; yields its base URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
