"""SQL for the append-only, hash-chained audit log; indexed reads for the audit views."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, union
from sqlalchemy.sql.elements import ColumnElement

from modelref.domain.audit import GENESIS_HASH, QUEUE_CATEGORY, AuditEvent, NewEvent
from modelref.store.counters import Counters
from modelref.store.prepared import Prepared
from modelref.store.sql import chunks
from modelref.store.tables import audit_events, pending_changes

A = audit_events
P = pending_changes

#: Counter holding the id of the last appended event, so a truncated tail is detectable.
HEAD_COUNTER = "audit_head"

_LAST = Prepared(select(A.c.event_id, A.c.hash).order_by(A.c.event_id.desc()).limit(1))
_INSERT = Prepared(insert(A), [c.name for c in A.c])


def _event(row: Row[Any]) -> AuditEvent:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"]) if data["payload"] else {}
    return AuditEvent(**data)


def _sorted(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    return sorted({e.event_id: e for e in events}.values(), key=lambda e: e.event_id)


class AuditRepository:
    """The audit log of one transaction (appends need the serialized write transaction)."""

    def __init__(self, conn: Connection, counters: Counters) -> None:
        self.conn = conn
        self.counters = counters
        #: Every event this transaction appended (before-commit listeners read them).
        self.appended: list[AuditEvent] = []

    # ------------------------------------------------------------------ append
    def append(self, events: list[NewEvent]) -> list[AuditEvent]:
        """Chain and insert ``events`` in order, with one read of the chain head."""
        if not events:
            return []
        last = _LAST.first(self.conn)
        prev_id, prev_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS_HASH)
        chained: list[AuditEvent] = []
        rows = []
        for draft in events:
            prev_id += 1
            event = draft.chained(prev_id, prev_hash)
            prev_hash = event.hash
            chained.append(event)
            # The record's own key order is kept (the chain hashes canonical JSON anyway), so
            # a before-image read back is the record byte for byte: a revert restores it.
            rows.append(
                {**event.__dict__, "payload": json.dumps(event.payload, ensure_ascii=False)}
            )
        _INSERT.run(self.conn, rows)
        self.counters.set(HEAD_COUNTER, chained[-1].event_id)
        self.appended.extend(chained)
        return chained

    # ------------------------------------------------------------------ reads
    def iter(self, *where: ColumnElement[bool], chunk: int = 2000) -> Iterator[AuditEvent]:
        """Events in id order, read in chunks so the whole log never sits in memory."""
        after = 0
        while True:
            q = select(A).where(A.c.event_id > after, *where).order_by(A.c.event_id).limit(chunk)
            rows = self.conn.execute(q).fetchall()
            if not rows:
                return
            yield from (_event(r) for r in rows)
            after = int(rows[-1].event_id)

    def head(self) -> int:
        """The last event id the log claims to hold (0 for a new database)."""
        return self.counters.peek(HEAD_COUNTER)

    def last(self) -> AuditEvent | None:
        """The newest event (the chain head), if any."""
        row = self.conn.execute(select(A).order_by(A.c.event_id.desc()).limit(1)).first()
        return _event(row) if row is not None else None

    def latest(self, limit: int) -> list[AuditEvent]:
        """The newest ``limit`` events, oldest first (primary-key index, no scan)."""
        rows = self.conn.execute(select(A).order_by(A.c.event_id.desc()).limit(limit)).fetchall()
        return [_event(r) for r in reversed(rows)]

    def for_model(self, category: str, model_name: str) -> list[AuditEvent]:
        """Catalog events of one model (the partial category/model index needs the third
        term spelled out)."""
        where = (A.c.category == category, A.c.model_name == model_name)
        return list(self.iter(*where, A.c.category != QUEUE_CATEGORY))

    def for_changes(
        self, change_ids: Iterable[int], *, queue_domain: str | None = None
    ) -> list[AuditEvent]:
        """Events of these changes (change_id index); only queue events of one domain if given."""
        where: list[ColumnElement[bool]] = []
        if queue_domain is not None:
            where = [A.c.category == QUEUE_CATEGORY, A.c.domain == queue_domain]
        found: list[AuditEvent] = []
        for chunk in chunks(sorted(set(change_ids))):
            q = select(A).where(A.c.change_id.in_(chunk), *where)
            found.extend(_event(r) for r in self.conn.execute(q))
        return _sorted(found)

    def catalog_writes(self, change_ids: Iterable[int]) -> list[AuditEvent]:
        """Catalog writes (before/after snapshots) made by these changes, in event order."""
        found: list[AuditEvent] = []
        for chunk in chunks(sorted(set(change_ids))):
            q = select(A).where(A.c.change_id.in_(chunk), A.c.category != QUEUE_CATEGORY)
            found.extend(_event(r) for r in self.conn.execute(q))
        return _sorted(e for e in found if e.action is None)

    def for_batches(
        self, batch_ids: Iterable[int], *, queue_domain: str | None = None
    ) -> list[AuditEvent]:
        """Events tagged with these batch ids (batch_id index), in event order."""
        where: list[ColumnElement[bool]] = []
        if queue_domain is not None:
            where = [A.c.category == QUEUE_CATEGORY, A.c.domain == queue_domain]
        found: list[AuditEvent] = []
        for chunk in chunks(sorted(set(batch_ids))):
            q = select(A).where(A.c.batch_id.in_(chunk), *where)
            found.extend(_event(r) for r in self.conn.execute(q))
        return _sorted(found)

    def splits(self, domain: str) -> list[AuditEvent]:
        """Every ``batch_split`` event of a domain (action index; at most one per apply).
        A split always names its batch; the partial index needs that said."""
        q = select(A).where(
            A.c.action == "batch_split", A.c.batch_id.is_not(None), A.c.domain == domain
        )
        return [_event(r) for r in self.conn.execute(q.order_by(A.c.event_id))]

    def batch_ids_before(self, domain: str, cursor: int | None, limit: int) -> list[int]:
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
        return [int(v) for v in self.conn.execute(q).scalars()]

    def applied_batches(self, before: int | None, limit: int) -> list[tuple[int, int]]:
        """(batch id, its last apply event id), newest first; ``before`` is a cursor on that id."""
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
        return [(int(r.batch_id), int(r.last_event)) for r in self.conn.execute(query)]
