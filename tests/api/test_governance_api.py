"""Governance over HTTP: quorum answers, upstream's shapes kept, reverts, stats, age sort."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from modelref.domain.queue_models import PendingChangeRecord
from tests.api.conftest import Q1, Q2, V2, Api
from tests.factories import misc_payload, seed_catalog
from tests.governance.helpers import IMAGE, image_record

#: Every field of upstream's PendingChangeRecord.
UPSTREAM_FIELDS = set(PendingChangeRecord.model_fields) - {"approvals", "approvals_required"}


def _image_change(api: Api, name: str = "sdxl_x", **fields: Any) -> int:
    seed_catalog(api.services.db, IMAGE, image_record(name))
    r = api.client.put(
        f"{V2}/{IMAGE}/model/{name}", json=image_record(name, **fields), headers=api.h("requestor")
    )
    assert r.status_code == 202, r.text
    return int(r.json()["change_id"])


def _batch(api: Api, who: str, ids: list[int]) -> Any:
    return api.client.post(
        f"{Q2}/batches", json={"batch_title": "review", "approved_ids": ids}, headers=api.h(who)
    )


def test_a_quorum_over_http(api_factory: Callable[..., Api]) -> None:
    api = api_factory(approval_policy="critical-two")
    change = _image_change(api, nsfw=True)

    first = _batch(api, "approver", [change])
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["approved"] == [] and body["batch_id"] is None
    (recorded,) = body["approvals_recorded"]
    assert recorded["status"] == "pending" and recorded["approvals_required"] == 2
    assert [a["approved_by"] for a in recorded["approvals"]] == ["2002"]
    shown = api.client.get(f"{Q2}/changes/{change}", headers=api.h("reader")).json()
    assert set(shown) == UPSTREAM_FIELDS | {"approvals", "approvals_required"}
    assert shown["approvals"] == recorded["approvals"]

    again = _batch(api, "approver", [change])
    assert again.status_code == 409
    assert again.json() == {
        "detail": f"Change {change}: bob#2002 already approved it (1 of 2 approvals); "
        "it needs another approver.",
        "code": "duplicate_approval",
    }
    second = _batch(api, "approver2", [change]).json()
    assert second["approved"][0]["status"] == "approved" and second["batch_id"] == 1
    assert second["approvals_recorded"] == []
    applied = api.client.post(
        f"{Q2}/changes/{change}/apply", json={}, headers=api.h("approver")
    ).json()
    assert applied["record"]["status"] == "applied"
    assert len(applied["record"]["approvals"]) == 2

    # Our own events stay out of upstream's views and in /audit/events.
    current = api.client.get(f"{Q2}/audit/current", headers=api.h("reader")).json()
    assert all(e["action"] != "endorse" for c in current["pending_changes"] for e in c["events"])
    events = api.client.get(
        f"{Q2}/audit/events", params={"change_id": change}, headers=api.h("reader")
    ).json()
    assert [e["action"] for e in events][:3] == ["enqueue", "endorse", "approve"]
    detail = api.client.get(f"{Q2}/audit/batches/1", headers=api.h("reader")).json()
    assert {e["action"] for c in detail["changes"] for e in c["events"]} <= {
        "enqueue",
        "approve",
        "apply",
    }


def test_upstream_policy_answers_exactly_upstreams_shapes(api: Api) -> None:
    change = _image_change(api, nsfw=True)
    body = _batch(api, "approver", [change]).json()
    assert set(body) == {"batch_id", "batch_title", "approved", "rejected"}
    assert set(body["approved"][0]) == UPSTREAM_FIELDS
    shown = api.client.get(f"{Q2}/changes/{change}", headers=api.h("reader")).json()
    assert set(shown) == UPSTREAM_FIELDS
    listed = api.client.get(f"{Q1}/changes", headers=api.h("reader")).json()
    assert set(listed["items"][0]) == UPSTREAM_FIELDS


def test_revert_routes_queue_proposals_by_the_caller(api: Api) -> None:
    api.seed("existing")
    change = api.client.put(
        f"{V2}/miscellaneous/model/existing",
        json=misc_payload("existing", "edited"),
        headers=api.h("requestor"),
    )
    cid = int(change.json()["change_id"])
    batch = api.approve([cid])
    api.apply(cid)
    r = api.client.post(f"{Q2}/batches/{batch}/revert", headers=api.h("requestor"))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["reverted_batch_id"] == batch and body["reverted_change_ids"] == [cid]
    (queued,) = body["queued"]
    assert queued["status"] == "pending" and queued["requested_by"] == "1001"
    assert queued["notes"] == f"revert of change {cid} (batch {batch})"
    assert None not in queued.values()  # nulls omitted, like every enqueue answer
    one = api.client.post(f"{Q1}/changes/{cid}/revert", headers=api.h("approver"))
    assert one.status_code == 202 and one.json()["queued"][0]["requested_by"] == "2002"
    missing = api.client.post(f"{Q2}/batches/999/revert", headers=api.h("requestor"))
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    pending = api.client.post(
        f"{Q2}/changes/{queued['change_id']}/revert", headers=api.h("requestor")
    )
    assert pending.status_code == 400 and pending.json()["code"] == "invalid_transition"


def test_stats_and_age_sort(api: Api) -> None:
    first = api.propose("a")
    second = api.propose("b")
    api.approve([second])
    stats = api.client.get(f"{Q2}/stats", headers=api.h("reader"))
    assert stats.status_code == 200
    data = stats.json()
    assert data["counts_by_status"]["pending"] == 1 and data["pending"] == 1
    assert data["oldest_pending"]["change_id"] == first
    newest = api.client.get(
        f"{Q2}/changes", params={"sort": "-age"}, headers=api.h("reader")
    ).json()
    assert [i["change_id"] for i in newest["items"]] == [second, first]
    bad = api.client.get(f"{Q2}/changes", params={"sort": "size"}, headers=api.h("reader"))
    assert bad.status_code == 422
