"""Two real instances: one dies holding reservations (kill -9), the other recovers them.

Instance A is started with the crash seam ``after_reserve``: its apply reserves the whole batch
and then the process SIGKILLs itself. Instance B, serving all along, must revert those
reservations once their lease (3 s here) runs out, through its own reaper, without a restart;
then B applies the batch. A restarted A must not disturb anything. Both engines.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.servers import start_server
from tests.factories import misc_payload

pytestmark = pytest.mark.slow

Q = "/api/model_references/v2/pending_queue"
LEASE = "3"
N = 40


def _prepare(url: str) -> tuple[dict[str, str], int, list[int]]:
    services = Services.open(Settings(database_url=url))
    keys = {
        "bob": services.keys.create("2002", "bob#2002", "approver"),
        "carol": services.keys.create("3003", "carol#3003", "approver"),
    }
    ids = [
        services.review.enqueue_change(
            category="miscellaneous",
            model_name=f"leased-{i}",
            operation="create",
            payload=misc_payload(f"leased-{i}"),
            requestor_id="1001",
            requestor_username="alice#1001",
        ).change_id
        for i in range(N)
    ]
    batch = services.review.process_batch(
        approver_id="2002",
        approver_username="bob#2002",
        batch_title="leased",
        approved_ids=ids,
        rejected_ids=None,
    ).batch_id
    assert batch is not None
    services.db.dispose()
    return keys, batch, ids


def _statuses(client: httpx.Client, key: str) -> dict[int, str]:
    page = client.get(f"{Q}/changes", params={"limit": 500}, headers={"apikey": key}).json()
    return {c["change_id"]: c["status"] for c in page["items"]}


def _two_instances(tmp_path: Path, url: str) -> None:
    keys, batch, ids = _prepare(url)
    env = {"MODELREF_DATABASE_URL": url, "MODELREF_APPLY_LEASE_SECONDS": LEASE}
    with ThreadPoolExecutor(2) as pool:  # both start at once (each waits until it answers)
        starting_b = pool.submit(start_server, tmp_path, env, name="b")
        crashing = {**env, "MODELREF_CRASH_AT": "after_reserve"}
        starting_a = pool.submit(start_server, tmp_path, crashing, name="a")
        b, a = starting_b.result(), starting_a.result()
    try:
        with pytest.raises(httpx.TransportError), a.client() as dying:  # A dies mid-request
            dying.post(f"{Q}/apply_batch/{batch}", headers={"apikey": keys["carol"]})
        assert a.proc.wait(timeout=30) != 0
        with b.client() as client:
            assert set(_statuses(client, keys["bob"]).values()) == {"applying"}
            refused = client.post(f"{Q}/apply_batch/{batch}", headers={"apikey": keys["bob"]})
            assert refused.status_code == 409, refused.text  # held by A's job, named
            assert "job_id=" in refused.json()["detail"]

            deadline = time.monotonic() + 60  # generous: the lease is 3 s
            while set(_statuses(client, keys["bob"]).values()) != {"approved"}:
                assert time.monotonic() < deadline, "B never recovered A's reservations"
                time.sleep(0.2)
            applied = client.post(f"{Q}/apply_batch/{batch}", headers={"apikey": keys["bob"]})
            assert applied.status_code == 200, applied.text
            assert sorted(c["change_id"] for c in applied.json()["applied"]) == ids

        a2 = start_server(tmp_path, env, name="a2")  # A comes back: nothing to undo
        try:
            with a2.client() as client:
                assert set(_statuses(client, keys["bob"]).values()) == {"applied"}
                names = set(client.get("/api/model_references/v2/miscellaneous").json())
                assert names == {f"leased-{i}" for i in range(N)}
        finally:
            a2.stop()
    finally:
        a.stop()
        b.stop()
    assert "reverting to approved" in b.output()


def test_a_live_instance_recovers_a_dead_instances_reservations_on_sqlite(
    tmp_path: Path,
) -> None:
    _two_instances(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.postgres
def test_a_live_instance_recovers_a_dead_instances_reservations_on_postgres(
    tmp_path: Path, pg_url: str
) -> None:
    _two_instances(tmp_path, pg_url)
