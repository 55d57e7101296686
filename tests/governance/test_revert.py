"""Reverts are reviewed proposals built from the log's before-images; applied, they restore the
catalog's exported bytes exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from modelref.domain import errors
from modelref.domain.queue_models import PendingChangeStatus
from modelref.service.container import Services
from tests.factories import ManualClock
from tests.governance.helpers import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    approve,
    image_record,
    live_hash,
    open_services,
    propose,
    seed_image,
)

S = PendingChangeStatus


def exported(svc: Services, out: Path) -> dict[str, bytes]:
    """Every exported file (v2 and legacy layouts) by relative path."""
    svc.files.export(out, "both")
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def approve_fully(svc: Services, ids: list[int]) -> int:
    """Approve ``ids`` by as many approvers as the policy asks (two at most here)."""
    batch = approve(svc, ids, BOB).batch_id
    pending = [c for c in ids if svc.review.get_change(c).status is S.PENDING]
    if pending:
        batch = approve(svc, pending, CAROL).batch_id
    assert batch is not None
    return batch


def applied_batch(svc: Services, clock: ManualClock) -> int:
    """Create one model, update one, delete one from the middle of the file; apply them."""
    clock.advance(60)
    created = propose(svc, "brand_new", "create", image_record("brand_new")).change_id
    edited = image_record("to_update", nsfw=True, description="edited")
    updated = propose(svc, "to_update", payload=edited).change_id
    deleted = propose(svc, "to_delete", "delete").change_id
    ids = [created, updated, deleted]
    batch = approve_fully(svc, ids)
    clock.advance(60)
    svc.apply.apply_batch(batch, DAVE.user_id, DAVE.username)
    assert [svc.review.get_change(c).status for c in ids] == [S.APPLIED] * 3
    return batch


def seeded(db_url: str, policy: str = "upstream") -> tuple[Services, ManualClock]:
    clock = ManualClock()
    svc = open_services(db_url, clock, approval_policy=policy)
    for name in ("first", "to_update", "to_delete", "last"):
        seed_image(svc, name)
    return svc, clock


@pytest.mark.parametrize("policy", ["upstream", "critical-two"])
def test_reverting_an_applied_batch_restores_the_exported_bytes(
    db_url: str, tmp_path: Path, policy: str
) -> None:
    svc, clock = seeded(db_url, policy)
    before = exported(svc, tmp_path / "before")
    batch = applied_batch(svc, clock)
    assert exported(svc, tmp_path / "after") != before

    clock.advance(60)
    result = svc.reverts.revert_batch(batch, ALICE)
    assert result.reverted_batch_id == batch and len(result.queued) == 3
    by_model = {r.model_name: r for r in result.queued}
    assert {m: r.operation.value for m, r in by_model.items()} == {
        "brand_new": "delete",
        "to_update": "update",
        "to_delete": "create",
    }
    for rec in result.queued:
        assert rec.status is S.PENDING and rec.requested_by == ALICE.user_id
        assert rec.notes is not None and rec.notes.startswith("revert of change ")
        assert rec.notes.endswith(f"(batch {batch})")
        assert rec.base_hash == live_hash(svc, rec.model_name)  # pinned to the live record
    assert by_model["to_update"].payload == image_record("to_update")
    assert by_model["to_delete"].payload == image_record("to_delete")

    # Ordinary proposals: the same approvals (two where the policy asks), then applied.
    ids = [r.change_id for r in result.queued]
    decided = approve(svc, ids, BOB)
    if policy == "critical-two":
        assert decided.batch_id is None  # every revert here is critical: one more approver
        decided = approve(svc, ids, CAROL)
    revert_batch = decided.batch_id
    assert revert_batch is not None
    clock.advance(60)
    svc.apply.apply_batch(revert_batch, DAVE.user_id, DAVE.username)
    assert exported(svc, tmp_path / "reverted") == before
    assert svc.audit.verify().ok
    assert svc.audit.replay() == {r.change_id: r for r in svc.review.list_changes().items}


def test_reverting_one_change_undoes_only_that_change(db_url: str) -> None:
    svc, clock = seeded(db_url)
    batch = applied_batch(svc, clock)
    updated = next(
        r for r in svc.review.list_changes().items if r.model_name == "to_update"
    ).change_id
    result = svc.reverts.revert_change(updated, ALICE)
    (rec,) = result.queued
    assert result.reverted_change_ids == [updated] and result.reverted_batch_id == batch
    assert (rec.operation.value, rec.model_name) == ("update", "to_update")
    assert rec.notes == f"revert of change {updated} (batch {batch})"
    assert rec.request_metadata is not None and rec.request_metadata["route"] == "revert"
    # Not approved yet: the gate applies to reverts as to any proposal.
    with pytest.raises(errors.InvalidTransition, match="not been approved"):
        svc.apply.apply_changes([rec.change_id], DAVE.user_id, DAVE.username)
    approve(svc, [rec.change_id], BOB)
    svc.apply.apply_changes([rec.change_id], DAVE.user_id, DAVE.username)
    record = svc.catalog.record(rec.category, "to_update")
    assert record == image_record("to_update")
    assert svc.catalog.record(rec.category, "brand_new")["name"] == "brand_new"  # kept


def test_what_cannot_be_reverted_is_refused_with_a_reason(db_url: str) -> None:
    svc, clock = seeded(db_url)
    with pytest.raises(errors.NotFound, match="Batch 77 not found"):
        svc.reverts.revert_batch(77, ALICE)
    with pytest.raises(errors.NotFound, match="Change 77 not found"):
        svc.reverts.revert_change(77, ALICE)
    pending = propose(svc, "first", payload=image_record("first", description="x")).change_id
    with pytest.raises(errors.InvalidTransition, match=r"is not applied \(status=pending\)"):
        svc.reverts.revert_change(pending, ALICE)
    batch = approve(svc, [pending], BOB).batch_id
    assert batch is not None
    with pytest.raises(errors.InvalidTransition, match="has no applied changes"):
        svc.reverts.revert_batch(batch, ALICE)
    # A revert conflicting with the live catalog is refused whole, naming the model.
    done = applied_batch(svc, clock)
    recreated = propose(svc, "to_delete", "create", image_record("to_delete")).change_id
    approve(svc, [recreated], BOB)
    svc.apply.apply_changes([recreated], DAVE.user_id, DAVE.username)
    queued_before = svc.review.list_changes().total
    with pytest.raises(errors.Conflict, match="'to_delete' already exists"):
        svc.reverts.revert_batch(done, ALICE)
    assert svc.review.list_changes().total == queued_before  # nothing of it was queued
