"""SQL for the pending queue. Callers pass the connection of the transaction they own."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from modelref.domain.queue_models import (
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
)
from modelref.store.tables import counters, pending_changes

T = pending_changes
_JSON_COLUMNS = ("payload", "request_metadata", "related_models")
_RECORD_FIELDS = tuple(PendingChangeRecord.model_fields)


_BUMP = (
    update(counters)
    .where(counters.c.name == bindparam("n"))
    .values(value=counters.c.value + 1)
    .returning(counters.c.value)
)
_SET = update(counters).where(counters.c.name == bindparam("n")).values(value=bindparam("v"))


def next_id(conn: Connection, name: str) -> int:
    """Allocate the next value of counter ``name`` inside the caller's write transaction."""
    value = conn.execute(_BUMP, {"n": name}).scalar()
    if value is None:
        conn.execute(insert(counters), {"name": name, "value": 1})
        return 1
    return int(value)


def set_counter(conn: Connection, name: str, value: int) -> None:
    """Record ``value`` under ``name`` (creating the counter)."""
    if conn.execute(_SET, {"n": name, "v": value}).rowcount == 0:
        conn.execute(insert(counters), {"name": name, "value": value})


def peek_id(conn: Connection, name: str) -> int:
    """The last value handed out by counter ``name`` (0 when none)."""
    value = conn.execute(select(counters.c.value).where(counters.c.name == name)).scalar()
    return int(value or 0)


def to_row(record: PendingChangeRecord) -> dict[str, Any]:
    data = record.model_dump(mode="json")
    for key in _JSON_COLUMNS:
        if data[key] is not None:
            data[key] = json.dumps(data[key], ensure_ascii=False)
    return data


def from_row(row: Any) -> PendingChangeRecord:
    mapping = row._mapping
    data = {key: mapping[key] for key in _RECORD_FIELDS}
    for key in _JSON_COLUMNS:
        if data[key] is not None:
            data[key] = json.loads(data[key])
    return PendingChangeRecord.model_validate(data)


def insert_change(conn: Connection, record: PendingChangeRecord) -> None:
    conn.execute(insert(T), to_row(record))


_GET = select(T).where(T.c.change_id == bindparam("id"))


def get(conn: Connection, change_id: int) -> PendingChangeRecord | None:
    row = conn.execute(_GET, {"id": change_id}).first()
    return from_row(row) if row is not None else None


def get_many(conn: Connection, change_ids: Iterable[int]) -> dict[int, PendingChangeRecord]:
    ids = list(set(change_ids))
    found: dict[int, PendingChangeRecord] = {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(T).where(T.c.change_id.in_(ids[start : start + 500])))
        for row in rows:
            found[int(row.change_id)] = from_row(row)
    return found


def _conditions(flt: PendingQueueFilter | None) -> list[ColumnElement[bool]]:
    if flt is None:
        return []
    conds: list[ColumnElement[bool]] = []
    if flt.statuses:
        conds.append(T.c.status.in_(sorted(s.value for s in flt.statuses)))
    if flt.categories:
        conds.append(T.c.category.in_(sorted(c.value for c in flt.categories)))
    if flt.batch_id is not None:
        conds.append(T.c.batch_id == flt.batch_id)
    if flt.requested_by:
        conds.append(T.c.requested_by.in_(sorted(flt.requested_by)))
    if flt.model_name and flt.model_name.strip():
        needle = flt.model_name.strip().lower()
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conds.append(func.lower(T.c.model_name).like(f"%{escaped}%", escape="\\"))
    return conds


def list_page(
    conn: Connection, flt: PendingQueueFilter | None, offset: int, limit: int | None
) -> tuple[list[PendingChangeRecord], int]:
    """Matches ordered by change id, and the count of all matches before paging."""
    conds = _conditions(flt)
    where = and_(*conds) if conds else None
    count_q = select(func.count()).select_from(T)
    page_q = select(T).order_by(T.c.change_id).offset(offset)
    if where is not None:
        count_q = count_q.where(where)
        page_q = page_q.where(where)
    if limit is not None:
        page_q = page_q.limit(limit)
    total = int(conn.execute(count_q).scalar_one())
    return [from_row(r) for r in conn.execute(page_q)], total


def matching_ids(conn: Connection, flt: PendingQueueFilter | None) -> list[int]:
    conds = _conditions(flt)
    q = select(T.c.change_id).order_by(T.c.change_id)
    if conds:
        q = q.where(and_(*conds))
    return [int(v) for v in conn.execute(q).scalars()]


def set_status(
    conn: Connection,
    change_id: int,
    expected: PendingChangeStatus,
    new: PendingChangeStatus,
    values: dict[str, Any],
) -> bool:
    """Compare-and-set the status; the only writer of ``status``. False if it moved meanwhile."""
    result = conn.execute(
        update(T)
        .where(and_(T.c.change_id == change_id, T.c.status == expected.value))
        .values(status=new.value, **values)
    )
    return result.rowcount == 1


