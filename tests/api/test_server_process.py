"""``modelref serve`` as a real uvicorn process: bootstrap key, local and AI Horde auth flows."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.conftest import Q2, V2
from tests.api.servers import FakeHorde, running
from tests.factories import misc_payload

pytestmark = pytest.mark.slow


def _flow(c: httpx.Client, requestor: dict[str, str], approver: dict[str, str], name: str) -> None:
    """propose -> approve -> apply -> read, over HTTP."""
    r = c.post(f"{V2}/miscellaneous", json=misc_payload(name), headers=requestor)
    assert r.status_code == 202, r.text
    cid = r.json()["change_id"]
    r = c.post(
        f"{Q2}/batches", json={"batch_title": "ship it", "approved_ids": [cid]}, headers=approver
    )
    assert r.status_code == 200, r.text
    r = c.post(f"{Q2}/changes/{cid}/apply", json={"job_id": f"job-{cid}"}, headers=approver)
    assert r.status_code == 200, r.text
    assert r.json()["record"]["status"] == "applied"
    live = c.get(f"{V2}/miscellaneous/model/{name}")
    assert live.status_code == 200 and live.json()["name"] == name


def test_local_auth_bootstrap_key_and_flow(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    env = {"MODELREF_DATABASE_URL": url}
    with running(tmp_path, env, name="first") as server:
        admin = server.bootstrap_key()
        assert admin is not None, server.output()
        assert server.output().count(admin) == 1  # printed once, never logged again
        services = Services.open(Settings(database_url=url))
        alice = services.keys.create("1001", "alice#1001", "requestor")
        services.db.dispose()
        with server.client() as c:
            roles = c.get(f"{V2}/me/roles", headers={"apikey": admin}).json()
            assert roles["roles"] == ["approver", "requestor"] and roles["username"] == "admin#1"
            assert c.get(f"{V2}/me/roles").status_code == 401
            _flow(c, {"apikey": alice}, {"apikey": admin}, "served")
            assert c.get("/openapi.json").status_code == 200
            assert c.get("/docs").status_code == 200
    with running(tmp_path, env, name="second") as again:
        assert again.bootstrap_key() is None  # keys exist: nothing new is created
        with again.client() as c:
            assert c.get(f"{V2}/miscellaneous/model/served").status_code == 200


def test_horde_auth_flow_cache_and_outage(tmp_path: Path) -> None:
    horde = FakeHorde(
        {"k-alice": "alice#1001", "k-bob": "bob#2002", "k-dave": "dave#4004", "k-late": "late#5005"}
    ).start()
    env = {
        "MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'horde.db'}",
        "MODELREF_AUTH": "horde",
        "MODELREF_HORDE_URL": horde.url.rstrip("/"),  # no trailing slash: still joined safely
        "MODELREF_REQUESTOR_IDS": "1001",
        "MODELREF_APPROVER_IDS": " 2002 ,",
    }
    try:
        with running(tmp_path, env) as server:
            assert server.bootstrap_key() is None
            with server.client() as c:
                assert c.get(f"{V2}/me/roles", headers={"apikey": "k-nobody"}).status_code == 401
                bob = c.get(f"{V2}/me/roles", headers={"apikey": "k-bob"}).json()
                assert bob == {
                    "user_id": "2002",
                    "username": "bob#2002",
                    "roles": ["approver", "requestor"],
                    "is_approver": True,
                    "is_requestor": True,
                }
                denied = c.post(
                    f"{V2}/miscellaneous", json=misc_payload("x"), headers={"apikey": "k-dave"}
                )
                assert denied.status_code == 403
                _flow(c, {"apikey": "k-alice"}, {"apikey": "k-bob"}, "via_horde")
                assert horde.calls.count("k-bob") == 1  # TTL cache: one find_user per key
                horde.stop()
                down = c.get(f"{Q2}/changes", headers={"apikey": "k-late"})
                assert down.status_code == 503, down.text
                assert "AI Horde" in down.json()["detail"]
                assert c.get("/api/heartbeat").json()["ai_horde"]["degraded"] is True
                cached = c.get(f"{Q2}/changes", headers={"apikey": "k-alice"})
                assert cached.status_code == 200  # cached identities keep working
    finally:
        horde.stop()


def test_workers_mode_each_worker_serves_fresh_reads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'workers.db'}"
    services = Services.open(Settings(database_url=url))
    alice = services.keys.create("1001", "alice#1001", "requestor")
    bob = services.keys.create("2002", "bob#2002", "approver")
    services.db.dispose()
    with running(tmp_path, {"MODELREF_DATABASE_URL": url}, workers=2) as server:
        assert server.bootstrap_key() is None
        with server.client() as c:
            _flow(c, {"apikey": alice}, {"apikey": bob}, "two_workers")
        # New connections land on either worker: poll until 8 in a row (so both workers, almost
        # surely) serve the apply. A worker that never re-checks would time this out.
        fresh_in_a_row, deadline = 0, time.monotonic() + 30
        while fresh_in_a_row < 8:
            assert time.monotonic() < deadline, "a worker still serves the catalog before the apply"
            r = httpx.get(f"{server.url}{V2}/miscellaneous", headers={"connection": "close"})
            fresh_in_a_row = fresh_in_a_row + 1 if "two_workers" in r.json() else 0
            if not fresh_in_a_row:
                time.sleep(0.05)
