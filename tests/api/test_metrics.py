"""``/metrics`` and the access log of a real ``modelref serve`` after a real review:
propose, approve, apply over HTTP, then scrape (issue 12, "Must show")."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from modelref.service.container import Services
from modelref.settings import Settings
from tests.api.servers import Server, start_server
from tests.factories import misc_payload

V2 = "/api/model_references/v2"
Q2 = f"{V2}/pending_queue"
PEOPLE = {
    "alice": ("1001", "requestor"),
    "bob": ("2002", "approver"),
    "carol": ("3003", "approver"),
}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    services = Services.open(Settings(database_url=url))
    keys = {
        who: services.keys.create(uid, f"{who}#{uid}", role) for who, (uid, role) in PEOPLE.items()
    }
    services.db.dispose()
    server = start_server(tmp_path, {"MODELREF_DATABASE_URL": url, "MODELREF_LOG_JSON": "1"})
    try:
        yield server, keys
    finally:
        server.stop()


def wait_for_line(server: Server, needle: str) -> str:
    """The server's output once it holds ``needle`` (access lines are written in batches)."""
    deadline = time.monotonic() + 10
    while needle not in server.output():
        assert time.monotonic() < deadline, f"{needle!r} never logged:\n{server.output()}"
        time.sleep(0.05)
    return server.output()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of a Prometheus text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def test_metrics_after_a_real_approve_and_apply(served: tuple[Server, dict[str, str]]) -> None:
    server, keys = served
    with server.client() as http:
        created = http.post(
            f"{V2}/miscellaneous", json=misc_payload("metered"), headers={"apikey": keys["alice"]}
        )
        assert created.status_code == 202, created.text
        change = created.json()["change_id"]
        second = http.post(
            f"{V2}/miscellaneous", json=misc_payload("waiting"), headers={"apikey": keys["alice"]}
        )
        assert second.status_code == 202
        batch = http.post(
            f"{Q2}/batches",
            json={"batch_title": "metrics", "approved_ids": [change]},
            headers={"apikey": keys["bob"]},
        )
        assert batch.status_code == 200, batch.text
        applied = http.post(
            f"{Q2}/changes/{change}/apply", json={}, headers={"apikey": keys["carol"]}
        )
        assert applied.status_code == 200, applied.text
        for _ in range(3):
            assert http.get(f"{V2}/miscellaneous").status_code == 200
        assert http.get("/no/such/page").status_code == 404
        scraped = http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(scraped.text)

    def value(name: str, **labels: str) -> float:
        return found.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("modelref_queue_changes", status="applied") == 1
    assert value("modelref_queue_changes", status="pending") == 1
    assert value("modelref_queue_changes", status="approved") == 0
    assert value("modelref_apply_duration_seconds_count", outcome="applied") == 1
    assert value("modelref_apply_duration_seconds_sum", outcome="applied") > 0
    apply_route = f"{Q2}/changes/{{change_id}}/apply"
    assert (
        value("modelref_http_requests_total", method="POST", route=apply_route, status="200") == 1
    )
    typed_create = f"{V2}/miscellaneous"  # one typed route per category (spec §5)
    assert (
        value("modelref_http_requests_total", method="POST", route=typed_create, status="202") == 2
    )
    read_route = f"{V2}/{{category}}"  # the fast path's cached category read
    assert value("modelref_http_requests_total", method="GET", route=read_route, status="200") == 3
    assert value("modelref_http_requests_total", method="GET", route="unmatched", status="404") == 1
    latency = value("modelref_http_request_duration_seconds_count", method="GET", route=read_route)
    assert latency == 3
    assert value("modelref_read_cache_lookups_total", result="hit") >= 2
    assert value("modelref_read_cache_lookups_total", result="miss") >= 1
    assert ("modelref_reaper_recovered_reservations_total", ()) in found

    output = wait_for_line(server, '"path": "/metrics"')
    lines = [json.loads(ln) for ln in output.splitlines() if ln.startswith("{")]
    access = [ln for ln in lines if ln["logger"] == "modelref.access"]
    by_path = {(ln["method"], ln["path"]): ln for ln in access}
    approve = by_path[("POST", f"{Q2}/batches")]
    assert approve["status"] == 200 and approve["user_id"] == "2002" and approve["ms"] > 0
    assert by_path[("POST", f"{Q2}/changes/{change}/apply")]["user_id"] == "3003"
    assert by_path[("GET", f"{V2}/miscellaneous")]["user_id"] is None
    assert by_path[("GET", "/no/such/page")]["status"] == 404
    mine = [ln for ln in access if ln["path"] != "/api/heartbeat"]  # start-up polls
    assert len(mine) == 9  # every request of the test, the scrape included


def test_metrics_are_plain_text_even_without_traffic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    server = start_server(tmp_path, {"MODELREF_DATABASE_URL": url})
    try:
        text = httpx.get(f"{server.url}/metrics", timeout=10).text
        output = wait_for_line(server, "GET /metrics")
    finally:
        server.stop()
    found = samples(text)
    for status in ("pending", "approved", "applying", "applied", "rejected"):
        assert found[("modelref_queue_changes", (("status", status),))] == 0
    line = next(ln for ln in output.splitlines() if "GET /metrics" in ln)
    assert " modelref.access: GET /metrics 200 " in line and line.rstrip().endswith("ms")
