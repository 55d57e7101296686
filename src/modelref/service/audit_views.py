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

from modelref.domain import diff as diffing
from modelref.domain.audit import AuditEvent
from modelref.domain.categories import Category
from modelref.domain.errors import NotFound
from modelref.domain.queue_models import PendingChangeStatus, PendingQueueFilter, now_ts
from modelref.store import audit_index, queue_store
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


def _body(ev: AuditEvent) -> dict[str, Any]:
    after = ev.payload.get("after")
    return after if isinstance(after, dict) else {}


def _event(ev: AuditEvent) -> PendingQueueAuditEvent:
    return PendingQueueAuditEvent(
        event_id=ev.event_id,
        timestamp=ev.timestamp,
        action=ev.action or ev.operation,
        logical_user_id=ev.logical_user_id,
        payload=ev.payload,
    )


def fold_change(change_id: int, events: list[AuditEvent]) -> PendingQueueAuditChange:
    """One change's state from its events (queue events plus splits that moved it)."""
    c = PendingQueueAuditChange(change_id=change_id, status="pending", events=[])
    for ev in events:
        body, action = _body(ev), ev.action
        if action == "enqueue":
            c.status = PendingChangeStatus.PENDING.value
            c.operation, c.category, c.model_name = (
                body.get("operation"),
                body.get("category"),
                body.get("model"),
            )
            c.requested_by, c.requested_at = ev.logical_user_id, ev.timestamp
        elif action == "approve":
            c.status = PendingChangeStatus.APPROVED.value
            c.approved_by, c.approved_at = ev.logical_user_id, ev.timestamp
            c.batch_id, c.batch_title = body.get("batch_id"), body.get("batch_title")
        elif action in ("reject", "withdraw"):
            c.status = PendingChangeStatus.REJECTED.value
            c.rejected_by, c.rejected_at, c.reject_reason = (
                ev.logical_user_id,
                ev.timestamp,
                body.get("reason"),
            )
            c.batch_id = body.get("batch_id", c.batch_id)
            c.batch_title = body.get("batch_title", c.batch_title)
        elif action == "reserve":
            c.status, c.applied_job_id = PendingChangeStatus.APPLYING.value, body.get("job_id")
        elif action in ("release", "recover"):
            c.status, c.applied_job_id = PendingChangeStatus.APPROVED.value, None
        elif action == "apply":
            c.status = PendingChangeStatus.APPLIED.value
            c.applied_by, c.applied_at, c.applied_job_id = (
                ev.logical_user_id,
                ev.timestamp,
                body.get("job_id"),
            )
        elif action == "batch_split" and change_id in body.get("reassigned_change_ids", []):
            c.batch_id = body.get("new_batch_id")
        c.events.append(_event(ev))
    return c


def summarize(batch_id: int, events: list[AuditEvent]) -> PendingQueueAuditBatchSummary:
    """Counts and titles of one batch from its events (including splits into and out of it)."""
    s = PendingQueueAuditBatchSummary(batch_id=batch_id)
    approved: set[int] = set()
    rejected: set[int] = set()
    applied: set[int] = set()
    for ev in events:
        body, action, cid = _body(ev), ev.action, ev.change_id
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
        if _body(ev).get("new_batch_id") in batch_ids
        or _body(ev).get("original_batch_id") in batch_ids
    ]


