"""Pending-queue endpoints under both prefixes: listing, review, apply, purge, withdraw, diffs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Q1, Q2, V2, Api
from tests.factories import misc_payload


@pytest.mark.parametrize("q", [Q2, Q1])
def test_list_filters_and_paging(api: Api, q: str) -> None:
    ids = [api.propose(f"model-{i}") for i in range(5)]
    api.approve(ids[:2])
    h = api.h("reader")
    page = api.client.get(f"{q}/changes", params={"limit": 2, "offset": 1}, headers=h).json()
    assert page["total"] == 5 and page["offset"] == 1 and page["limit"] == 2
    assert [c["change_id"] for c in page["items"]] == ids[1:3]
    approved = api.client.get(f"{q}/changes", params={"statuses": "approved"}, headers=h).json()
    assert [c["change_id"] for c in approved["items"]] == ids[:2]
    both = api.client.get(
        f"{q}/changes", params=[("statuses", "approved"), ("statuses", "pending")], headers=h
    ).json()
    assert both["total"] == 5
    by_name = api.client.get(f"{q}/changes", params={"model_name": " MODEL-3 "}, headers=h).json()
    assert [c["model_name"] for c in by_name["items"]] == ["model-3"]
    by_user = api.client.get(f"{q}/changes", params={"requested_by": " 1001 "}, headers=h).json()
    assert by_user["total"] == 5
    assert api.client.get(f"{q}/changes", params={"batch_id": 1}, headers=h).json()["total"] == 2
    mine = api.client.get(f"{q}/my_changes", headers=api.h("requestor")).json()
    assert mine["total"] == 5
    assert api.client.get(f"{q}/my_changes", headers=api.h("approver")).json()["total"] == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"offset": -1},
        {"statuses": "APPROVED"},
        {"categories": "nope"},
        {"batch_id": 0},
        {"model_name": ""},
        {"model_name": "x" * 201},
    ],
)
def test_list_bounds_are_422(api: Api, params: dict[str, int | str]) -> None:
    r = api.client.get(f"{Q2}/changes", params=params, headers={"apikey": "unknown"})
    assert r.status_code == 422  # validation comes before the key lookup
    assert r.json()["code"] == "request_validation"


def test_get_change_and_not_found(api: Api) -> None:
    cid = api.propose("m")
    h = api.h("reader")
    assert api.client.get(f"{Q2}/changes/{cid}", headers=h).json()["model_name"] == "m"
    r = api.client.get(f"{Q1}/changes/999", headers=h)
    assert r.status_code == 404 and r.json() == {"detail": "Change not found", "code": "not_found"}
    assert api.client.get(f"{Q2}/changes/0", headers=h).status_code == 404
    assert api.client.get(f"{Q2}/changes/99999999999999999999", headers=h).status_code == 422


def test_batch_rules(api: Api) -> None:
    a, b = api.propose("a"), api.propose("b")
    h = api.h("approver")
    post = api.client.post

    def batch(body: dict[str, object]) -> tuple[int, Any]:
        r = post(f"{Q2}/batches", json=body, headers=h)
        return r.status_code, r.json()

    status, body = batch({"batch_title": "t", "approved_ids": [0, -3]})
    assert status == 400 and "at least one" in str(body["detail"])
    status, body = batch({"batch_title": "t", "rejected_ids": [a]})
    assert status == 400 and "reject_reason" in str(body["detail"])
    status, _ = batch({"batch_title": "  ", "approved_ids": [a]})
    assert status == 422
    status, body = batch(
        {"batch_title": "t", "approved_ids": [a], "rejected_ids": [a], "reject_reason": "r"}
    )
    assert status == 422 and "both approved and rejected" in str(body)
    status, body = batch({"batch_title": "t", "approved_ids": [999]})
    assert status == 400 and body["detail"] == "Change 999 does not exist."
    status, body = batch(
        {
            "batch_title": " T ",
            "approved_ids": [a, a, 0],
            "rejected_ids": [b],
            "reject_reason": " no ",
        }
    )
    assert status == 200
    assert body["batch_id"] == 1 and body["batch_title"] == "T"
    assert [c["change_id"] for c in body["approved"]] == [a]
    assert body["rejected"][0]["reject_reason"] == "no"
    status, body = batch({"batch_title": "t", "approved_ids": [a]})
    assert status == 400 and body["detail"] == f"Change {a} is not pending (status=approved)."


def test_two_person_rule(api: Api) -> None:
    cid = api.propose("mine", who="approver")
    r = api.client.post(
        f"{Q2}/batches", json={"batch_title": "t", "approved_ids": [cid]}, headers=api.h("approver")
    )
    assert r.status_code == 403 and "two-person rule" in r.json()["detail"]
    api.approve([cid], who="approver2")
    r = api.client.post(f"{Q2}/changes/{cid}/apply", json={}, headers=api.h("approver"))
    assert r.status_code == 403 and "two-person rule" in r.json()["detail"]
    assert api.apply(cid, who="approver2")["record"]["status"] == "applied"


def test_single_apply(api: Api) -> None:
    a, b = api.propose("a"), api.propose("b")
    batch = api.approve([a, b])
    url = f"{Q2}/changes/{a}/apply"
    assert api.client.post(url, headers=api.h("approver")).status_code == 422  # body required
    r = api.client.post(url, json={"job_id": "  job-1 "}, headers=api.h("approver"))
    assert r.status_code == 200
    body = r.json()
    assert body["record"]["status"] == "applied" and body["record"]["applied_job_id"] == "job-1"
    assert body["batch_split_occurred"] is True
    assert body["batch_split_original_batch_id"] == batch
    assert body["batch_split_reassigned_count"] == 1
    assert "notes" not in body["record"]  # nulls omitted
    again = api.client.post(url, json={"job_id": "job-1"}, headers=api.h("approver"))
    assert again.status_code == 200  # same job id: idempotent (W8)
    other = api.client.post(url, json={"job_id": "job-2"}, headers=api.h("approver"))
    assert other.status_code == 400 and "status=applied" in other.json()["detail"]
    missing = api.client.post(f"{Q2}/changes/404/apply", json={}, headers=api.h("approver"))
    assert missing.status_code == 404 and missing.json()["detail"] == "Change 404 not found."
    pending = api.propose("c")
    r = api.client.post(f"{Q2}/changes/{pending}/apply", json={}, headers=api.h("approver"))
    assert r.status_code == 400 and "is not approved (status=pending)" in r.json()["detail"]


def test_bulk_apply_and_cohesion(api: Api) -> None:
    a, b = api.propose("a"), api.propose("b")
    api.approve([a])
    h = api.h("approver")
    r = api.client.post(f"{Q2}/apply", json={"change_ids": [a, b]}, headers=h)
    assert r.status_code == 400
    assert r.json()["detail"] == "Cannot apply changes that have not been approved in a batch"
    assert api.client.post(f"{Q2}/apply", json={"change_ids": []}, headers=h).status_code == 422
    assert api.client.post(f"{Q2}/apply", json={"change_ids": [0]}, headers=h).status_code == 422
    r = api.client.post(f"{Q2}/apply", json={"change_ids": [a, a], "job_id": "j"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [c["change_id"] for c in body["applied"]] == [a]
    assert body["batch_split_occurred"] is False and "failed_change_id" not in body


def test_bulk_apply_failure_body_names_the_change(api: Api) -> None:
    api.seed("live")
    stale = api.client.put(
        f"{V2}/miscellaneous/model/live",
        json=misc_payload("live", "v2"),
        headers=api.h("requestor"),
    ).json()["change_id"]
    fresh = api.propose("fresh")
    api.approve([fresh, stale])
    api.seed("live", "moved meanwhile")  # the live record changes after the proposal
    r = api.client.post(
        f"{Q2}/apply", json={"change_ids": [fresh, stale]}, headers=api.h("approver")
    )
    assert r.status_code == 409
    body = r.json()
    assert body["applied"] == [] and body["failed_change_id"] == stale
    assert body["failed_error_type"] == "PendingChangeConflictError"
    assert "stale" in body["failed_error"]
    assert api.client.get(f"{V2}/miscellaneous/model/fresh").status_code == 404  # all or nothing
    diff = api.client.get(f"{Q2}/changes/{stale}/diff", headers=api.h("reader")).json()
    assert diff["is_stale"] is True
    forced = api.client.post(
        f"{Q2}/apply", json={"change_ids": [fresh, stale], "force": True}, headers=api.h("approver")
    )
    assert forced.status_code == 200 and len(forced.json()["applied"]) == 2


def test_apply_batch_keeps_its_batch_id(api: Api) -> None:
    ids = [api.propose(f"m{i}") for i in range(3)]
    batch = api.approve(ids)
    h = api.h("approver")
    assert api.client.post(f"{Q2}/apply_batch/0", headers=h).status_code == 422
    r = api.client.post(f"{Q2}/apply_batch/77", headers=h)
    assert r.status_code == 404 and r.json()["detail"] == "No changes found for batch 77"
    r = api.client.post(f"{Q2}/apply_batch/{batch}", params={"job_id": "whole"}, headers=h)
    assert r.status_code == 200
    body = r.json()
    assert [c["change_id"] for c in body["applied"]] == ids
    assert {c["batch_id"] for c in body["applied"]} == {batch}
    assert body["batch_split_occurred"] is False
    again = api.client.post(f"{Q1}/apply_batch/{batch}", headers=h)  # another job: nothing left
    assert again.status_code == 400, again.text
    assert again.json()["applied"] == [] and again.json()["failed_change_id"] == ids[0]
    assert again.json()["detail"] == f"Change {ids[0]} is not approved (status=applied)."
    retry = api.client.post(f"{Q2}/apply_batch/{batch}", params={"job_id": "whole"}, headers=h)
    assert retry.status_code == 200 and [c["change_id"] for c in retry.json()["applied"]] == ids


def test_withdraw(api: Api) -> None:
    cid = api.propose("mine")
    r = api.client.post(f"{Q2}/changes/{cid}/withdraw", headers=api.h("approver"))
    assert r.status_code == 403
    r = api.client.post(f"{Q2}/changes/{cid}/withdraw", headers=api.h("requestor"))
    assert r.status_code == 200
    assert r.json()["status"] == "rejected" and r.json()["reject_reason"] == "withdrawn"
    again = api.client.post(f"{Q2}/changes/{cid}/withdraw", headers=api.h("requestor"))
    assert again.status_code == 400


def test_purge(api: Api) -> None:
    a, b, c = api.propose("a"), api.propose("b"), api.propose("c")
    api.approve([b], who="approver2")
    api.apply(b)
    h = api.h("approver")
    assert api.client.post(f"{Q2}/purge", json={}, headers=h).status_code == 422
    dry = api.client.post(
        f"{Q2}/purge", json={"purge_all": True, "dry_run": True}, headers=h
    ).json()
    assert dry == {"removed_count": 2, "removed_change_ids": [a, c], "dry_run": True}
    assert api.services.review.list_changes().total == 3
    done = api.client.post(
        f"{Q2}/purge", json={"statuses": ["pending", "pending"], "model_name": " A "}, headers=h
    ).json()
    assert done == {"removed_count": 1, "removed_change_ids": [a], "dry_run": False}


def test_diffs(api: Api) -> None:
    api.seed("live")
    upd = api.client.put(
        f"{V2}/miscellaneous/model/live",
        json=misc_payload("live", "changed"),
        headers=api.h("requestor"),
    ).json()["change_id"]
    other = api.client.put(
        f"{V2}/miscellaneous/model/live",
        json=misc_payload("live", "other"),
        headers=api.h("requestor"),
    ).json()["change_id"]
    dele = api.client.delete(f"{V2}/miscellaneous/model/live", headers=api.h("requestor")).json()[
        "change_id"
    ]
    h = api.h("reader")
    diff = api.client.get(f"{Q2}/changes/{upd}/diff", headers=h).json()
    assert diff["net_operation"] == "modified" and "description" in diff["fields_modified"]
    assert diff["is_stale"] is False and sorted(diff["conflicts"]) == [other, dele]
    page = api.client.get(
        f"{Q1}/diffs",
        params=[("change_ids", upd), ("change_ids", 999), ("change_ids", dele)],
        headers=h,
    ).json()
    assert page["total"] == 3 and [d["change_id"] for d in page["diffs"]] == [upd, dele]
    assert page["errors"] == [
        {"change_id": 999, "error": "Change not found", "error_type": "NotFound"}
    ]
    deleted = page["diffs"][1]
    assert (
        deleted["net_operation"] == "deleted" and deleted["fields_removed"]
    )  # delete lists fields
    assert api.client.get(f"{Q2}/diffs", headers=h).status_code == 422
    too_many: list[tuple[str, str | int | float | bool | None]] = [
        ("change_ids", i) for i in range(1, 102)
    ]
    assert api.client.get(f"{Q2}/diffs", params=too_many, headers=h).status_code == 422
    assert api.client.get(f"{Q2}/changes/999/diff", headers=h).status_code == 404


def test_single_apply_of_a_stale_change_is_409_with_the_plain_envelope(api: Api) -> None:
    api.seed("live")
    cid = api.client.put(
        f"{V2}/miscellaneous/model/live",
        json=misc_payload("live", "v2"),
        headers=api.h("requestor"),
    ).json()["change_id"]
    api.approve([cid])
    api.seed("live", "moved meanwhile")
    r = api.client.post(f"{Q2}/changes/{cid}/apply", json={}, headers=api.h("approver"))
    assert r.status_code == 409
    assert r.json()["code"] == "stale_change" and "stale" in r.json()["detail"]
    assert api.services.review.get_change(cid).status.value == "approved"  # reservation released
    forced = api.client.post(
        f"{Q2}/changes/{cid}/apply", json={"force": True}, headers=api.h("approver")
    )
    assert forced.status_code == 200


def test_bulk_apply_reservation_failure_uses_the_bulk_body(api: Api) -> None:
    a, b = api.propose("a"), api.propose("b")
    api.approve([a, b])
    h = api.h("approver")
    held = api.client.post(f"{Q2}/changes/{b}/apply", json={"job_id": "other"}, headers=h)
    assert held.status_code == 200
    mixed = api.propose("c")
    r = api.client.post(
        f"{Q2}/apply",
        json={"change_ids": [a, mixed], "allow_mixed_batch": True},
        headers=h,
    )
    assert r.status_code == 400
    body = r.json()
    assert body["applied"] == [] and body["failed_change_id"] == mixed
    assert "is not approved (status=pending)" in body["failed_error"]
    assert api.client.get(f"{V2}/miscellaneous/model/a").status_code == 404  # nothing applied
