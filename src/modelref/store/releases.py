"""SQL for catalog versions (``catalog_releases``) and their journal (``catalog_journal``).

Versions are allocated from a counter inside the write transaction of the catalog write they
describe, so they are dense and monotonic across every process on the database. Journal
records are stored as written (no key sorting): the feed hands them out byte-for-byte.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, Select, func, insert, select

from modelref.domain.releases import Approver, Entry, Release
from modelref.store.counters import Counters
from modelref.store.tables import catalog_journal, catalog_records, catalog_releases

R = catalog_releases
J = catalog_journal
VERSION_COUNTER = "catalog_version"

#: Journal columns a reader needs (the ``before`` columns only serve rebuilds).
_FEED_COLUMNS = (J.c.version, J.c.seq, J.c.category, J.c.model, J.c.operation, J.c.after)


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _release(row: Row[Any]) -> Release:
    return Release(
        version=int(row.version),
        created_at=int(row.created_at),
        source=str(row.source),
        title=row.title,
        job_id=row.job_id,
        actor_id=row.actor_id,
        actor_username=row.actor_username,
        change_ids=json.loads(row.change_ids),
        batch_ids=json.loads(row.batch_ids),
        approvers=[Approver(**a) for a in json.loads(row.approvers)],
        categories=json.loads(row.categories),
        hashes=json.loads(row.hashes),
        audit_event_id=int(row.audit_event_id),
        audit_hash=str(row.audit_hash),
    )


def _entry(row: Row[Any]) -> Entry:
    data = row._mapping
    return Entry(
        version=int(data["version"]),
        seq=int(data["seq"]),
        category=str(data["category"]),
        model=data["model"],
        operation=str(data["operation"]),
        after=_load(data["after"]),
        before=_load(data.get("before")),
        before_extras=_load(data.get("before_extras")),
        before_position=data.get("before_position"),
    )


class ReleaseRepository:
    """Catalog versions of one transaction; ``recorded`` lists the versions it wrote."""

    def __init__(self, conn: Connection, counters: Counters) -> None:
        self.conn = conn
        self.counters = counters
        self.recorded: list[int] = []

    # ------------------------------------------------------------------ writes
    def allocate(self) -> int:
        """The next catalog version (under the write lock)."""
        return self.counters.next(VERSION_COUNTER)

    def add(self, release: Release, entries: Sequence[Entry]) -> None:
        self.conn.execute(
            insert(R).values(
                version=release.version,
                created_at=release.created_at,
                source=release.source,
                title=release.title,
                job_id=release.job_id,
                actor_id=release.actor_id,
                actor_username=release.actor_username,
                change_ids=json.dumps(release.change_ids),
                batch_ids=json.dumps(release.batch_ids),
                approvers=json.dumps(
                    [{"user_id": a.user_id, "username": a.username} for a in release.approvers],
                    ensure_ascii=False,
                ),
                categories=json.dumps(release.categories),
                hashes=json.dumps(release.hashes, sort_keys=True),
                audit_event_id=release.audit_event_id,
                audit_hash=release.audit_hash,
            )
        )
        if entries:
            self.conn.execute(
                insert(J),
                [
                    {
                        "version": e.version,
                        "seq": e.seq,
                        "category": e.category,
                        "model": e.model,
                        "operation": e.operation,
                        "after": _dump(e.after),
                        "before": _dump(e.before),
                        "before_extras": _dump(e.before_extras),
                        "before_position": e.before_position,
                    }
                    for e in entries
                ],
            )
        self.recorded.append(release.version)

    # ------------------------------------------------------------------ reads
    def record_texts(self, category: str) -> list[tuple[str, str]]:
        """(name, stored JSON text) of a category's records in file order, unparsed."""
        C = catalog_records
        q = (
            select(C.c.name, C.c.record)
            .where(C.c.category == category)
            .order_by(C.c.position, C.c.name)
        )
        return [(str(n), str(t)) for n, t in self.conn.execute(q)]

    def latest_version(self) -> int:
        return int(self.conn.execute(select(func.max(R.c.version))).scalar() or 0)

    def get(self, version: int) -> Release | None:
        row = self.conn.execute(select(R).where(R.c.version == version)).first()
        return _release(row) if row is not None else None

    def latest(self) -> Release | None:
        row = self.conn.execute(select(R).order_by(R.c.version.desc()).limit(1)).first()
        return _release(row) if row is not None else None

    def sizes_after(self, since: int, limit: int) -> list[tuple[int, int]]:
        """(version, journal lines) of the first ``limit`` versions after ``since``."""
        lines = (select(J.c.version, func.count().label("n")).where(J.c.version > since)).group_by(
            J.c.version
        )
        counted = lines.subquery()
        q = (
            select(R.c.version, func.coalesce(counted.c.n, 0))
            .select_from(R.outerjoin(counted, counted.c.version == R.c.version))
            .where(R.c.version > since)
            .order_by(R.c.version)
            .limit(limit)
        )
        return [(int(v), int(n)) for v, n in self.conn.execute(q)]

    def changes(self, after: int, upto: int) -> list[Entry]:
        """Journal lines of versions in ``(after, upto]`` in order (without the ``before``)."""
        q: Select[Any] = (
            select(*_FEED_COLUMNS)
            .where(J.c.version > after, J.c.version <= upto)
            .order_by(J.c.version, J.c.seq)
        )
        return [_entry(r) for r in self.conn.execute(q)]

    def undo_log(self, category: str, after: int) -> list[Entry]:
        """Every journal line of ``category`` after version ``after``, newest first."""
        q = (
            select(J)
            .where(J.c.category == category, J.c.version > after)
            .order_by(J.c.version.desc(), J.c.seq.desc())
        )
        return [_entry(r) for r in self.conn.execute(q)]