class AuditViews:
    """The four audit views of spec http-api §7 for one database."""

    def __init__(self, db: Database, default_domain: str) -> None:
        self.db = db
        self.default_domain = default_domain

    def current(self, domain: str | None = None) -> PendingQueueAuditCurrentResponse:
        domain = domain or self.default_domain
        with self.db.read() as conn:
            ids = queue_store.matching_ids(
                conn, PendingQueueFilter(statuses={PendingChangeStatus.PENDING})
            )
            events = audit_index.queue_events_for_changes(conn, ids, domain)
        by_change: dict[int, list[AuditEvent]] = {}
        for ev in events:
            if ev.change_id is not None:
                by_change.setdefault(ev.change_id, []).append(ev)
        changes = [
            c
            for cid, evs in by_change.items()
            if (c := fold_change(cid, evs)).status == "pending" and c.requested_at is not None
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
        with self.db.read() as conn:
            ids = audit_index.batch_ids_before(conn, domain, cursor, limit + 1)
            page = ids[:limit]
            events = audit_index.queue_events_for_batches(conn, page, domain)
            splits = _splits_touching(audit_index.split_events(conn, domain), set(page))
        summaries = []
        for bid in page:
            mine = {e.event_id: e for e in events if e.batch_id == bid}
            mine.update({e.event_id: e for e in splits if _touches(e, bid)})
            summaries.append(summarize(bid, sorted(mine.values(), key=lambda e: e.event_id)))
        next_cursor = page[-1] if len(ids) > limit else None
        return PendingQueueAuditBatchPage(domain=domain, batches=summaries, next_cursor=next_cursor)

    def batch(self, batch_id: int, domain: str | None = None) -> PendingQueueAuditBatchDetail:
        domain = domain or self.default_domain
        with self.db.read() as conn:
            events = audit_index.queue_events_for_batches(conn, [batch_id], domain)
            splits = audit_index.split_events(conn, domain)
            into = [e for e in splits if _touches(e, batch_id)]
            holders = audit_index.batch_holders(conn, batch_id)
            if not events and not into and not holders:
                raise NotFound("Batch not found")
            candidates = {e.change_id for e in events if e.change_id is not None} | set(holders)
            for ev in into:
                candidates.update(_body(ev).get("reassigned_change_ids", []))
            change_events = audit_index.queue_events_for_changes(conn, candidates, domain)
        merged = {e.event_id: e for e in events} | {e.event_id: e for e in into}
        summary = summarize(batch_id, sorted(merged.values(), key=lambda e: e.event_id))
        changes = []
        for cid in sorted(candidates):
            own = [e for e in change_events if e.change_id == cid]
            own += [e for e in splits if cid in _body(e).get("reassigned_change_ids", [])]
            change = fold_change(cid, sorted(own, key=lambda e: e.event_id))
            if change.batch_id == batch_id:
                changes.append(change)
        return PendingQueueAuditBatchDetail(**summary.model_dump(), changes=changes)

    def net_changes(self, batch_id: int, domain: str | None = None) -> BatchNetChangeResponse:
        domain = domain or self.default_domain
        detail = self.batch(batch_id, domain)
        applied = [c for c in detail.changes if c.status == PendingChangeStatus.APPLIED.value]
        with self.db.read() as conn:
            writes = audit_index.catalog_events_for_changes(conn, [c.change_id for c in applied])
        groups: dict[tuple[str, str], list[AuditEvent]] = {}
        for ev in writes:
            groups.setdefault((ev.category, ev.model_name), []).append(ev)
        for c in applied:  # an applied change without a catalog write still shows up
            if c.category and c.model_name:
                groups.setdefault((c.category, c.model_name), [])
        models = [_net_change(cat, name, evs) for (cat, name), evs in groups.items()]
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
    body = _body(ev)
    return batch_id in (body.get("new_batch_id"), body.get("original_batch_id"))


def _net_change(category: str, name: str, events: list[AuditEvent]) -> ModelNetChange:
    before = events[0].payload.get("before") if events else None
    after = events[-1].payload.get("after") if events else None
    if before is None and after is not None:
        op = "added"
    elif before is not None and after is None:
        op = "deleted"
    elif before == after:
        op = "unchanged"
    else:
        op = "modified"
    diffs = diffing.field_diffs(before, after)
    try:
        critical = diffing.is_critical(Category(category), (d["field_path"] for d in diffs))
    except ValueError:
        critical = False
    return ModelNetChange(
        model_name=name,
        category=category,
        net_operation=op,
        before_state=before,
        after_state=after,
        field_diffs=[FieldDiff(**d) for d in diffs],
        is_critical=critical,
    )
