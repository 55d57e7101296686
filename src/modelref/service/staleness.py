"""Approvals that go stale: steps the apply runs inside its commit transaction.

When an apply moves the live record of a model, every other open change on that model whose
base no longer matches loses the approvals it has (:func:`mark_stale`, one ``approvals_stale``
event per change). An approved change whose fresh approvals are below its quorum is refused
by the apply (:func:`check_fresh`) until approvers approve it again, or applied with ``force``
(the catalog event records ``forced``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from modelref.domain import quorum
from modelref.domain.errors import ApplyFailed, StaleApproval
from modelref.domain.policy import Policy
from modelref.domain.queue_models import PendingChangeRecord
from modelref.domain.transitions import Action
from modelref.service import lifecycle
from modelref.service.lifecycle import Step


def check_fresh(policy: Policy, records: Sequence[PendingChangeRecord], force: bool) -> set[int]:
    """Ids forced past stale approvals; raises :class:`ApplyFailed` for one without ``force``."""
    if policy.upstream:
        return set()
    forced: set[int] = set()
    for record in records:
        tally = quorum.tally(record)
        if tally is None or tally.met:
            continue
        if not force:
            raise ApplyFailed(
                record.change_id,
                StaleApproval(
                    f"Change {record.change_id}: its approvals went stale when "
                    f"'{record.model_name}' changed ({tally.describe()}); approve it again "
                    "or apply with force."
                ),
            )
        forced.add(record.change_id)
    return forced


def mark_stale(
    step: Step,
    policy: Policy,
    new_hashes: Mapping[tuple[str, str], str | None],
    applied: set[int],
) -> list[int]:
    """Make stale the approvals of open changes whose base the live record moved away from
    (nothing under the upstream policy, which records no approval)."""
    if policy.upstream:
        return []
    tx = step.tx
    by_model = tx.queue.open_ids_by_model(new_hashes)
    candidates = [cid for ids in by_model.values() for cid in ids if cid not in applied]
    holding = tx.approvals.with_fresh(candidates)
    if not holding:
        return []
    found = tx.queue.get_many(holding)
    stale = [
        cid
        for cid in holding
        if found[cid].base_hash != new_hashes[(found[cid].category.value, found[cid].model_name)]
    ]
    if not stale:
        return []
    tx.approvals.mark_stale(stale)
    tx.queue.touch_many(stale, step.now)
    tx.audit.append(
        [
            lifecycle.event(
                step,
                Action.approvals_stale,
                {"change_id": cid, "model": found[cid].model_name, "reason": "live_record_moved"},
                change_id=cid,
                batch_id=found[cid].batch_id,
            )
            for cid in stale
        ]
    )
    return stale
