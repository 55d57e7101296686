"""Two server processes on one database (SQLite file, PostgreSQL schema).

Concurrent approvals and applies through both instances: every change is approved once and
applied exactly once, both instances then serve the new catalog with the same ETag, and an
apply through one instance is served by the other with no restart (polled for, with a generous
timeout: how fast is a figure for benchmarks/, not for a test on a loaded machine).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from modelref.domain.actors import Actor
from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.conftest import Q2, V2
from tests.api.servers import Server, start_servers, stop_servers
from tests.corpus import CORPUS
from tests.factories import misc_payload

pytestmark = pytest.mark.slow

N = 12
#: Generous bound for "eventually": the documented freshness is 0.5 s plus one query.
EVENTUALLY = 30.0


def _prepare(url: str) -> dict[str, str]:
    services = Services.open(Settings(database_url=url))
    services.files.import_path(CORPUS / "v2", Actor("1", "admin#1"))
    keys = {
        "alice": services.keys.create("1001", "alice#1001", "requestor"),
        "bob": services.keys.create("2002", "bob#2002", "approver"),
        "carol": services.keys.create("3003", "carol#3003", "approver"),
    }
    services.db.dispose()
    return keys


def _snapshot(server: Server, path: str) -> tuple[str, set[str]]:
    r = httpx.get(f"{server.url}{path}", timeout=10)
    assert r.status_code == 200
    return r.headers["etag"], set(r.json())


def _two_instances(tmp_path: Path, url: str) -> None:
    keys = _prepare(url)
    env = {"MODELREF_DATABASE_URL": url}
    a, b = start_servers(tmp_path, ("a", env), ("b", env))
    try:
        _exercise(a, b, keys, url)
    finally:
        stop_servers(a, b)


def _exercise(a: Server, b: Server, keys: dict[str, str], url: str) -> None:
    alice = {"apikey": keys["alice"]}
    before_a, names_before = _snapshot(a, f"{V2}/miscellaneous")
    assert _snapshot(b, f"{V2}/miscellaneous")[0] == before_a

    def propose(i: int) -> int:
        server = (a, b)[i % 2]
        r = httpx.post(
            f"{server.url}{V2}/miscellaneous",
            json=misc_payload(f"multi-{i}"),
            headers=alice,
            timeout=30,
        )
        assert r.status_code == 202, r.text
        return int(r.json()["change_id"])

    with ThreadPoolExecutor(8) as pool:
        ids = sorted(pool.map(propose, range(N)))
    assert ids == list(range(ids[0], ids[0] + N))

    def both(method: str, path: str, body: object, id_: int) -> list[int]:
        calls = [(a, keys["bob"]), (b, keys["carol"])]
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(
                    httpx.request,
                    method,
                    f"{s.url}{path.format(id=id_)}",
                    json=body,
                    headers={"apikey": k},
                    timeout=60,
                )
                for s, k in calls
            ]
            return sorted(f.result().status_code for f in futures)

    with ThreadPoolExecutor(6) as pool:
        approvals = list(
            pool.map(
                lambda i: both(
                    "POST", f"{Q2}/batches", {"batch_title": "race", "approved_ids": [i]}, i
                ),
                ids,
            )
        )
    assert all(codes == [200, 400] for codes in approvals), approvals

    with ThreadPoolExecutor(6) as pool:
        applies = list(pool.map(lambda i: both("POST", Q2 + "/changes/{id}/apply", {}, i), ids))
    assert all(codes[0] == 200 and codes[1] in (400, 409) for codes in applies), applies

    services = Services.open(Settings(database_url=url))
    try:
        for cid in ids:
            events = services.audit.for_change(cid)
            assert [e.action for e in events].count("apply") == 1, cid
            assert services.review.get_change(cid).status.value == "applied"
        assert services.audit.verify().ok
        records, _ = services.catalog.records(
            __import__("modelref").MODEL_REFERENCE_CATEGORY.miscellaneous
        )
        assert {f"multi-{i}" for i in range(N)} <= set(records)
    finally:
        services.db.dispose()

    expected = names_before | {f"multi-{i}" for i in range(N)}
    deadline = time.monotonic() + EVENTUALLY
    while True:
        snap_a, snap_b = _snapshot(a, f"{V2}/miscellaneous"), _snapshot(b, f"{V2}/miscellaneous")
        if snap_a == snap_b and snap_a[1] == expected:
            break
        assert time.monotonic() < deadline, f"instances still disagree after {EVENTUALLY} s"
        time.sleep(0.05)
    v1_a = httpx.get(f"{a.url}/api/model_references/v1/miscellaneous").headers["etag"]
    v1_b = httpx.get(f"{b.url}/api/model_references/v1/miscellaneous").headers["etag"]
    assert v1_a == v1_b

    # One more apply through A: B serves it within the bound, with no restart.
    cid = propose(N)
    approve = httpx.post(
        f"{a.url}{Q2}/batches",
        json={"batch_title": "t", "approved_ids": [cid]},
        headers={"apikey": keys["bob"]},
        timeout=30,
    )
    assert approve.status_code == 200
    old_etag = _snapshot(b, f"{V2}/miscellaneous")[0]
    r = httpx.post(
        f"{a.url}{Q2}/changes/{cid}/apply", json={}, headers={"apikey": keys["bob"]}, timeout=30
    )
    assert r.status_code == 200
    deadline = time.monotonic() + EVENTUALLY
    while _snapshot(b, f"{V2}/miscellaneous")[0] == old_etag:
        assert time.monotonic() < deadline, f"apply on A not served by B after {EVENTUALLY} s"
        time.sleep(0.02)
    model = httpx.get(f"{b.url}{V2}/miscellaneous/model/multi-{N}")
    assert model.status_code == 200
    assert (
        model.headers["etag"]
        == httpx.get(f"{a.url}{V2}/miscellaneous/model/multi-{N}").headers["etag"]
    )


def test_two_servers_one_sqlite_file(tmp_path: Path, sqlite_url: str) -> None:
    _two_instances(tmp_path, sqlite_url)


@pytest.mark.postgres
def test_two_servers_one_postgres_database(tmp_path: Path, pg_url: str) -> None:
    _two_instances(tmp_path, pg_url)
