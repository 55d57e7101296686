"""Database outages against a real server: every request answers within the timeout.

PostgreSQL sits behind a TCP proxy (tcp_proxy.py) that first refuses connections, then hangs
them (a black-holed network). Throughout, cached catalog reads keep serving the last good
bytes and say so in a header, liveness stays up, readiness and writes answer 503 with a short
generic message (no host, port or database name), and afterwards the acknowledged writes are
exactly the stored ones. On SQLite the "hung database" is another process holding the write
lock: writes answer 503 within the busy timeout while reads go on.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.servers import Server, start_server
from tests.factories import misc_payload, seed_catalog
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

V2 = "/api/model_references/v2"
TIMEOUT = 2.0
#: What a request may take during an outage: the database timeout, the watchdog's grace
#: after it, and a generous allowance for a busy test machine.
BOUND = TIMEOUT + 2.0 + 3.0
GENERIC = "The database is unavailable; try again later."


def _prepare(url: str) -> str:
    services = Services.open(Settings(database_url=url))
    seed_catalog(services.db, "miscellaneous", misc_payload("served-through-outages"))
    key = services.keys.create("1001", "alice#1001", "requestor")
    services.db.dispose()
    return key


def _stored_ids(url: str) -> set[int]:
    services = Services.open(Settings(database_url=url))
    ids = {c.change_id for c in services.review.list_changes().items}
    services.db.dispose()
    return ids


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    reply = call()
    return reply, time.monotonic() - started


class Client:
    def __init__(self, server: Server, key: str) -> None:
        self.http = httpx.Client(base_url=server.url, timeout=60.0)
        self.key = key
        self.acked: set[int] = set()
        self.n = 0

    def propose(self) -> tuple[httpx.Response, float]:
        self.n += 1
        name = f"proposal-{self.n}-{time.monotonic_ns()}"
        reply, took = _timed(
            lambda: self.http.post(
                f"{V2}/miscellaneous", json=misc_payload(name), headers={"apikey": self.key}
            )
        )
        if reply.status_code == 202:
            self.acked.add(int(reply.json()["change_id"]))
        return reply, took

    def read(self) -> tuple[httpx.Response, float]:
        return _timed(lambda: self.http.get(f"{V2}/miscellaneous"))

    def get(self, path: str) -> tuple[httpx.Response, float]:
        return _timed(lambda: self.http.get(path))


def _down(client: Client, what: str) -> None:
    """Every kind of request during an outage: fast, and the right answer."""
    beat, took = client.get("/api/heartbeat")
    assert beat.status_code == 200 and took < 1.0, (what, took)
    read, took = client.read()
    assert read.status_code == 200 and took < 1.0, (what, took)
    assert "served-through-outages" in read.json()
    deadline = time.monotonic() + 30
    while "x-modelref-stale" not in client.read()[0].headers:
        assert time.monotonic() < deadline, f"{what}: cached reads never said they are stale"
        time.sleep(0.1)
    ready, took = client.get("/api/health/ready")
    assert ready.status_code == 503 and took < BOUND, (what, took)
    assert ready.json() == {"detail": GENERIC, "code": "storage_error"}
    with ThreadPoolExecutor(8) as pool:  # more writers at once than a quiet moment has
        for reply, took in pool.map(lambda _i: client.propose(), range(8)):
            assert reply.status_code == 503 and took < BOUND, (what, reply.status_code, took)
            assert reply.json() == {"detail": GENERIC, "code": "storage_error"}


def _up(client: Client) -> None:
    deadline = time.monotonic() + 30
    while client.get("/api/health/ready")[0].status_code != 200:
        assert time.monotonic() < deadline, "the server never became ready again"
        time.sleep(0.2)
    for _ in range(3):
        deadline = time.monotonic() + 30
        while client.propose()[0].status_code != 202:  # pooled connections heal on first use
            assert time.monotonic() < deadline, "writes never worked again"
    read, _took = client.read()
    assert read.status_code == 200


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.stop()


@pytest.mark.postgres
def test_refused_and_hung_postgres(tmp_path: Path, pg_url: str, proxy: TcpProxy) -> None:
    key = _prepare(pg_url)
    parts = urlsplit(pg_url)
    via_proxy = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    env = {
        "MODELREF_DATABASE_URL": via_proxy,
        "MODELREF_DB_TIMEOUT": str(TIMEOUT),
        "MODELREF_DB_CONNECT_TIMEOUT": "1",
        "MODELREF_CACHE_INTERVAL": "0.5",
    }
    server = start_server(tmp_path, env, name="outage")
    client = Client(server, key)
    try:
        for _ in range(3):
            assert client.propose()[0].status_code == 202
        assert client.read()[0].status_code == 200

        proxy.refuse()
        _down(client, "refused")
        proxy.restore()
        _up(client)

        proxy.hang()
        _down(client, "hung")
        proxy.restore()
        _up(client)
    finally:
        client.http.close()
        server.stop()
    log = server.output()
    assert "database unavailable" in log  # the details went to the log, not to clients
    assert client.acked == _stored_ids(pg_url)


def test_a_held_sqlite_write_lock_answers_503_within_the_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    key = _prepare(url)
    env = {"MODELREF_DATABASE_URL": url, "MODELREF_DB_TIMEOUT": str(TIMEOUT)}
    server = start_server(tmp_path, env, name="locked")
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    client = Client(server, key)
    try:
        assert client.propose()[0].status_code == 202
        holder.execute("BEGIN IMMEDIATE")  # another process takes the write lock and sits on it
        reply, took = client.propose()
        assert reply.status_code == 503 and TIMEOUT * 0.8 < took < BOUND, took
        assert reply.json() == {"detail": GENERIC, "code": "storage_error"}
        read, took = client.read()
        assert read.status_code == 200 and took < 1.0
        holder.execute("ROLLBACK")
        assert client.propose()[0].status_code == 202
    finally:
        client.http.close()
        holder.close()
        server.stop()
    assert client.acked == _stored_ids(url)
