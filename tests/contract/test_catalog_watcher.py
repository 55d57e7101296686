"""PostgreSQL: catalog writes NOTIFY at commit; a watcher refreshes another instance's cache.

The second instance's interval check is set to an hour, so only the notification can make it
see the write; the watcher survives its connection being killed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import ApplyFailed
from modelref.service.container import Services
from modelref.service.invalidation import CatalogWatcher
from modelref.settings import Settings
from modelref.store.notify import CHANNEL, conninfo
from tests.catalog.helpers import apply, approve, enqueue, misc_record

pytestmark = pytest.mark.postgres

MISC = Category.miscellaneous


@pytest.fixture
def pair(pg_url: str) -> Iterator[tuple[Services, Services, CatalogWatcher]]:
    a = Services.open(Settings(database_url=pg_url))
    b = Services.open(Settings(database_url=pg_url, cache_interval=3600))
    watcher = CatalogWatcher(b.db.url, b.read_cache, wait=0.2)
    watcher.start()
    assert watcher.listening.wait(10)
    yield a, b, watcher
    watcher.stop()
    a.db.dispose()
    b.db.dispose()


def applied(svc: Services, name: str, description: str = "helper model") -> int:
    cid = enqueue(svc, MISC, name, "create", misc_record(name, description))
    approve(svc, [cid])
    apply(svc, [cid])
    return cid


def seen_by(svc: Services, name: str, within: float = 5.0) -> float:
    """Seconds until ``svc``'s cached read of miscellaneous holds ``name`` (fails after)."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        entry = svc.read_cache.get("v2", MISC)
        if entry is not None and entry.records is not None and name in entry.records:
            return time.monotonic() - started
        time.sleep(0.005)
    pytest.fail(f"{name} not served within {within} s")


def test_another_instance_serves_an_apply_at_once(
    pair: tuple[Services, Services, CatalogWatcher],
) -> None:
    a, b, _watcher = pair
    applied(a, "first")
    seen_by(b, "first")  # B's first read builds its entry
    applied(a, "second")
    assert seen_by(b, "second") < 2.0  # the interval check alone would take an hour


def test_the_watcher_reconnects_when_its_connection_dies(
    pair: tuple[Services, Services, CatalogWatcher], pg_url: str
) -> None:
    a, b, watcher = pair
    applied(a, "before")
    seen_by(b, "before")
    assert watcher.listener.conn is not None
    pid = watcher.listener.conn.info.backend_pid
    with psycopg.connect(conninfo(pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        conn = watcher.listener.conn
        if watcher.listening.is_set() and conn is not None and conn.info.backend_pid != pid:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the watcher did not reconnect")
    applied(a, "after")
    assert seen_by(b, "after") < 2.0


def test_only_committed_catalog_writes_notify(pg_url: str) -> None:
    svc = Services.open(Settings(database_url=pg_url))
    try:
        with psycopg.connect(conninfo(pg_url), autocommit=True) as listener:
            listener.execute(f"LISTEN {CHANNEL}")
            first = enqueue(svc, MISC, "one", "create", misc_record("one"))
            second = enqueue(svc, MISC, "one", "create", misc_record("one"))
            approve(svc, [first, second])
            with pytest.raises(ApplyFailed):
                apply(svc, [first, second], allow_mixed_batch=True)  # second conflicts: rollback
            applied(svc, "two")  # committed
            heard = [n.payload for n in listener.notifies(timeout=2.0, stop_after=1)]
            heard += [n.payload for n in listener.notifies(timeout=0.3)]
        assert heard == ["miscellaneous"]
    finally:
        svc.db.dispose()
