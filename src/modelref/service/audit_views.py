"""Upstream's pending-queue audit views, built from indexed rows of our audit log.

``current`` takes its candidate ids from the queue table (written in the same transactions as
the log, so "pending and not purged" is the same set) and rebuilds each change from its own
events; batch views read the events tagged with the batch ids of one page; net changes use the
``before``/``after`` snapshots every catalog write stores, so models that predate the log (or
were imported) diff correctly. No request replays the whole log (W14).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from modelref.domain import audit, inputs
from modelref.domain.audit import AuditEvent
from modelref.domain.errors import NotFound
from modelref.domain.queue_models import (
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
    now_ts,
)
from modelref.domain.transitions import Action
from modelref.store.database import Database


class PendingQueueAuditEvent(BaseModel):
    event_id: int
    timestamp: int
    action: str
    logical_user_id: str | None
    payload: dict[str, Any]


class PendingQueueAuditChange(BaseModel):
    change_id: int
    status: str
    operation: str | None = None
    category: str | None = None
    model_name: str | None = None
    requested_by: str | None = None
    requested_at: int | None = None
    approved_by: str | None = None
    approved_at: int | None = None
    rejected_by: str | None = None
    rejected_at: int | None = None
    reject_reason: str | None = None
    applied_by: str | None = None
    applied_at: int | None = None
    applied_job_id: str | None = None
    batch_id: int | None = None
    batch_title: str | None = None
    events: list[PendingQueueAuditEvent]


class PendingQueueAuditCurrentResponse(BaseModel):
    domain: str
    pending_changes: list[PendingQueueAuditChange]
    total_pending: int
    generated_at: int


class PendingQueueAuditBatchSummary(BaseModel):
    batch_id: int
    batch_title: str | None = None
    approved_by: str | None = None
    approved_at: int | None = None
    applied_at: int | None = None
    approved_change_count: int = 0
    rejected_change_count: int = 0
    applied_change_count: int = 0
    total_change_count: int = 0
    last_event_id: int | None = None


class PendingQueueAuditBatchPage(BaseModel):
    domain: str
    batches: list[PendingQueueAuditBatchSummary]
    next_cursor: int | None


class PendingQueueAuditBatchDetail(PendingQueueAuditBatchSummary):
    changes: list[PendingQueueAuditChange]


class FieldDiff(BaseModel):
    field_path: str
    old_value: Any
    new_value: Any
    change_type: str


class ModelNetChange(BaseModel):
    model_name: str
    category: str
    net_operation: str
    before_state: dict[str, Any] | None
    after_state: dict[str, Any] | None
    field_diffs: list[FieldDiff]
    is_critical: bool


class BatchNetChangeResponse(BaseModel):
    batch_id: int
    batch_title: str | None
    domain: str
    model_changes: list[ModelNetChange]
    models_added: int
    models_modified: int
    models_deleted: int
    models_unchanged: int
    total_field_changes: int
    has_critical_changes: bool
    generated_at: int


#: Upstream's queue event actions (spec queue-semantics §12); our own events (reserve,
#: release, recover, withdraw) stay in the log and in ``/audit/events``, not in these views.
UPSTREAM_ACTIONS = frozenset(
    {Action.enqueue, Action.approve, Action.reject, Action.apply, Action.purge, Action.batch_split}
)
#: Body fields upstream writes per action; modelref's additions (the enqueued record, the
#: ``forced`` flag, a purged change's status) are left out of upstream-shaped views.
_UPSTREAM_BODY = {
    Action.enqueue: ("change_id", "operation", "category", "model"),
    Action.approve: ("change_id", "batch_id", "batch_title"),
    Action.reject: ("change_id", "batch_id", "batch_title", "reason"),
    Action.apply: ("change_id", "batch_id", "job_id"),
    Action.purge: ("change_id", "category", "model", "requested_by", "purged_by_username"),
    Action.batch_split: ("original_batch_id", "new_batch_id", "reassigned_change_ids", "reason"),
}


def _upstream_event(ev: AuditEvent) -> PendingQueueAuditEvent:
    action = Action(ev.action or "")
    data = audit.body(ev)
    shown = {k: data[k] for k in _UPSTREAM_BODY[action] if data.get(k) is not None}
    return PendingQueueAuditEvent(
        event_id=ev.event_id,
        timestamp=ev.timestamp,
        action=action.value,
        logical_user_id=ev.logical_user_id,
        payload={"after": {**shown, "action": action.value}},
    )


def fold_change(change_id: int, events: list[AuditEvent]) -> PendingQueueAuditChange | None:
    """One change as upstream's views show it, from its events (and splits that moved it).

    State comes from the log's one fold (:func:`modelref.domain.audit.fold`); a purge leaves
    the state it ended (upstream lists purged changes with their last status).
    """
    record: PendingChangeRecord | None = None
    shown: list[PendingQueueAuditEvent] = []
    for ev in events:
        record = audit.fold(record, ev, change_id) or record
        if ev.action in UPSTREAM_ACTIONS:
            shown.append(_upstream_event(ev))
    if record is None:
        return None
    return PendingQueueAuditChange(
        change_id=change_id,
        status=record.status.value,
        operation=record.operation.value,
        category=record.category.value,
        model_name=record.model_name,
        requested_by=record.requested_by,
        requested_at=record.requested_at,
        approved_by=record.approved_by,
        approved_at=record.approved_at,
        rejected_by=record.rejected_by,
        rejected_at=record.rejected_at,
        reject_reason=record.reject_reason,
        applied_by=record.applied_by,
        applied_at=record.applied_at,
        applied_job_id=record.applied_job_id,
        batch_id=record.batch_id,
        batch_title=record.batch_title,
        events=shown,
    )


def summarize(batch_id: int, events: list[AuditEvent]) -> PendingQueueAuditBatchSummary:
    """Counts and titles of one batch from its events (including splits into and out of it)."""
    s = PendingQueueAuditBatchSummary(batch_id=batch_id)
    approved: set[int] = set()
    rejected: set[int] = set()
    applied: set[int] = set()
    for ev in events:
        body, action, cid = audit.body(ev), ev.action, ev.change_id
        s.last_event_id = max(s.last_event_id or 0, ev.event_id)
        if action == "batch_split":
            moved = set(body.get("reassigned_change_ids", []))
            if body.get("original_batch_id") == batch_id:
                approved -= moved
            if body.get("new_batch_id") == batch_id:
                approved |= moved
            continue
        if cid is None:
            continue
        if action == "approve":
            approved.add(cid)
            if s.approved_by is None:
                s.approved_by, s.approved_at = ev.logical_user_id, ev.timestamp
        elif action in ("reject", "withdraw"):
            rejected.add(cid)
            approved.discard(cid)
        elif action == "apply":
            applied.add(cid)
            s.applied_at = max(s.applied_at or 0, ev.timestamp)
        if action in ("approve", "reject") and body.get("batch_title"):
            s.batch_title = body["batch_title"]
    s.approved_change_count, s.rejected_change_count = len(approved), len(rejected)
    s.applied_change_count, s.total_change_count = len(applied), len(approved | rejected)
    return s


def _splits_touching(splits: list[AuditEvent], batch_ids: set[int]) -> list[AuditEvent]:
    return [
        ev
        for ev in splits
        if audit.body(ev).get("new_batch_id") in batch_ids
        or audit.body(ev).get("original_batch_id") in batch_ids
    ]


class AuditViews:
    """The four audit views of spec http-api §7 for one database."""

    def __init__(self, db: Database, default_domain: str) -> None:
        self.db = db
        self.default_domain = default_domain

    def current(self, domain: str | None = None) -> PendingQueueAuditCurrentResponse:
        domain = domain or self.default_domain
        with self.db.read() as tx:
            ids = tx.queue.ids(PendingQueueFilter(statuses={PendingChangeStatus.PENDING}))
            events = tx.audit.for_changes(ids, queue_domain=domain)
        by_change: dict[int, list[AuditEvent]] = {}
        for ev in events:
            if ev.change_id is not None:
                by_change.setdefault(ev.change_id, []).append(ev)
        changes = [
            c
            for cid, evs in by_change.items()
            if (c := fold_change(cid, evs)) is not None and c.status == "pending"
        ]
        changes.sort(key=lambda c: (c.requested_at or 0, c.change_id), reverse=True)
        return PendingQueueAuditCurrentResponse(
            domain=domain,
            pending_changes=changes,
            total_pending=len(changes),
            generated_at=now_ts(),
        )

    def batches(
        self, cursor: int | None = None, limit: int = 10, domain: str | None = None
    ) -> PendingQueueAuditBatchPage:
        domain = domain or self.default_domain
        with self.db.read() as tx:
            ids = tx.audit.batch_ids_before(domain, cursor, limit + 1)
            page = ids[:limit]
            events = tx.audit.for_batches(page, queue_domain=domain)
            splits = _splits_touching(tx.audit.splits(domain), set(page))
        summaries = []
        for bid in page:
            mine = {e.event_id: e for e in events if e.batch_id == bid}
            mine.update({e.event_id: e for e in splits if _touches(e, bid)})
            summaries.append(summarize(bid, sorted(mine.values(), key=lambda e: e.event_id)))
        next_cursor = page[-1] if len(ids) > limit else None
        return PendingQueueAuditBatchPage(domain=domain, batches=summaries, next_cursor=next_cursor)

    def batch(self, batch_id: int, domain: str | None = None) -> PendingQueueAuditBatchDetail:
        domain = domain or self.default_domain
        if not inputs.in_range(batch_id):
            raise NotFound("Batch not found")
        with self.db.read() as tx:
            events = tx.audit.for_batches([batch_id], queue_domain=domain)
            splits = tx.audit.splits(domain)
            into = [e for e in splits if _touches(e, batch_id)]
            holders = [r.change_id for r in tx.queue.in_batch(batch_id)]
            if not events and not into and not holders:
                raise NotFound("Batch not found")
            candidates = {e.change_id for e in events if e.change_id is not None} | set(holders)
            for ev in into:
                candidates.update(audit.body(ev).get("reassigned_change_ids", []))
            change_events = tx.audit.for_changes(candidates, queue_domain=domain)
        merged = {e.event_id: e for e in events} | {e.event_id: e for e in into}
        summary = summarize(batch_id, sorted(merged.values(), key=lambda e: e.event_id))
        changes = []
        for cid in sorted(candidates):
            own = [e for e in change_events if e.change_id == cid]
            own += [e for e in splits if cid in audit.body(e).get("reassigned_change_ids", [])]
            change = fold_change(cid, sorted(own, key=lambda e: e.event_id))
            if change is not None and change.batch_id == batch_id:
                changes.append(change)
        return PendingQueueAuditBatchDetail(**summary.model_dump(), changes=changes)

    def net_changes(self, batch_id: int, domain: str | None = None) -> BatchNetChangeResponse:
        domain = domain or self.default_domain
        detail = self.batch(batch_id, domain)
        applied = [c for c in detail.changes if c.status == PendingChangeStatus.APPLIED.value]
        with self.db.read() as tx:
            writes = tx.audit.catalog_writes(c.change_id for c in applied)
        nets = {(n.category, n.model_name): n for n in audit.net_changes(writes)}
        for c in applied:  # an applied change without a catalog write still shows up
            if c.category and c.model_name and (c.category, c.model_name) not in nets:
                nets[(c.category, c.model_name)] = audit.NetChange(
                    c.category, c.model_name, None, None
                )
        models = [_model_change(n) for n in nets.values()]
        count = {
            op: sum(m.net_operation == op for m in models)
            for op in ("added", "modified", "deleted", "unchanged")
        }
        return BatchNetChangeResponse(
            batch_id=batch_id,
            batch_title=detail.batch_title,
            domain=domain,
            model_changes=models,
            models_added=count["added"],
            models_modified=count["modified"],
            models_deleted=count["deleted"],
            models_unchanged=count["unchanged"],
            total_field_changes=sum(len(m.field_diffs) for m in models),
            has_critical_changes=any(m.is_critical for m in models),
            generated_at=now_ts(),
        )


def _touches(ev: AuditEvent, batch_id: int) -> bool:
    body = audit.body(ev)
    return batch_id in (body.get("new_batch_id"), body.get("original_batch_id"))


def _model_change(net: audit.NetChange) -> ModelNetChange:
    return ModelNetChange(
        model_name=net.model_name,
        category=net.category,
        net_operation=net.net_operation,
        before_state=net.before,
        after_state=net.after,
        field_diffs=[FieldDiff(**d) for d in net.field_diffs],
        is_critical=net.is_critical,
    )
