"""Audit views: current (purged changes leave it), batch pages, batch detail, net changes."""

from __future__ import annotations

from sqlalchemy import text

from tests.api.conftest import Q1, Q2, V2, Api
from tests.factories import misc_payload


def test_current_lists_pending_newest_first_and_drops_purged(api: Api) -> None:
    a, b, _c, d = (api.propose(n) for n in "abcd")
    api.approve([b])
    api.client.post(f"{Q2}/purge", json={"model_name": "c"}, headers=api.h("approver"))
    r = api.client.get(f"{Q2}/audit/current", headers=api.h("reader"))
    assert r.status_code == 200
    body = r.json()
    assert body["domain"] == "v2" and body["total_pending"] == 2
    assert [x["change_id"] for x in body["pending_changes"]] == [d, a]
    first = body["pending_changes"][1]
    assert first["status"] == "pending" and first["model_name"] == "a"
    assert first["requested_by"] == "1001" and first["operation"] == "create"
    assert [e["action"] for e in first["events"]] == ["enqueue"]
    legacy = api.client.get(
        f"{Q1}/audit/current", params={"domain_override": "legacy"}, headers=api.h("reader")
    ).json()
    assert legacy["domain"] == "legacy" and legacy["pending_changes"] == []
    bad = api.client.get(
        f"{Q2}/audit/current", params={"domain_override": "x"}, headers=api.h("reader")
    )
    assert bad.status_code == 422


def test_batch_pages_with_cursor(api: Api) -> None:
    batches = []
    for i in range(3):
        cid = api.propose(f"m{i}")
        batches.append(api.approve([cid], title=f"batch {i}"))
        api.apply(cid)
    assert batches == [1, 2, 3]
    h = api.h("reader")
    page = api.client.get(f"{Q2}/audit/batches", params={"limit": 2}, headers=h).json()
    assert [b["batch_id"] for b in page["batches"]] == [3, 2] and page["next_cursor"] == 2
    rest = api.client.get(f"{Q2}/audit/batches", params={"limit": 2, "cursor": 2}, headers=h).json()
    assert [b["batch_id"] for b in rest["batches"]] == [1] and rest["next_cursor"] is None
    one = rest["batches"][0]
    assert one["batch_title"] == "batch 0" and one["approved_by"] == "2002"
    assert (
        one["approved_change_count"],
        one["applied_change_count"],
        one["total_change_count"],
    ) == (1, 1, 1)
    assert isinstance(one["applied_at"], int) and isinstance(one["last_event_id"], int)
    for params in ({"limit": 0}, {"limit": 51}, {"cursor": 0}):
        assert api.client.get(f"{Q2}/audit/batches", params=params, headers=h).status_code == 422


def test_batch_detail_and_split(api: Api) -> None:
    a, b, c = api.propose("a"), api.propose("b"), api.propose("c")
    r = api.client.post(
        f"{Q2}/batches",
        json={
            "batch_title": "mixed",
            "approved_ids": [a, b],
            "rejected_ids": [c],
            "reject_reason": "dup",
        },
        headers=api.h("approver"),
    )
    batch = r.json()["batch_id"]
    split = api.apply(a)
    new_batch = split["batch_split_new_batch_id"]
    h = api.h("reader")
    detail = api.client.get(f"{Q2}/audit/batches/{batch}", headers=h).json()
    assert detail["batch_id"] == batch and detail["batch_title"] == "mixed"
    assert {x["change_id"]: x["status"] for x in detail["changes"]} == {a: "applied", c: "rejected"}
    assert detail["approved_change_count"] == 1 and detail["rejected_change_count"] == 1
    assert detail["applied_change_count"] == 1 and detail["total_change_count"] == 2
    moved = api.client.get(f"{Q2}/audit/batches/{new_batch}", headers=h).json()
    assert [x["change_id"] for x in moved["changes"]] == [b]
    assert moved["changes"][0]["batch_id"] == new_batch and moved["approved_change_count"] == 1
    assert "batch_split" in [e["action"] for e in moved["changes"][0]["events"]]
    listed = api.client.get(f"{Q2}/audit/batches", headers=h).json()
    assert [x["batch_id"] for x in listed["batches"]] == [new_batch, batch]
    missing = api.client.get(f"{Q2}/audit/batches/999", headers=h)
    assert missing.status_code == 404 and missing.json()["detail"] == "Batch not found"
    assert api.client.get(f"{Q2}/audit/batches/999/net_changes", headers=h).status_code == 404


