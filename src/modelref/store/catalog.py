"""SQL for the live catalog: the current record per (category, name) and per-category versions.

Every write records its category in the transaction's ``changed`` set, which after-commit
listeners (the read cache, the publisher) use to know what moved.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from modelref.store.prepared import Prepared
from modelref.store.sql import chunks
from modelref.store.tables import catalog_records, catalog_versions

R = catalog_records
V = catalog_versions

#: The columns :func:`_row` reads, in its order.
_COLUMNS = (R.c.category, R.c.name, R.c.record, R.c.content_hash, R.c.extras, R.c.position)
_GET = Prepared(
    select(*_COLUMNS).where(and_(R.c.category == bindparam("c"), R.c.name == bindparam("n")))
)
_OP_COLUMNS = {"create": "total_creates", "update": "total_updates", "delete": "total_deletes"}


@dataclass(frozen=True)
class CatalogRow:
    """A live record as stored, with its content hash and legacy-only extras."""

    category: str
    name: str
    record: dict[str, Any]
    content_hash: str
    extras: dict[str, Any] | None = None
    position: int = 0


@dataclass(frozen=True)
class CategoryVersion:
    """A category's version and upstream-style metadata counters."""

    category: str
    version: int
    last_updated: int | None
    last_operation_type: str | None
    last_operation_model: str | None
    total_creates: int
    total_updates: int
    total_deletes: int
    initialization_time: int | None
    source_sha256: str | None


def _row(row: Sequence[Any]) -> CatalogRow:
    """A row of :data:`_COLUMNS`."""
    category, name, record, content_hash, extras, position = row
    return CatalogRow(
        category=category,
        name=name,
        record=json.loads(record),
        content_hash=content_hash,
        extras=json.loads(extras) if extras else None,
        position=int(position),
    )


def _values(row: CatalogRow, now: int) -> dict[str, Any]:
    return {
        "record": json.dumps(row.record, ensure_ascii=False),
        "content_hash": row.content_hash,
        "extras": json.dumps(row.extras, ensure_ascii=False) if row.extras else None,
        "updated_at": now,
    }


class CatalogRepository:
    """The catalog of one transaction; writes add their category to ``changed``."""

    def __init__(self, conn: Connection, changed: set[str]) -> None:
        self.conn = conn
        self.changed = changed

    # ------------------------------------------------------------------ reads
    def get(self, category: str, name: str) -> CatalogRow | None:
        row = _GET.first(self.conn, {"c": category, "n": name})
        return _row(row) if row is not None else None

    def get_many(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CatalogRow]:
        by_category: dict[str, list[str]] = {}
        for category, name in keys:
            by_category.setdefault(category, []).append(name)
        found: dict[tuple[str, str], CatalogRow] = {}
        for category, names in by_category.items():
            for chunk in chunks(names):
                q = select(*_COLUMNS).where(R.c.category == category, R.c.name.in_(chunk))
                for row in self.conn.execute(q):
                    found[(row.category, row.name)] = _row(row)
        return found

    def rows(self, category: str) -> list[CatalogRow]:
        """Every record of ``category`` in file order."""
        q = select(*_COLUMNS).where(R.c.category == category).order_by(R.c.position, R.c.name)
        return [_row(r) for r in self.conn.execute(q)]

    def count(self, category: str) -> int:
        q = select(func.count()).select_from(R).where(R.c.category == category)
        return int(self.conn.execute(q).scalar_one())

    def versions(self) -> dict[str, int]:
        q = select(V.c.category, V.c.version)
        return {str(r.category): int(r.version) for r in self.conn.execute(q)}

    def version(self, category: str) -> CategoryVersion | None:
        row = self.conn.execute(select(V).where(V.c.category == category)).first()
        if row is None:
            return None
        data = dict(row._mapping)
        for key in _OP_COLUMNS.values():
            data[key] = int(data[key] or 0)
        return CategoryVersion(**data)

    # ------------------------------------------------------------------ writes
    def replace(self, category: str, rows: list[CatalogRow], now: int, source_sha256: str) -> None:
        """Make ``category`` hold exactly ``rows`` in that order (an import) and bump it."""
        self.conn.execute(delete(R).where(R.c.category == category))
        if rows:
            self.conn.execute(
                insert(R),
                [
                    {"category": category, "name": r.name, "position": i, **_values(r, now)}
                    for i, r in enumerate(rows, start=1)
                ],
            )
        self._bump(category, now, 1, {}, None, None, source_sha256)

    def write(
        self,
        category: str,
        upserts: list[CatalogRow],
        deletes: list[str],
        now: int,
        counts: dict[str, int],
        last: tuple[str, str],
    ) -> None:
        """Apply the final state of many records (an apply): one version step per change."""
        for chunk in chunks(deletes):
            self.conn.execute(delete(R).where(R.c.category == category, R.c.name.in_(chunk)))
        existing: set[str] = set()
        for chunk in chunks([u.name for u in upserts]):
            q = select(R.c.name).where(R.c.category == category, R.c.name.in_(chunk))
            existing.update(str(n) for n in self.conn.execute(q).scalars())
        updates = [
            {"c": category, "n": u.name, **_values(u, now)} for u in upserts if u.name in existing
        ]
        if updates:
            self.conn.execute(
                update(R).where(and_(R.c.category == bindparam("c"), R.c.name == bindparam("n"))),
                updates,
            )
        fresh = [u for u in upserts if u.name not in existing]
        if fresh:
            last_position = self.conn.execute(
                select(func.max(R.c.position)).where(R.c.category == category)
            ).scalar()
            base = int(last_position or 0)
            # A new record goes last; one that names its place (a revert re-creating a
            # deleted record) goes back there.
            self.conn.execute(
                insert(R),
                [
                    {
                        "category": category,
                        "name": u.name,
                        "position": u.position if u.position > 0 else base + i,
                        **_values(u, now),
                    }
                    for i, u in enumerate(fresh, start=1)
                ],
            )
        self._bump(category, now, sum(counts.values()), counts, *last, None)

    def _bump(
        self,
        category: str,
        now: int,
        steps: int,
        counts: dict[str, int],
        operation: str | None,
        model: str | None,
        source_sha256: str | None,
    ) -> None:
        self.changed.add(category)
        current = self.version(category)
        if current is None:
            self.conn.execute(
                insert(V).values(
                    category=category,
                    version=steps,
                    last_updated=now,
                    last_operation_type=operation,
                    last_operation_model=model,
                    initialization_time=now,
                    source_sha256=source_sha256,
                    **{col: counts.get(op, 0) for op, col in _OP_COLUMNS.items()},
                )
            )
            return
        values: dict[str, Any] = {"version": current.version + steps, "last_updated": now}
        if operation is not None:
            values["last_operation_type"] = operation
            values["last_operation_model"] = model
        if source_sha256 is not None:
            values["source_sha256"] = source_sha256
        for op, n in counts.items():
            values[_OP_COLUMNS[op]] = getattr(current, _OP_COLUMNS[op]) + n
        self.conn.execute(update(V).where(V.c.category == category).values(**values))
