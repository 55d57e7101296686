"""The approval gate of a review: steps on the review transaction (none opens one).

:func:`gate` checks every approval of a batch. Under ``upstream`` it keeps upstream's rules (a
pending change, the two-person rule) and every approval approves. Under a quorum policy it
decides, per change, whether this approval reaches the change's quorum (the review then moves
it PENDING -> APPROVED through ``lifecycle.move``) or is only recorded (an ``endorse`` event,
no status move); :meth:`Gate.record` writes the approval rows and those events. Rules:
distinct approvers, never the requester, an approval that still counts is not given twice, and
an approval given against a newer live record than the change's base re-bases the change and
makes every earlier approval stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from modelref.domain import quorum, transitions
from modelref.domain.audit import NewEvent
from modelref.domain.checks import Finding
from modelref.domain.errors import (
    ChecksFailed,
    DuplicateApproval,
    InvalidTransition,
    PermissionDenied,
)
from modelref.domain.policy import Policy
from modelref.domain.queue_models import ChangeApproval, PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action
from modelref.service import checks, governance, lifecycle
from modelref.service.lifecycle import Step
from modelref.store.catalog import CatalogRow

S = PendingChangeStatus


@dataclass(frozen=True)
class Verdict:
    """What one approval does to one change."""

    record: PendingChangeRecord
    approval: ChangeApproval
    required: int
    fresh: int  # approvals that count, this one included
    rebase: bool
    live_hash: str | None
    #: Error findings of the review checks this approval overrode (a strict policy's rule).
    overridden: tuple[str, ...] = ()

    @property
    def reaches(self) -> bool:
        """This approval moves a pending change to approved."""
        return self.record.status is S.PENDING and self.fresh >= self.required

    def body(self) -> dict[str, Any]:
        """The quorum fields of this approval's audit event (replayed by ``audit.fold``)."""
        body: dict[str, Any] = {"approvals_required": self.required, "fresh_approvals": self.fresh}
        if self.rebase:
            body["base_hash"] = self.live_hash
        if self.overridden:
            body["checks_overridden"] = list(self.overridden)
        return body

    def values(self) -> dict[str, Any]:
        """Row values this approval changes besides status (the new base, if any)."""
        return {"base_hash": self.live_hash} if self.rebase else {}

    def approvals(self) -> list[ChangeApproval]:
        earlier = self.record.approvals or []
        return [*(quorum.staled(earlier) if self.rebase else earlier), self.approval]

    def applied_to(self, record: PendingChangeRecord) -> PendingChangeRecord:
        """``record`` (this change, possibly moved) carrying this approval."""
        return record.model_copy(
            update={"approvals": self.approvals(), "approvals_required": self.required}
        )


@dataclass(frozen=True)
class Gate:
    """The approvals of one batch, checked: which move, and what each records."""

    records: list[PendingChangeRecord]
    #: Per change id; None under the upstream policy (nothing is recorded).
    verdicts: dict[int, Verdict] | None

    @property
    def reaching(self) -> list[int]:
        """Changes this batch moves to approved, in the order given."""
        if self.verdicts is None:
            return [r.change_id for r in self.records]
        return [r.change_id for r in self.records if self.verdicts[r.change_id].reaches]

    def values(self, record: PendingChangeRecord) -> dict[str, Any]:
        return self.verdicts[record.change_id].values() if self.verdicts is not None else {}

    def body(self, record: PendingChangeRecord) -> dict[str, Any]:
        return self.verdicts[record.change_id].body() if self.verdicts is not None else {}

    def annotate(self, moved: list[PendingChangeRecord]) -> list[PendingChangeRecord]:
        """The moved records carrying their new approvals."""
        if self.verdicts is None:
            return moved
        return [self.verdicts[r.change_id].applied_to(r) for r in moved]

    def record(
        self, step: Step, title: str
    ) -> tuple[list[PendingChangeRecord] | None, list[NewEvent]]:
        """Write the approvals (see :func:`record`); None, [] under the upstream policy."""
        if self.verdicts is None:
            return None, []
        return record(step, list(self.verdicts.values()), title)


