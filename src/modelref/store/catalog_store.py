"""SQL for the live catalog: current record per (category, name) and per-category versions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, update

from modelref.store.tables import catalog_records, catalog_versions

R = catalog_records
V = catalog_versions


@dataclass(frozen=True)
class StoredRecord:
    """A live record as stored, with its content hash and legacy-only extras."""

    category: str
    name: str
    record: dict[str, Any]
    content_hash: str
    extras: dict[str, Any] | None
    position: int


def _from_row(row: Any) -> StoredRecord:
    return StoredRecord(
        category=row.category,
        name=row.name,
        record=json.loads(row.record),
        content_hash=row.content_hash,
        extras=json.loads(row.extras) if row.extras else None,
        position=int(row.position),
    )


_GET = select(R).where(and_(R.c.category == bindparam("c"), R.c.name == bindparam("n")))


def get(conn: Connection, category: str, name: str) -> StoredRecord | None:
    row = conn.execute(_GET, {"c": category, "n": name}).first()
    return _from_row(row) if row is not None else None


def get_many(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], StoredRecord]:
    found: dict[tuple[str, str], StoredRecord] = {}
    by_category: dict[str, list[str]] = {}
    for category, name in keys:
        by_category.setdefault(category, []).append(name)
    for category, names in by_category.items():
        for start in range(0, len(names), 500):
            q = select(R).where(
                and_(R.c.category == category, R.c.name.in_(names[start : start + 500]))
            )
            for row in conn.execute(q):
                found[(row.category, row.name)] = _from_row(row)
    return found


def list_category(conn: Connection, category: str) -> list[StoredRecord]:
    q = select(R).where(R.c.category == category).order_by(R.c.position, R.c.name)
    return [_from_row(r) for r in conn.execute(q)]


def hashes(conn: Connection, category: str) -> dict[str, str]:
    q = select(R.c.name, R.c.content_hash).where(R.c.category == category)
    return {str(r.name): str(r.content_hash) for r in conn.execute(q)}


def put(
    conn: Connection,
    category: str,
    name: str,
    record: dict[str, Any],
    content_hash: str,
    extras: dict[str, Any] | None,
    now: int,
    position: int | None = None,
) -> None:
    """Insert or replace one record (new records go after the existing ones)."""
    body = json.dumps(record, ensure_ascii=False)
    extras_text = json.dumps(extras, ensure_ascii=False) if extras else None
    exists = conn.execute(
        select(R.c.position).where(and_(R.c.category == category, R.c.name == name))
    ).first()
    if exists is not None:
        values: dict[str, Any] = {
            "record": body,
            "content_hash": content_hash,
            "extras": extras_text,
            "updated_at": now,
        }
        if position is not None:
            values["position"] = position
        conn.execute(
            update(R).where(and_(R.c.category == category, R.c.name == name)).values(**values)
        )
        return
    if position is None:
        last = conn.execute(select(func.max(R.c.position)).where(R.c.category == category)).scalar()
        position = int(last or 0) + 1
    conn.execute(
        insert(R).values(
            category=category,
            name=name,
            record=body,
            content_hash=content_hash,
            extras=extras_text,
            position=position,
            updated_at=now,
        )
    )


def remove(conn: Connection, category: str, name: str) -> bool:
    result = conn.execute(delete(R).where(and_(R.c.category == category, R.c.name == name)))
    return result.rowcount == 1


def versions(conn: Connection) -> dict[str, int]:
    return {
        str(r.category): int(r.version) for r in conn.execute(select(V.c.category, V.c.version))
    }


def version_row(conn: Connection, category: str) -> dict[str, Any] | None:
    row = conn.execute(select(V).where(V.c.category == category)).first()
    return dict(row._mapping) if row is not None else None


def all_version_rows(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(V).order_by(V.c.category))]


def bump_version(
    conn: Connection,
    category: str,
    now: int,
    operation: str | None = None,
    model_name: str | None = None,
    source_sha256: str | None = None,
) -> int:
    """Increase the category's version (creating its row) and record the last operation."""
    row = version_row(conn, category)
    counts = {"create": "total_creates", "update": "total_updates", "delete": "total_deletes"}
    if row is None:
        values: dict[str, Any] = {
            "category": category,
            "version": 1,
            "last_updated": now,
            "last_operation_type": operation,
            "last_operation_model": model_name,
            "total_creates": 0,
            "total_updates": 0,
            "total_deletes": 0,
            "initialization_time": now,
            "source_sha256": source_sha256,
        }
        if operation in counts:
            values[counts[operation]] = 1
        conn.execute(insert(V).values(**values))
        return 1
    new_version = int(row["version"]) + 1
    values = {"version": new_version, "last_updated": now}
    if operation is not None:
        values["last_operation_type"] = operation
        values["last_operation_model"] = model_name
    if operation in counts:
        values[counts[operation]] = int(row[counts[operation]]) + 1
    if source_sha256 is not None:
        values["source_sha256"] = source_sha256
    conn.execute(update(V).where(V.c.category == category).values(**values))
    return new_version


