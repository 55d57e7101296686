"""A local HTTP receiver for webhook tests: scripted answers, every request recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.httpserve import serve_in_thread, stop_serving


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (then ``default``); records them all.

    A status 3xx answers with ``Location: /elsewhere``; ``delay`` seconds pass before any answer.
    """

    script: list[int] = field(default_factory=list)
    default: int = 200
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def accepted(self) -> list[Received]:
        """Requests answered 2xx (what the receiver really took in)."""
        return [r for r in self.requests if r.headers.get("x-answered", "").startswith("2")]

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver._lock:
                    status = receiver.script.pop(0) if receiver.script else receiver.default
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    headers["x-answered"] = str(status)
                    receiver.requests.append(Received(self.path, headers, body))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                return

        self.server = serve_in_thread(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            stop_serving(self.server)


@contextmanager
def receiving(**kwargs: object) -> Iterator[Receiver]:
    receiver = Receiver(**kwargs).start()  # type: ignore[arg-type]
    try:
        yield receiver
    finally:
        receiver.stop()
