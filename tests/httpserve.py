"""Local HTTP servers for tests: a standard-library server answering from a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def serve_in_thread(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` on 127.0.0.1 (a free port: ``server.server_address[1]``), until
    :func:`stop_serving`."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # shutdown() waits for the loop's next poll: 0.5 s by default, paid by every test.
    loop = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    loop.start()
    return server


def stop_serving(server: ThreadingHTTPServer) -> None:
    """Stop the loop (returns once it has) and close the listening socket."""
    server.shutdown()
    server.server_close()
