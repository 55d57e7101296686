"""Counting approvals toward a quorum: distinct, fresh, never the requester.

Pure functions over a change's recorded approvals (``PendingChangeRecord.approvals``); the
service decides with them when an approval approves, and the apply refuses an approved change
whose fresh approvals fell below its quorum.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from modelref.domain.queue_models import ChangeApproval, PendingChangeRecord, PendingChangeStatus


def fresh_approvers(approvals: Iterable[ChangeApproval] | None, requester: str) -> list[str]:
    """Distinct approvers whose approval still counts, in the order they approved."""
    seen: dict[str, None] = {}
    for approval in approvals or ():
        if not approval.stale and approval.approved_by != requester:
            seen[approval.approved_by] = None
    return list(seen)


@dataclass(frozen=True)
class Tally:
    """Where a change stands: fresh distinct approvers against the approvers it needs."""

    required: int
    fresh: tuple[str, ...]
    stale: int

    @property
    def met(self) -> bool:
        return len(self.fresh) >= self.required

    def describe(self) -> str:
        return f"{len(self.fresh)} of {self.required} fresh approval(s)"


def tally(record: PendingChangeRecord) -> Tally | None:
    """The tally of a change approved under a quorum policy (None: no approval recorded)."""
    if not record.approvals or record.approvals_required is None:
        return None
    fresh = fresh_approvers(record.approvals, record.requested_by)
    stale = sum(1 for a in record.approvals if a.stale)
    return Tally(record.approvals_required, tuple(fresh), stale)


def takes_fresh_approval(record: PendingChangeRecord, *, rebases: bool, required: int) -> bool:
    """An approved change takes a fresh approval only when its approvals went stale: the live
    record moved from its base (``rebases``), or its fresh approvals fell below its quorum."""
    if record.status is not PendingChangeStatus.APPROVED:
        return False
    fresh = fresh_approvers(record.approvals, record.requested_by)
    went_stale = bool(record.approvals) and len(fresh) < (record.approvals_required or required)
    return rebases or went_stale


def staled(approvals: Iterable[ChangeApproval] | None) -> list[ChangeApproval]:
    """The same approvals, every one marked stale."""
    return [a.model_copy(update={"stale": True}) for a in approvals or ()]