def set_status_many(
    conn: Connection,
    change_ids: Sequence[int],
    expected: PendingChangeStatus,
    new: PendingChangeStatus,
    values: dict[str, Any],
) -> int:
    """Compare-and-set many rows at once; returns how many rows actually moved."""
    moved = 0
    for start in range(0, len(change_ids), 500):
        chunk = list(change_ids[start : start + 500])
        result = conn.execute(
            update(T)
            .where(and_(T.c.change_id.in_(chunk), T.c.status == expected.value))
            .values(status=new.value, **values)
        )
        moved += int(result.rowcount)
    return moved


def reassign_batch(conn: Connection, change_ids: Sequence[int], batch_id: int, now: int) -> None:
    for start in range(0, len(change_ids), 500):
        chunk = list(change_ids[start : start + 500])
        conn.execute(
            update(T).where(T.c.change_id.in_(chunk)).values(batch_id=batch_id, updated_at=now)
        )


def open_batch_id(conn: Connection) -> int | None:
    """Batch of the approved change met first (lowest id), as the seed's single-open-batch rule."""
    q = (
        select(T.c.batch_id)
        .where(T.c.status == PendingChangeStatus.APPROVED.value)
        .order_by(T.c.change_id)
        .limit(1)
    )
    value = conn.execute(q).scalar()
    return int(value) if value is not None else None


def approved_in_batch(conn: Connection, batch_id: int) -> list[int]:
    q = (
        select(T.c.change_id)
        .where(and_(T.c.batch_id == batch_id, T.c.status == PendingChangeStatus.APPROVED.value))
        .order_by(T.c.change_id)
    )
    return [int(v) for v in conn.execute(q).scalars()]


def in_batch(conn: Connection, batch_id: int) -> list[PendingChangeRecord]:
    q = select(T).where(T.c.batch_id == batch_id).order_by(T.c.change_id)
    return [from_row(r) for r in conn.execute(q)]


def delete_ids(conn: Connection, change_ids: Sequence[int]) -> None:
    for start in range(0, len(change_ids), 500):
        conn.execute(T.delete().where(T.c.change_id.in_(list(change_ids[start : start + 500]))))


def applying(
    conn: Connection, lease_expired_before: int | None = None
) -> list[PendingChangeRecord]:
    q = select(T).where(T.c.status == PendingChangeStatus.APPLYING.value).order_by(T.c.change_id)
    if lease_expired_before is not None:
        q = q.where(
            or_(T.c.lease_expires_at.is_(None), T.c.lease_expires_at < lease_expired_before)
        )
    return [from_row(r) for r in conn.execute(q)]


def open_on_model(conn: Connection, category: str, model_name: str) -> list[PendingChangeRecord]:
    q = (
        select(T)
        .where(
            and_(
                T.c.category == category,
                T.c.model_name == model_name,
                T.c.status.in_(
                    [PendingChangeStatus.PENDING.value, PendingChangeStatus.APPROVED.value]
                ),
            )
        )
        .order_by(T.c.change_id)
    )
    return [from_row(r) for r in conn.execute(q)]


def open_ids_by_model(
    conn: Connection, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[int]]:
    """Open (pending/approved) change ids per (category, model name), in one query per 500
    names instead of one per model (the diff page asks for up to hundreds of models)."""
    wanted = set(keys)
    found: dict[tuple[str, str], list[int]] = {key: [] for key in wanted}
    names = sorted({name for _category, name in wanted})
    statuses = [PendingChangeStatus.PENDING.value, PendingChangeStatus.APPROVED.value]
    for start in range(0, len(names), 500):
        q = (
            select(T.c.change_id, T.c.category, T.c.model_name)
            .where(and_(T.c.model_name.in_(names[start : start + 500]), T.c.status.in_(statuses)))
            .order_by(T.c.change_id)
        )
        for row in conn.execute(q):
            key = (str(row.category), str(row.model_name))
            if key in wanted:
                found[key].append(int(row.change_id))
    return found


def open_in_category(conn: Connection, category: str) -> list[PendingChangeRecord]:
    q = (
        select(T)
        .where(
            and_(
                T.c.category == category,
                T.c.status.in_(
                    [PendingChangeStatus.PENDING.value, PendingChangeStatus.APPROVED.value]
                ),
            )
        )
        .order_by(T.c.change_id)
    )
    return [from_row(r) for r in conn.execute(q)]


def all_records(conn: Connection) -> list[PendingChangeRecord]:
    return [from_row(r) for r in conn.execute(select(T).order_by(T.c.change_id))]


def ids_for_model(conn: Connection, category: str, model_name: str) -> list[int]:
    """Every change (any status) proposed for one model."""
    q = select(T.c.change_id).where(and_(T.c.category == category, T.c.model_name == model_name))
    return [int(v) for v in conn.execute(q).scalars()]
