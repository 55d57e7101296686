"""Approvals go stale when the live record moves; a stale approved change needs fresh ones."""

from __future__ import annotations

import pytest

from modelref.domain import errors
from modelref.domain.queue_models import PendingChangeStatus
from modelref.service.container import Services
from tests.factories import ManualClock
from tests.governance.helpers import (
    BOB,
    CAROL,
    DAVE,
    approve,
    approvers,
    image_record,
    live_hash,
    log_state,
    open_services,
    propose,
    seed_image,
)

S = PendingChangeStatus


def _two_changes_on_one_model(db_url: str) -> tuple[Services, int, int, int]:
    """A description fix (1 approver) and an nsfw flag (2 approvers), both approved."""
    svc = open_services(db_url, ManualClock(), approval_policy="critical-two")
    seed_image(svc, "sdxl_x")
    words = propose(svc, "sdxl_x", payload=image_record("sdxl_x", description="new words"))
    flag = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True))
    partial = propose(svc, "sdxl_x", payload=image_record("sdxl_x", nsfw=True, description="x"))
    approve(svc, [flag.change_id], BOB)
    approve(svc, [flag.change_id, words.change_id, partial.change_id], CAROL)
    return svc, words.change_id, flag.change_id, partial.change_id


def test_a_stale_approval_is_refused_at_apply_then_accepted_after_re_approval(
    db_url: str,
) -> None:
    svc, words, flag, partial = _two_changes_on_one_model(db_url)
    assert svc.review.get_change(flag).status is S.APPROVED
    assert svc.review.get_change(partial).status is S.PENDING  # one of two approvals

    svc.apply.apply_changes([words], DAVE.user_id, DAVE.username)
    # The live record moved under the other two: every approval they had went stale.
    stale_flag, stale_partial = svc.review.get_change(flag), svc.review.get_change(partial)
    assert approvers(stale_flag) == [(BOB.user_id, True), (CAROL.user_id, True)]
    assert approvers(stale_partial) == [(CAROL.user_id, True)]
    events = [(e.change_id, e.action) for e in svc.audit.events()]
    assert (flag, "approvals_stale") in events and (partial, "approvals_stale") in events

    before = log_state(svc)
    with pytest.raises(errors.ApplyFailed) as refused:
        svc.apply.apply_changes([flag], DAVE.user_id, DAVE.username)
    assert isinstance(refused.value.cause, errors.StaleApproval)
    assert "approvals went stale" in refused.value.message
    assert "0 of 2 fresh approval(s)" in refused.value.message
    after = log_state(svc)
    # Nothing of the apply stayed: the catalog did not move; the change is approved again
    # (reserve and release are audited, as for any failed apply).
    assert after[2] == before[2]
    assert svc.review.get_change(flag).status is S.APPROVED

    # A fresh approval by someone who approved before counts again (against the new base)...
    recorded = approve(svc, [flag], BOB).approvals_recorded
    assert recorded is not None and recorded[0].status is S.APPROVED
    assert recorded[0].base_hash == live_hash(svc, "sdxl_x")  # approved against the new record
    with pytest.raises(errors.ApplyFailed, match="1 of 2 fresh"):
        svc.apply.apply_changes([flag], DAVE.user_id, DAVE.username)
    with pytest.raises(errors.DuplicateApproval):
        approve(svc, [flag], BOB)
    # ...and the quorum is reached again by a second fresh approver.
    approve(svc, [flag], CAROL)
    done = svc.apply.apply_changes([flag], DAVE.user_id, DAVE.username)
    assert done.applied[0].status is S.APPLIED
    assert svc.catalog.record(done.applied[0].category, "sdxl_x")["nsfw"] is True
    writes = [e for e in svc.audit.events() if e.change_id == flag and e.action is None]
    assert writes[-1].payload["forced"] is False  # re-approved, not forced
    assert svc.audit.replay() == {r.change_id: r for r in svc.review.list_changes().items}


def test_force_applies_a_change_with_stale_approvals_and_says_so(db_url: str) -> None:
    svc, words, flag, _partial = _two_changes_on_one_model(db_url)
    svc.apply.apply_changes([words], DAVE.user_id, DAVE.username)
    done = svc.apply.apply_changes([flag], DAVE.user_id, DAVE.username, force=True)
    assert done.applied[0].status is S.APPLIED
    (write,) = [e for e in svc.audit.events() if e.change_id == flag and e.action is None]
    assert write.payload["forced"] is True
    (apply_event,) = [e for e in svc.audit.events() if e.change_id == flag and e.action == "apply"]
    assert apply_event.payload["after"]["forced"] is True


def test_a_pending_change_needs_a_fresh_quorum_after_its_base_moved(db_url: str) -> None:
    svc, words, _flag, partial = _two_changes_on_one_model(db_url)
    svc.apply.apply_changes([words], DAVE.user_id, DAVE.username)
    # CAROL's approval went stale: she may approve again, and it is one of two again.
    recorded = approve(svc, [partial], CAROL).approvals_recorded
    assert recorded is not None
    assert approvers(recorded[0]) == [(CAROL.user_id, True), (CAROL.user_id, False)]
    (moved,) = approve(svc, [partial], BOB).approved
    assert moved.status is S.APPROVED
    assert moved.base_hash == live_hash(svc, "sdxl_x")  # re-based on the record ``words`` wrote
    done = svc.apply.apply_changes([partial], DAVE.user_id, DAVE.username)
    assert done.applied[0].status is S.APPLIED  # not stale: it was approved against it


def test_upstream_policy_keeps_stale_changes_as_they_were(db_url: str) -> None:
    svc = open_services(db_url)
    seed_image(svc, "sdxl_x")
    a = propose(svc, "sdxl_x", payload=image_record("sdxl_x", description="one")).change_id
    b = propose(svc, "sdxl_x", payload=image_record("sdxl_x", description="two")).change_id
    approve(svc, [a, b], BOB)
    svc.apply.apply_changes([a], DAVE.user_id, DAVE.username)
    assert not [e for e in svc.audit.events() if e.action == "approvals_stale"]
    with pytest.raises(errors.ApplyFailed) as refused:
        svc.apply.apply_changes([b], DAVE.user_id, DAVE.username)
    assert type(refused.value.cause) is errors.StaleChange
    with pytest.raises(errors.InvalidTransition, match="is not pending"):
        approve(svc, [b], CAROL)
