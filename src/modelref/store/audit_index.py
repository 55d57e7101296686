"""Indexed audit-log queries for the audit views (never a scan of the whole log)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, select, union

from modelref.domain.audit import QUEUE_CATEGORY, AuditEvent
from modelref.store.audit_store import _from_row
from modelref.store.tables import audit_events, pending_changes

A = audit_events
P = pending_changes
_CHUNK = 500


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = sorted(set(ids))
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def queue_events_for_changes(
    conn: Connection, change_ids: Iterable[int], domain: str
) -> list[AuditEvent]:
    """Queue lifecycle events of these changes in one domain, in event order (change_id index)."""
    found: list[AuditEvent] = []
    for chunk in _chunks(change_ids):
        q = select(A).where(
            and_(A.c.change_id.in_(chunk), A.c.category == QUEUE_CATEGORY, A.c.domain == domain)
        )
        found.extend(_from_row(r) for r in conn.execute(q))
    return sorted(found, key=lambda e: e.event_id)


def catalog_events_for_changes(conn: Connection, change_ids: Iterable[int]) -> list[AuditEvent]:
    """Catalog writes (apply events with before/after) made by these changes, in event order."""
    found: list[AuditEvent] = []
    for chunk in _chunks(change_ids):
        q = select(A).where(and_(A.c.change_id.in_(chunk), A.c.category != QUEUE_CATEGORY))
        found.extend(_from_row(r) for r in conn.execute(q))
    return sorted(found, key=lambda e: e.event_id)


def queue_events_for_batches(
    conn: Connection, batch_ids: Iterable[int], domain: str
) -> list[AuditEvent]:
    """Queue events tagged with these batch ids (batch_id index), in event order."""
    found: list[AuditEvent] = []
    for chunk in _chunks(batch_ids):
        q = select(A).where(
            and_(A.c.batch_id.in_(chunk), A.c.category == QUEUE_CATEGORY, A.c.domain == domain)
        )
        found.extend(_from_row(r) for r in conn.execute(q))
    return sorted(found, key=lambda e: e.event_id)


def split_events(conn: Connection, domain: str) -> list[AuditEvent]:
    """Every ``batch_split`` event of a domain (action index; at most one per apply call)."""
    q = (
        select(A)
        .where(and_(A.c.action == "batch_split", A.c.domain == domain))
        .order_by(A.c.event_id)
    )
    return [_from_row(r) for r in conn.execute(q)]


def batch_ids_before(conn: Connection, domain: str, cursor: int | None, limit: int) -> list[int]:
    """Batch ids below ``cursor``, newest first: those named in the log or held by a change."""
    logged = select(A.c.batch_id.label("b")).where(
        and_(A.c.batch_id.is_not(None), A.c.domain == domain)
    )
    held = select(P.c.batch_id.label("b")).where(P.c.batch_id.is_not(None))
    if cursor is not None:
        logged = logged.where(A.c.batch_id < cursor)
        held = held.where(P.c.batch_id < cursor)
    both = union(logged, held).subquery()
    q = select(both.c.b).order_by(both.c.b.desc()).limit(limit)
    return [int(v) for v in conn.execute(q).scalars()]


def batch_holders(conn: Connection, batch_id: int) -> list[int]:
    """Ids of changes currently in ``batch_id`` (covers split-created batches)."""
    q = select(P.c.change_id).where(P.c.batch_id == batch_id).order_by(P.c.change_id)
    return [int(v) for v in conn.execute(q).scalars()]
