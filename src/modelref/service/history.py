"""History reads for reviewers: applied batches (newest first) and one model's timeline.

Both read indexed rows of the audit log and the queue (``action``, ``batch_id``, ``change_id``,
``category+model_name``); neither replays the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelref.domain import diff as domain_diff
from modelref.domain import inputs
from modelref.domain.audit import QUEUE_CATEGORY, AuditEvent, NetChange, net_changes
from modelref.domain.errors import ValidationFailed
from modelref.domain.queue_models import PendingChangeStatus
from modelref.domain.transitions import Action
from modelref.store.database import Database
from modelref.store.unit_of_work import Transaction

MAX_PAGE = 50


@dataclass
class AppliedBatch:
    batch_id: int
    title: str | None
    applied_at: int
    applied_by: str | None
    change_ids: list[int]
    changes: list[NetChange] = field(default_factory=list)


@dataclass
class BatchPage:
    """One page of applied batches; pass ``next_cursor`` as ``before`` for the next one."""

    batches: list[AppliedBatch]
    next_cursor: int | None


@dataclass
class TimelineEntry:
    """One audit event about a model, with the details a reviewer needs."""

    event_id: int
    timestamp: int
    kind: str
    username: str | None
    change_id: int | None
    batch_id: int | None
    details: dict[str, Any]


class HistoryService:
    """Read-only history views over the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def applied_batches(self, before: int | None = None, limit: int = 10) -> BatchPage:
        """Batches with applied changes, newest apply first; ``before`` is a cursor."""
        if limit < 1 or limit > MAX_PAGE:
            raise ValidationFailed(f"limit: must be between 1 and {MAX_PAGE}")
        if before is not None and not inputs.in_range(before):
            raise ValidationFailed("before: must be a positive cursor")
        with self.db.read() as tx:
            rows = tx.audit.applied_batches(before, limit + 1)
            page = rows[:limit]
            batches = [_batch(tx, batch_id) for batch_id, _ in page]
        next_cursor = page[-1][1] if len(rows) > limit and page else None
        return BatchPage(batches=batches, next_cursor=next_cursor)

    def batch(self, batch_id: int) -> AppliedBatch:
        """One batch with its net changes (empty ``changes`` when nothing was applied yet)."""
        if not inputs.in_range(batch_id):
            return AppliedBatch(batch_id, None, 0, None, [])
        with self.db.read() as tx:
            return _batch(tx, batch_id)

    def model_timeline(self, category: str, model_name: str) -> list[TimelineEntry]:
        """Every proposal, decision and catalog write about one model, oldest first."""
        with self.db.read() as tx:
            ids = tx.queue.ids_for_model(category, model_name)
            events = {ev.event_id: ev for ev in tx.audit.for_changes(ids)}
            for ev in tx.audit.for_model(category, model_name):
                events[ev.event_id] = ev
        return [_entry(events[k]) for k in sorted(events)]


def _batch(tx: Transaction, batch_id: int) -> AppliedBatch:
    members = tx.queue.in_batch(batch_id)
    applied = [r for r in members if r.status is PendingChangeStatus.APPLIED]
    writes = [
        ev
        for ev in tx.audit.for_batches([batch_id])
        if ev.category != QUEUE_CATEGORY and ev.action is None
    ]
    return AppliedBatch(
        batch_id=batch_id,
        title=next((r.batch_title for r in members if r.batch_title), None),
        applied_at=max((r.applied_at or 0 for r in applied), default=0),
        applied_by=next((r.applied_username for r in applied if r.applied_username), None),
        change_ids=[r.change_id for r in applied],
        changes=net_changes(writes),
    )


_LABELS = {
    Action.enqueue.value: "proposed",
    Action.approve.value: "approved",
    Action.reject.value: "rejected",
    Action.withdraw.value: "withdrawn",
    Action.reserve.value: "reserved for apply",
    Action.release.value: "reservation released",
    Action.apply.value: "marked applied",
    Action.recover.value: "recovered after a crash",
    Action.batch_split.value: "moved to a new batch",
    Action.purge.value: "purged",
    Action.endorse.value: "approval recorded",
    Action.approvals_stale.value: "approvals went stale",
}


def _entry(ev: AuditEvent) -> TimelineEntry:
    body = ev.payload.get("after") if ev.category == QUEUE_CATEGORY else None
    details: dict[str, Any] = {}
    if ev.category == QUEUE_CATEGORY and isinstance(body, dict):
        kind = _LABELS.get(ev.action or "", ev.action or "event")
        record = body.get("record")
        for key in ("batch_title", "reason", "operation", "job_id"):
            if body.get(key) is not None:
                details[key] = body[key]
        if isinstance(record, dict) and record.get("notes"):
            details["notes"] = record["notes"]
    else:
        kind = f"catalog {ev.operation}"
        before, after = ev.payload.get("before"), ev.payload.get("after")
        details["fields"] = [d["field_path"] for d in domain_diff.field_diffs(before, after)]
        if ev.payload.get("forced"):
            details["forced"] = True
    return TimelineEntry(
        event_id=ev.event_id,
        timestamp=ev.timestamp,
        kind=kind,
        username=ev.username,
        change_id=ev.change_id,
        batch_id=ev.batch_id,
        details=details,
    )
