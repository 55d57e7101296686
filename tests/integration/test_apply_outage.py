"""An apply cut by a database outage after it reserved its changes: logged, and recovered.

The server pauses at the seam ``after_reserve`` (``MODELREF_PAUSE_AT``); the test cuts the
database there (PostgreSQL: the TCP proxy refuses and drops connections; SQLite: another
process takes the write lock) and lets the apply go on. Its write fails, and so does the
release of its reservations. The client gets a 503; the server log names the job, the changes
and what becomes of them; once the database is back the lease reaper returns the changes to
``approved`` and a second apply writes them, once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.api.servers import Server, start_server
from tests.integration.tcp_proxy import TcpProxy
from tests.integration.test_lease_instances import N, Q, _prepare, _statuses

pytestmark = pytest.mark.slow


def _wait_for(path: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _cut_apply(
    tmp_path: Path, url: str, served_url: str, cut: Callable[[], object], heal: Callable[[], object]
) -> None:
    keys, batch, ids = _prepare(url)
    go_on = tmp_path / "go-on"
    env = {
        "MODELREF_DATABASE_URL": served_url,
        "MODELREF_APPLY_LEASE_SECONDS": "2",
        "MODELREF_DB_TIMEOUT": "1",
        "MODELREF_DB_CONNECT_TIMEOUT": "1",
        "MODELREF_PAUSE_AT": "after_reserve",
        "MODELREF_PAUSE_FILE": str(go_on),
    }
    server: Server = start_server(tmp_path, env, name="cut")
    replies: list[httpx.Response] = []
    try:
        with server.client() as client:
            apply = threading.Thread(
                target=lambda: replies.append(
                    client.post(f"{Q}/apply_batch/{batch}", headers={"apikey": keys["carol"]})
                )
            )
            apply.start()
            _wait_for(go_on.with_name("go-on.reached"), "the apply never reserved its changes")
            cut()
            go_on.touch()
            apply.join(timeout=60)
            assert replies and replies[0].status_code == 503, replies
            heal()
            deadline = time.monotonic() + 60  # the lease is 2 s
            while set(_statuses(client, keys["bob"]).values()) != {"approved"}:
                assert time.monotonic() < deadline, "the reservations were never released"
                time.sleep(0.2)
            again = client.post(f"{Q}/apply_batch/{batch}", headers={"apikey": keys["bob"]})
            assert again.status_code == 200, again.text
            assert sorted(c["change_id"] for c in again.json()["applied"]) == ids
            names = client.get("/api/model_references/v2/miscellaneous").json()
            assert len(names) == N
    finally:
        server.stop()
    log = server.output()
    job_line = next(line for line in log.splitlines() if "could not release changes" in line)
    assert "stay applying until their lease ends (2 s)" in job_line
    assert f"{ids[0]}" in job_line
    assert "apply of changes" in log and "failed" in log


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    yield proxy
    proxy.stop()


@pytest.mark.postgres
def test_an_apply_cut_by_a_postgres_outage_is_logged_and_recovered(
    tmp_path: Path, pg_url: str, proxy: TcpProxy
) -> None:
    parts = urlsplit(pg_url)
    via_proxy = parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl()
    _cut_apply(tmp_path, pg_url, via_proxy, proxy.refuse, proxy.restore)


def test_an_apply_cut_by_a_held_sqlite_lock_is_logged_and_recovered(tmp_path: Path) -> None:
    path = tmp_path / "cut.db"
    url = f"sqlite:///{path}"
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        _cut_apply(
            tmp_path,
            url,
            url,
            lambda: holder.execute("BEGIN IMMEDIATE"),
            lambda: holder.execute("ROLLBACK"),
        )
    finally:
        holder.close()
