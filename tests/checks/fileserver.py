"""A real local HTTP server (threaded, 127.0.0.1) serving bytes generated for the checks tests.

Routes:

* ``/files/NAME``          the file, HEAD and single ``Range: bytes=a-b`` supported
* ``/nohead/NAME``         HEAD answers 405; GET serves the file (the ranged-GET fallback)
* ``/drip/NAME``           the file at ``drip_rate`` bytes/second (the kill -9 test)
* ``/page``                an HTML page with status 200
* ``/login``               302 to ``/page`` (a login wall)
* ``/missing``             404
* ``/loop/a``, ``/loop/b`` redirect to each other
* ``/slow``                sleeps ``slow_seconds`` before answering
* ``/to?url=U``            302 to ``U``
* ``/gzip/NAME``           the file with a misleading ``text/plain`` content type
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.httpserve import serve_in_thread, stop_serving

PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Log in</body></html>"


def generated(size: int, seed: int = 13) -> bytes:
    """``size`` pseudo-random bytes (the same for the same seed)."""
    return random.Random(seed).randbytes(size)


@dataclass
class Files:
    """What the server serves and how slowly; tests change it while it runs."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    slow_seconds: float = 5.0
    drip_rate: int = 256 * 1024
    requests: list[tuple[str, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    files: Files
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def do_HEAD(self) -> None:
        self._route(body=False)

    def do_GET(self) -> None:
        self._route(body=True)

    def _route(self, body: bool) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        self.files.requests.append((self.command, path))
        if path.startswith("/files/"):
            self._file(path.removeprefix("/files/"), body, "application/octet-stream")
        elif path.startswith("/gzip/"):
            self._file(path.removeprefix("/gzip/"), body, "text/plain")
        elif path.startswith("/nohead/"):
            if not body:
                self._plain(405, b"", body)
            else:
                self._file(path.removeprefix("/nohead/"), body, "application/octet-stream")
        elif path.startswith("/drip/"):
            self._drip(path.removeprefix("/drip/"), body)
        elif path == "/page":
            self._plain(200, PAGE, body, "text/html; charset=utf-8")
        elif path == "/login":
            self._redirect("/page")
        elif path == "/loop/a":
            self._redirect("/loop/b")
        elif path == "/loop/b":
            self._redirect("/loop/a")
        elif path == "/slow":
            self.files.stop.wait(self.files.slow_seconds)
            self._plain(200, b"late", body, "application/octet-stream")
        elif path == "/to":
            self._redirect(parse_qs(parts.query)["url"][0])
        else:
            self._plain(404, b"not here", body, "text/plain")

    def _plain(self, status: int, data: bytes, body: bool, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _file(self, name: str, body: bool, ctype: str) -> None:
        data = self.files.blobs.get(name)
        if data is None:
            self._plain(404, b"no such file", body)
            return
        start, end, status = 0, len(data) - 1, 200
        wanted = self.headers.get("Range", "")
        if wanted.startswith("bytes=") and "-" in wanted:
            a, _, b = wanted.removeprefix("bytes=").partition("-")
            start = int(a or 0)
            end = min(int(b), len(data) - 1) if b else len(data) - 1
            status = 206
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(end - start + 1))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if body:
            self.wfile.write(data[start : end + 1])

    def _drip(self, name: str, body: bool) -> None:
        data = self.files.blobs[name]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not body:
            return
        step = max(1, self.files.drip_rate // 20)
        try:
            for offset in range(0, len(data), step):
                if self.files.stop.is_set():
                    return
                self.wfile.write(data[offset : offset + step])
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return


@dataclass
class Server:
    files: Files
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serving(files: Files | None = None) -> Iterator[Server]:
    """Serve ``files`` on 127.0.0.1 (a free port) until the block ends."""
    files = files or Files()
    handler = type("Handler", (_Handler,), {"files": files})
    httpd = serve_in_thread(handler)
    try:
        yield Server(files, int(httpd.server_address[1]))
    finally:
        files.stop.set()
        stop_serving(httpd)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connections are refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
