"""Approval quorums on both engines: critical-two, the requester, duplicates, upstream's mode."""

from __future__ import annotations

import pytest

from modelref.domain import errors
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus
from tests.factories import ManualClock
from tests.governance.helpers import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    IMAGE,
    approve,
    approvers,
    image_record,
    log_state,
    open_services,
    propose,
    reject,
    seed_image,
)

S = PendingChangeStatus
#: Every field upstream's PendingChangeRecord has (the seed's models, field for field).
UPSTREAM_FIELDS = set(PendingChangeRecord.model_fields) - {"approvals", "approvals_required"}


def test_an_nsfw_change_needs_two_distinct_approvers_never_the_requester(db_url: str) -> None:
    clock = ManualClock()
    svc = open_services(db_url, clock, approval_policy="critical-two", two_person_rule=False)
    seed_image(svc, "sdxl_x")
    change = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id

    clock.advance(10)
    first = approve(svc, [change], BOB)
    assert first.approved == [] and first.batch_id is None  # no batch opens below quorum
    assert first.approvals_recorded is not None
    (recorded,) = first.approvals_recorded
    assert recorded.status is S.PENDING and recorded.approvals_required == 2
    assert approvers(recorded) == [(BOB.user_id, False)]
    stored = svc.review.get_change(change)
    assert stored == recorded and stored.updated_at == clock.now
    assert stored.approvals is not None and stored.approvals[0].approved_at == clock.now

    before = log_state(svc)
    with pytest.raises(errors.DuplicateApproval, match=f"Change {change}: bob#2002 already"):
        approve(svc, [change], BOB)
    # Two-person rule off: the requester may act, but never counts toward a quorum.
    with pytest.raises(errors.PermissionDenied, match="requester's approval never counts"):
        approve(svc, [change], ALICE)
    assert log_state(svc) == before, "a refused approval wrote something"

    second = approve(svc, [change], CAROL, title="nsfw fix")
    (moved,) = second.approved
    assert second.batch_id is not None and moved.batch_id == second.batch_id
    assert moved.status is S.APPROVED and moved.approved_by == CAROL.user_id
    assert approvers(moved) == [(BOB.user_id, False), (CAROL.user_id, False)]
    assert second.approvals_recorded == []
    assert svc.review.get_change(change) == moved
    # The log replays to the store, approvals included; the chain holds.
    assert svc.audit.replay()[change] == moved
    assert svc.audit.verify().ok


def test_the_two_person_rule_still_refuses_the_requester_first(db_url: str) -> None:
    svc = open_services(db_url, approval_policy="critical-two")
    seed_image(svc, "sdxl_x")
    change = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id
    with pytest.raises(errors.PermissionDenied, match="two-person rule"):
        approve(svc, [change], ALICE)


def test_non_critical_changes_need_one_approver_and_deletes_two(db_url: str) -> None:
    svc = open_services(db_url, approval_policy="critical-two")
    seed_image(svc, "a")
    seed_image(svc, "b")
    described = propose(svc, "a", payload=image_record("a", description="better words"))
    rehosted = image_record("b")
    rehosted["config"]["download"][0]["file_url"] = "https://example.invalid/mirror/b.safetensors"
    moved_url = propose(svc, "b", payload=rehosted)
    slow = image_record("a")
    slow["config"]["download"][0]["known_slow_download"] = True
    flagged = propose(svc, "a", payload=slow)
    deleted = propose(svc, "b", operation="delete")

    result = approve(svc, [described.change_id, moved_url.change_id, flagged.change_id], BOB)
    assert [r.change_id for r in result.approved] == [described.change_id, flagged.change_id]
    assert [r.approvals_required for r in result.approved] == [1, 1]
    assert result.approvals_recorded is not None
    assert [(r.change_id, r.approvals_required) for r in result.approvals_recorded] == [
        (moved_url.change_id, 2)
    ]
    pending = approve(svc, [deleted.change_id], BOB).approvals_recorded
    assert pending is not None and pending[0].approvals_required == 2
    done = approve(svc, [moved_url.change_id, deleted.change_id], DAVE)
    assert [r.status for r in done.approved] == [S.APPROVED, S.APPROVED]


def test_a_rejection_by_any_approver_rejects_a_partly_approved_change(db_url: str) -> None:
    svc = open_services(db_url, approval_policy="critical-two")
    seed_image(svc, "sdxl_x")
    change = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id
    approve(svc, [change], BOB)
    (rejected,) = reject(svc, [change], CAROL, reason="not nsfw").rejected
    assert rejected.status is S.REJECTED and rejected.reject_reason == "not nsfw"
    assert approvers(rejected) == [(BOB.user_id, False)]  # history keeps the approval
    with pytest.raises(errors.InvalidTransition, match="is not pending"):
        approve(svc, [change], DAVE)
    assert svc.audit.replay()[change] == svc.review.get_change(change)


def test_the_default_policy_is_upstreams_single_approval_with_no_new_fields(db_url: str) -> None:
    svc = open_services(db_url)
    assert svc.review.policy.upstream
    seed_image(svc, "sdxl_x")
    change = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id
    result = approve(svc, [change], BOB)
    (moved,) = result.approved
    assert moved.status is S.APPROVED and moved.approvals is None
    assert result.approvals_recorded is None
    # Upstream's record and batch shapes, key for key: nothing added, nothing missing.
    assert set(moved.model_dump(mode="json")) == UPSTREAM_FIELDS
    assert set(result.model_dump(mode="json")) == {
        "batch_id",
        "batch_title",
        "approved",
        "rejected",
    }
    with pytest.raises(errors.InvalidTransition, match=rf"Change {change} is not pending"):
        approve(svc, [change], CAROL)  # an approved change takes no second approval
    enqueued = [e for e in svc.audit.events() if e.action == "enqueue"]
    assert "approvals" not in enqueued[0].payload["after"]["record"]


def test_quorum_records_keep_every_upstream_field_and_add_two(db_url: str) -> None:
    svc = open_services(db_url, approval_policy="critical-two")
    seed_image(svc, "sdxl_x")
    change = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id
    (recorded,) = approve(svc, [change], BOB).approvals_recorded or []
    keys = set(recorded.model_dump(mode="json"))
    assert keys == UPSTREAM_FIELDS | {"approvals", "approvals_required"}


def test_changes_approved_before_a_quorum_policy_keep_their_approval(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/switch.db"
    before = open_services(url)
    seed_image(before, "sdxl_x")
    change = propose(before, "sdxl_x", payload=image_record("sdxl_x", nsfw=True)).change_id
    approve(before, [change], BOB)
    before.db.dispose()
    after = open_services(url, approval_policy="critical-two")
    with pytest.raises(errors.InvalidTransition, match="is not pending"):
        approve(after, [change], CAROL)
    applied = after.apply.apply_changes([change], CAROL.user_id, CAROL.username)
    assert applied.applied[0].status is S.APPLIED
    assert IMAGE in {c.value for c in applied.categories}
