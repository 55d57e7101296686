"""A client that stops sending its body gets 408 in time, and the server goes on serving.

Before the body had a deadline, a request whose Content-Length promised more than it sent
held its connection (and a slot in the body reader) until the client went away.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.api.servers import running

pytestmark = pytest.mark.slow

BODY_TIMEOUT = 1.0


def _stalled_post(port: int, sent: bytes, promised: int) -> tuple[bytes, float]:
    """Send headers promising ``promised`` bytes, then ``sent``, then nothing; read the reply."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        head = (
            "POST /api/model_references/v2/miscellaneous HTTP/1.1\r\n"
            "Host: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {promised}\r\napikey: not-a-key\r\n\r\n"
        )
        sock.sendall(head.encode() + sent)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    return reply, time.monotonic() - started


def test_a_stalled_body_answers_408_within_the_deadline(tmp_path: Path) -> None:
    env = {
        "MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MODELREF_BODY_TIMEOUT": str(BODY_TIMEOUT),
    }
    with running(tmp_path, env) as server:
        reply, took = _stalled_post(server.port, b'{"name": "dripping', promised=5000)
        status_line = reply.split(b"\r\n", 1)[0]
        assert b" 408 " in status_line, reply[:300]
        assert b'"request_timeout"' in reply
        # The deadline, plus slack for a busy machine: not the 30 s socket timeout.
        assert BODY_TIMEOUT <= took < BODY_TIMEOUT + 5.0
        # The stalled client cost nothing lasting: the next requests answer at once.
        assert httpx.get(f"{server.url}/api/heartbeat", timeout=5).status_code == 200
        whole = httpx.post(
            f"{server.url}/api/model_references/v2/miscellaneous",
            json={"name": "complete"},
            headers={"apikey": "not-a-key"},
            timeout=5,
        )
        assert whole.status_code == 401