def gate(
    step: Step,
    policy: Policy,
    found: Mapping[int, PendingChangeRecord],
    change_ids: Sequence[int],
    *,
    two_person_rule: bool,
    override_checks: bool = False,
) -> Gate:
    """Check the approval of each of ``change_ids`` (in order) by ``step.actor``; raise on
    the first refusal. Under a quorum policy a change whose review checks found errors needs
    ``override_checks``, which its approval event records."""
    keys = {(r.category.value, r.model_name) for r in found.values()}
    live = step.tx.catalog.get_many(keys) if policy.quorum else {}
    records: list[PendingChangeRecord] = []
    checked: dict[int, Verdict] = {}
    for cid in change_ids:
        rec = found.get(cid)
        if rec is None:
            raise InvalidTransition(f"Change {cid} does not exist.")
        records.append(rec)
        if policy.quorum:
            row = live.get((rec.category.value, rec.model_name))
            checked[cid] = _checked(
                verdict(step, policy, rec, row, two_person_rule=two_person_rule),
                checks.blocking_errors(step.tx, cid),
                override_checks,
            )
            continue
        if rec.status is not S.PENDING:
            raise InvalidTransition(transitions.refusal(Action.approve, rec.status, cid))
        if two_person_rule and rec.requested_by == step.actor.user_id:
            raise PermissionDenied(
                f"Change {cid}: you cannot approve your own change (two-person rule)."
            )
    return Gate(records, checked if policy.quorum else None)


def _checked(v: Verdict, errors: Sequence[Finding], override: bool) -> Verdict:
    """The verdict, refused when the change's checks found errors and nobody overrode them."""
    if not errors:
        return v
    messages = tuple(f"{f.field}: {f.message}" if f.field else f.message for f in errors)
    if not override:
        cid = v.record.change_id
        raise ChecksFailed(
            f"Change {cid}: review checks found {len(errors)} error(s) "
            f"({'; '.join(messages[:3])}); approving it under this policy needs an explicit "
            "override (override_checks), which the audit log records."
        )
    return replace(v, overridden=messages)


def verdict(
    step: Step,
    policy: Policy,
    rec: PendingChangeRecord,
    row: CatalogRow | None,
    *,
    two_person_rule: bool,
) -> Verdict:
    """Check one approval under a quorum policy against the live record ``row``."""
    actor, cid = step.actor, rec.change_id
    live_hash = row.content_hash if row is not None else None
    rebase = live_hash != rec.base_hash
    earlier = quorum.staled(rec.approvals) if rebase else list(rec.approvals or [])
    fresh = quorum.fresh_approvers(earlier, rec.requested_by)
    required = governance.requirement(policy, rec, row).approvals
    refresh = quorum.takes_fresh_approval(rec, rebases=rebase, required=required)
    if rec.status is not S.PENDING and not refresh:
        raise InvalidTransition(transitions.refusal(Action.approve, rec.status, cid))
    if rec.requested_by == actor.user_id:
        if two_person_rule:
            raise PermissionDenied(
                f"Change {cid}: you cannot approve your own change (two-person rule)."
            )
        raise PermissionDenied(
            f"Change {cid}: the requester's approval never counts toward its quorum "
            f"(approval policy {policy.name}); another approver must approve it."
        )
    if actor.user_id in fresh:
        raise DuplicateApproval(
            f"Change {cid}: {actor.username} already approved it ({len(fresh)} of "
            f"{required} approvals); it needs another approver."
        )
    approval = ChangeApproval(
        approved_by=actor.user_id, approved_username=actor.username, approved_at=step.now
    )
    return Verdict(rec, approval, required, len(fresh) + 1, rebase, live_hash)


def record(
    step: Step, found: Sequence[Verdict], title: str
) -> tuple[list[PendingChangeRecord], list[NewEvent]]:
    """Write every approval; those below quorum as ``endorse`` events (no status move).

    Returns the endorsed records as they now are, and their events (the caller appends them
    with the batch's other events).
    """
    tx = step.tx
    endorsed: list[PendingChangeRecord] = []
    events: list[NewEvent] = []
    for v in found:
        cid = v.record.change_id
        if v.rebase:
            tx.approvals.mark_stale([cid])
        tx.approvals.add(cid, v.approval, v.required)
        if v.reaches:
            continue
        tx.queue.touch(cid, step.now, base_hash=v.live_hash, rebase=v.rebase)
        moved = v.record.model_copy(update={"updated_at": step.now, **v.values()})
        endorsed.append(v.applied_to(moved))
        body = {"change_id": cid, "batch_title": title, **v.body()}
        events.append(
            lifecycle.event(step, Action.endorse, body, change_id=cid, batch_id=v.record.batch_id)
        )
    return endorsed, events