def test_net_changes_cover_models_that_predate_the_log(api: Api) -> None:
    api.seed("old", "written before modelref")  # no audit event exists for this record
    api.seed("doomed")
    upd = api.client.put(
        f"{V2}/miscellaneous/model/old",
        json=misc_payload("old", "improved"),
        headers=api.h("requestor"),
    ).json()["change_id"]
    gone = api.client.delete(f"{V2}/miscellaneous/model/doomed", headers=api.h("requestor")).json()[
        "change_id"
    ]
    new = api.propose("new")
    batch = api.approve([upd, gone, new])
    r = api.client.post(f"{Q2}/apply_batch/{batch}", headers=api.h("approver"))
    assert r.status_code == 200, r.text
    net = api.client.get(f"{Q2}/audit/batches/{batch}/net_changes", headers=api.h("reader")).json()
    by_name = {m["model_name"]: m for m in net["model_changes"]}
    assert by_name["old"]["net_operation"] == "modified"
    assert by_name["old"]["before_state"]["description"] == "written before modelref"
    paths = {d["field_path"]: d for d in by_name["old"]["field_diffs"]}
    assert paths["description"]["old_value"] == "written before modelref"
    assert paths["description"]["new_value"] == "improved"
    assert (
        by_name["doomed"]["net_operation"] == "deleted" and by_name["doomed"]["after_state"] is None
    )
    assert by_name["new"]["net_operation"] == "added" and by_name["new"]["before_state"] is None
    assert (net["models_added"], net["models_modified"], net["models_deleted"]) == (1, 1, 1)
    assert net["total_field_changes"] == sum(len(m["field_diffs"]) for m in net["model_changes"])
    assert net["batch_title"] == "batch"
    assert net["has_critical_changes"] is True  # downloads added/removed are critical (W22)
    assert by_name["old"]["is_critical"] is False


def test_audit_views_need_a_key(api: Api) -> None:
    for path in ("current", "batches", "batches/1", "batches/1/net_changes"):
        assert api.client.get(f"{Q2}/audit/{path}").status_code == 401
        assert api.client.get(f"{Q2}/audit/{path}", headers={"apikey": "x"}).status_code == 401


def test_verify_and_events_endpoints(api: Api) -> None:
    cid = api.propose("m")
    r = api.client.get(f"{Q2}/audit/verify", headers=api.h("reader"))
    assert r.status_code == 200 and r.json()["ok"] is True and r.json()["events"] >= 1
    events = api.client.get(
        f"{Q2}/audit/events", params={"change_id": cid}, headers=api.h("reader")
    ).json()
    assert [e["action"] for e in events] == ["enqueue"]
    assert events[0]["payload"]["after"]["record"]["model_name"] == "m"
    with api.services.db.write() as tx:
        tx.conn.execute(text("UPDATE audit_events SET username='x' WHERE event_id=1"))
    broken = api.client.get(f"{Q2}/audit/verify", headers=api.h("reader")).json()
    assert broken["ok"] is False and broken["broken_event_id"] == 1


def test_batch_detail_lists_only_upstreams_event_actions(api: Api) -> None:
    """Our own events (reserve, forced flags, the enqueued record) stay out of upstream views."""
    cid = api.propose("upstream-shaped")
    batch = api.approve([cid], title="shaped")
    api.apply(cid)  # reserve + apply in our log
    own = api.client.get(
        f"{Q2}/audit/events", params={"change_id": cid}, headers=api.h("reader")
    ).json()
    queue_events = [e["action"] for e in own if e["category"] == "pending_queue"]
    assert queue_events == ["enqueue", "approve", "reserve", "apply"]

    detail = api.client.get(f"{Q2}/audit/batches/{batch}", headers=api.h("reader")).json()
    (change,) = detail["changes"]
    assert change["status"] == "applied"
    events = change["events"]
    assert [e["action"] for e in events] == ["enqueue", "approve", "apply"]
    enqueue, approve, apply = (e["payload"]["after"] for e in events)
    assert enqueue == {
        "change_id": cid,
        "operation": "create",
        "category": "miscellaneous",
        "model": "upstream-shaped",
        "action": "enqueue",
    }
    assert approve == {
        "change_id": cid,
        "batch_id": batch,
        "batch_title": "shaped",
        "action": "approve",
    }
    assert set(apply) == {"change_id", "batch_id", "job_id", "action"}


def test_withdraw_stays_out_of_upstream_views_but_not_out_of_the_log(api: Api) -> None:
    cid = api.propose("changed-my-mind")
    r = api.client.post(f"{Q2}/changes/{cid}/withdraw", headers=api.h("requestor"))
    assert r.status_code == 200
    own = api.client.get(
        f"{Q2}/audit/events", params={"change_id": cid}, headers=api.h("reader")
    ).json()
    assert [e["action"] for e in own] == ["enqueue", "withdraw"]
    current = api.client.get(f"{Q2}/audit/current", headers=api.h("reader")).json()
    assert cid not in [c["change_id"] for c in current["pending_changes"]]


def test_upstream_audit_operation_names() -> None:
    from modelref import AuditOperation

    assert AuditOperation.UPDATE.value == "update"
    assert str(AuditOperation.UPDATE) == "update"
    assert [op.name for op in AuditOperation] == ["CREATE", "UPDATE", "DELETE"]
    assert AuditOperation("delete") is AuditOperation.DELETE
