"""SQL for the append-only audit log."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.sql.elements import ColumnElement

from modelref.domain.audit import GENESIS_HASH, AuditEvent, chain_hash
from modelref.store import queue_store
from modelref.store.tables import audit_events

A = audit_events

#: Counter holding the id of the last appended event, so a truncated tail is detectable.
HEAD_COUNTER = "audit_head"


_LAST = select(A.c.event_id, A.c.hash).order_by(A.c.event_id.desc()).limit(1)


def append(conn: Connection, **fields: Any) -> AuditEvent:
    """Chain and insert one event; must run inside a serialized write transaction."""
    last = conn.execute(_LAST).first()
    prev_id, prev_hash = (int(last.event_id), str(last.hash)) if last else (0, GENESIS_HASH)
    draft = AuditEvent(event_id=prev_id + 1, prev_hash=prev_hash, **fields)
    event = replace(draft, hash=chain_hash(prev_hash, draft))
    row = dict(event.__dict__)
    row["payload"] = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
    conn.execute(insert(A), row)
    queue_store.set_counter(conn, HEAD_COUNTER, event.event_id)
    return event


def append_many(conn: Connection, events: list[dict[str, Any]]) -> list[AuditEvent]:
    """Chain and insert several events in order with one read of the chain head."""
    if not events:
        return []
    last = conn.execute(_LAST).first()
    prev_id, prev_hash = (int(last.event_id), str(last.hash)) if last else (0, GENESIS_HASH)
    chained: list[AuditEvent] = []
    rows: list[dict[str, Any]] = []
    for fields in events:
        prev_id += 1
        draft = AuditEvent(event_id=prev_id, prev_hash=prev_hash, **fields)
        event = replace(draft, hash=chain_hash(prev_hash, draft))
        prev_hash = event.hash
        chained.append(event)
        row = dict(event.__dict__)
        row["payload"] = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
        rows.append(row)
    conn.execute(insert(A), rows)
    queue_store.set_counter(conn, HEAD_COUNTER, chained[-1].event_id)
    return chained


def _from_row(row: Any) -> AuditEvent:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"]) if data["payload"] else {}
    return AuditEvent(**data)


def iter_events(
    conn: Connection, *where: ColumnElement[bool], chunk: int = 2000
) -> Iterator[AuditEvent]:
    """Events in id order, read in chunks so the whole log never sits in memory at once."""
    after = 0
    while True:
        q = select(A).where(A.c.event_id > after, *where).order_by(A.c.event_id).limit(chunk)
        rows = conn.execute(q).fetchall()
        if not rows:
            return
        for row in rows:
            yield _from_row(row)
        after = int(rows[-1].event_id)


def for_change(conn: Connection, change_id: int) -> list[AuditEvent]:
    return list(iter_events(conn, A.c.change_id == change_id))


def for_batch(conn: Connection, batch_id: int) -> list[AuditEvent]:
    return list(iter_events(conn, A.c.batch_id == batch_id))


def for_model(conn: Connection, category: str, model_name: str) -> list[AuditEvent]:
    return list(iter_events(conn, A.c.category == category, A.c.model_name == model_name))


def count(conn: Connection) -> int:
    last = conn.execute(select(A.c.event_id).order_by(A.c.event_id.desc()).limit(1)).scalar()
    return int(last or 0)


def head(conn: Connection) -> int:
    """The last event id the log claims to hold (0 for a new or pre-head database)."""
    return queue_store.peek_id(conn, HEAD_COUNTER)


def latest(conn: Connection, limit: int) -> list[AuditEvent]:
    """The newest ``limit`` events, oldest first (primary-key index, no scan)."""
    rows = conn.execute(select(A).order_by(A.c.event_id.desc()).limit(limit)).fetchall()
    return [_from_row(r) for r in reversed(rows)]


def applied_batch_page(conn: Connection, before: int | None, limit: int) -> list[tuple[int, int]]:
    """(batch id, its last apply event id), newest first, ``before`` as a cursor on that id."""
    last = func.max(A.c.event_id).label("last_event")
    query = (
        select(A.c.batch_id, last)
        .where(A.c.action == "apply", A.c.batch_id.is_not(None))
        .group_by(A.c.batch_id)
        .order_by(last.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.having(last < before)
    return [(int(r.batch_id), int(r.last_event)) for r in conn.execute(query)]


def for_changes(conn: Connection, change_ids: list[int]) -> list[AuditEvent]:
    """Events of several changes (change_id index), in event order per chunk."""
    found: list[AuditEvent] = []
    for start in range(0, len(change_ids), 500):
        found.extend(iter_events(conn, A.c.change_id.in_(change_ids[start : start + 500])))
    return found