def replace_category(
    conn: Connection,
    category: str,
    rows: list[tuple[str, dict[str, Any], str, dict[str, Any] | None]],
    now: int,
) -> None:
    """Make ``category`` hold exactly ``rows`` (name, record, hash, extras), in that order."""
    conn.execute(delete(R).where(R.c.category == category))
    if not rows:
        return
    conn.execute(
        insert(R),
        [
            {
                "category": category,
                "name": name,
                "record": json.dumps(record, ensure_ascii=False),
                "content_hash": digest,
                "extras": json.dumps(extras, ensure_ascii=False) if extras else None,
                "position": index,
                "updated_at": now,
            }
            for index, (name, record, digest, extras) in enumerate(rows, start=1)
        ],
    )


def write_many(
    conn: Connection,
    category: str,
    upserts: list[tuple[str, dict[str, Any], str, dict[str, Any] | None]],
    deletes: list[str],
    now: int,
) -> None:
    """Apply the final state of many records of one category with a few statements."""
    for start in range(0, len(deletes), 500):
        conn.execute(
            delete(R).where(
                and_(R.c.category == category, R.c.name.in_(deletes[start : start + 500]))
            )
        )
    if not upserts:
        return
    names = [u[0] for u in upserts]
    existing: set[str] = set()
    for start in range(0, len(names), 500):
        q = select(R.c.name).where(
            and_(R.c.category == category, R.c.name.in_(names[start : start + 500]))
        )
        existing.update(str(n) for n in conn.execute(q).scalars())
    updates = [
        {
            "c": category,
            "n": name,
            "record": json.dumps(record, ensure_ascii=False),
            "content_hash": digest,
            "extras": json.dumps(extras, ensure_ascii=False) if extras else None,
            "updated_at": now,
        }
        for name, record, digest, extras in upserts
        if name in existing
    ]
    if updates:
        conn.execute(
            update(R).where(and_(R.c.category == bindparam("c"), R.c.name == bindparam("n"))),
            updates,
        )
    fresh = [u for u in upserts if u[0] not in existing]
    if fresh:
        last = conn.execute(select(func.max(R.c.position)).where(R.c.category == category)).scalar()
        base = int(last or 0)
        conn.execute(
            insert(R),
            [
                {
                    "category": category,
                    "name": name,
                    "record": json.dumps(record, ensure_ascii=False),
                    "content_hash": digest,
                    "extras": json.dumps(extras, ensure_ascii=False) if extras else None,
                    "position": base + offset,
                    "updated_at": now,
                }
                for offset, (name, record, digest, extras) in enumerate(fresh, start=1)
            ],
        )


def bump_version_by(
    conn: Connection,
    category: str,
    now: int,
    counts: dict[str, int],
    last_operation: str,
    last_model: str,
) -> int:
    """One version step per change (``sum(counts)``), recorded in a single update."""
    steps = sum(counts.values())
    row = version_row(conn, category)
    if row is None:
        bump_version(conn, category, now, None, None)
        row = version_row(conn, category)
        assert row is not None
        steps -= 1
    columns = {"create": "total_creates", "update": "total_updates", "delete": "total_deletes"}
    values: dict[str, Any] = {
        "version": int(row["version"]) + steps,
        "last_updated": now,
        "last_operation_type": last_operation,
        "last_operation_model": last_model,
    }
    for op, n in counts.items():
        values[columns[op]] = int(row[columns[op]] or 0) + n
    conn.execute(update(V).where(V.c.category == category).values(**values))
    return int(values["version"])
