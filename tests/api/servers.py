"""Real ``modelref serve`` processes and a fake AI Horde, for tests about the server itself.

Every process is started by the test that uses it, bound to 127.0.0.1 and stopped by PID.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from tests.httpserve import serve_in_thread, stop_serving

#: Settings that would leak from the developer's shell are dropped by tests/conftest.py.
_SERVE = [sys.executable, "-m", "modelref.cli.main", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One running ``modelref serve`` process."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def bootstrap_key(self) -> str | None:
        match = re.search(r"MODELREF_BOOTSTRAP_KEY=(\S+)", self.output())
        return match.group(1) if match else None

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_server(
    tmp_path: Path, env: dict[str, str], *, workers: int = 1, name: str = "server"
) -> Server:
    """Start ``modelref serve`` on a free port and wait until it answers."""
    port = free_port()
    log_path = tmp_path / f"{name}-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    full_env.update(env)
    args = [*_SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(args, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(proc, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.output()}")
        try:
            if httpx.get(f"{server.url}/api/heartbeat", timeout=1.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not start:\n{server.output()}")


def start_servers(tmp_path: Path, *envs: tuple[str, dict[str, str]]) -> list[Server]:
    """Start one ``modelref serve`` per ``(name, env)`` at the same time (each start is mostly
    imports); all of them answer on return, or none is left running."""
    with ThreadPoolExecutor(len(envs)) as pool:
        starting = [pool.submit(start_server, tmp_path, env, name=name) for name, env in envs]
    started = [f.result() for f in starting if f.exception() is None]
    for future in starting:
        error = future.exception()
        if error is not None:
            stop_servers(*started)
            raise error
    return started


def stop_servers(*servers: Server) -> None:
    """Stop every server (SIGTERM to all, then wait for each)."""
    for server in servers:
        if server.proc.poll() is None:
            server.proc.terminate()
    for server in servers:
        server.stop()


@contextmanager
def running(tmp_path: Path, env: dict[str, str], **kwargs: object) -> Iterator[Server]:
    server = start_server(tmp_path, env, **kwargs)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop()


@dataclass
class FakeHorde:
    """A tiny AI Horde: ``GET /api/v2/find_user`` answers the username mapped to the key."""

    users: dict[str, str]
    calls: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def start(self) -> FakeHorde:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                key = self.headers.get("apikey", "")
                fake.calls.append(key)
                username = fake.users.get(key)
                if self.path.rstrip("/") != "/api/v2/find_user" or username is None:
                    self._reply(404, {"message": "not found"})
                    return
                self._reply(200, {"username": username, "id": int(username.rsplit("#", 1)[1])})

            def _reply(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.server = serve_in_thread(Handler)
        return self

    def stop(self) -> None:
        if self.server is not None:
            stop_serving(self.server)
