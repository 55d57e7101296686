"""SQL for the pending queue, bound to one transaction.

:meth:`QueueRepository.move` is the only writer of ``status``: a compare-and-set that reports
how many rows really moved, so a concurrent change is noticed instead of overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from modelref.domain.queue_models import (
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
)
from modelref.domain.transitions import OPEN
from modelref.store import approvals
from modelref.store.prepared import Prepared
from modelref.store.sql import chunks
from modelref.store.tables import pending_changes

T = pending_changes
_JSON_COLUMNS = ("payload", "request_metadata", "related_models")
#: Record fields stored in the row (approvals live in their own table: see store/approvals).
_RECORD_FIELDS = tuple(f for f in PendingChangeRecord.model_fields if f in T.c)
#: ``page`` orders: upstream's (change id), oldest first, newest first.
SORTS = ("change_id", "age", "-age")
_OPEN = sorted(s.value for s in OPEN)
_INSERT = Prepared(insert(T), _RECORD_FIELDS)
_GET = select(T).where(T.c.change_id == bindparam("id"))


def to_row(record: PendingChangeRecord) -> dict[str, Any]:
    """The record as a row, from its JSON form (``model_dump(mode="json")``)."""
    return _row_of(record.model_dump(mode="json"))


def _row_of(data: dict[str, Any]) -> dict[str, Any]:
    row = {key: data.get(key) for key in _RECORD_FIELDS}
    for key in _JSON_COLUMNS:
        if row[key] is not None:
            row[key] = json.dumps(row[key], ensure_ascii=False)
    return row


def _from_row(row: Row[Any]) -> PendingChangeRecord:
    mapping = row._mapping
    data = {key: mapping[key] for key in _RECORD_FIELDS}
    for key in _JSON_COLUMNS:
        if data[key] is not None:
            data[key] = json.loads(data[key])
    return PendingChangeRecord.model_validate(data)


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


class QueueRepository:
    """Pending changes of one transaction."""

    def __init__(self, conn: Connection, *, attach_approvals: bool = True) -> None:
        self.conn = conn
        self.attach_approvals = attach_approvals

    def _attach(self, records: list[PendingChangeRecord]) -> list[PendingChangeRecord]:
        return approvals.attach(self.conn, records) if self.attach_approvals else records

    def _records(self, query: Any) -> list[PendingChangeRecord]:
        return self._attach([_from_row(r) for r in self.conn.execute(query)])

    # ------------------------------------------------------------------ reads
    def get(self, change_id: int) -> PendingChangeRecord | None:
        row = self.conn.execute(_GET, {"id": change_id}).first()
        return self._attach([_from_row(row)])[0] if row is not None else None

    def get_many(self, change_ids: Iterable[int]) -> dict[int, PendingChangeRecord]:
        found: dict[int, PendingChangeRecord] = {}
        for chunk in chunks(sorted(set(change_ids))):
            for record in self._records(select(T).where(T.c.change_id.in_(chunk))):
                found[record.change_id] = record
        return found

    def page(
        self,
        flt: PendingQueueFilter | None,
        offset: int,
        limit: int | None,
        sort: str = "change_id",
    ) -> tuple[list[PendingChangeRecord], int]:
        """Matches in ``sort`` order (:data:`SORTS`), and the count of all matches."""
        conds = _conditions(flt)
        count_q = select(func.count()).select_from(T).where(*conds)
        order: tuple[Any, ...] = (T.c.change_id,)
        if sort == "age":
            order = (T.c.requested_at, T.c.change_id)
        elif sort == "-age":
            order = (T.c.requested_at.desc(), T.c.change_id.desc())
        page_q = select(T).where(*conds).order_by(*order).offset(offset)
        if limit is not None:
            page_q = page_q.limit(limit)
        total = int(self.conn.execute(count_q).scalar_one())
        return self._records(page_q), total

    def ids(self, flt: PendingQueueFilter | None) -> list[int]:
        q = select(T.c.change_id).where(*_conditions(flt)).order_by(T.c.change_id)
        return [int(v) for v in self.conn.execute(q).scalars()]

    def counts_by_status(self) -> dict[PendingChangeStatus, int]:
        q = select(T.c.status, func.count()).group_by(T.c.status)
        return {PendingChangeStatus(s): int(n) for s, n in self.conn.execute(q)}

    def open_batch_id(self) -> int | None:
        """Batch of the approved change met first (lowest id): the seed's single open batch."""
        q = (
            select(T.c.batch_id)
            .where(T.c.status == PendingChangeStatus.APPROVED.value)
            .order_by(T.c.change_id)
            .limit(1)
        )
        value = self.conn.execute(q).scalar()
        return int(value) if value is not None else None

    def in_batch(self, batch_id: int) -> list[PendingChangeRecord]:
        return self._records(select(T).where(T.c.batch_id == batch_id).order_by(T.c.change_id))

    def applying(self, lease_expired_before: int | None = None) -> list[PendingChangeRecord]:
        """APPLYING changes; with a time, only those whose lease ran out before it."""
        q = select(T).where(T.c.status == PendingChangeStatus.APPLYING.value)
        if lease_expired_before is not None:
            q = q.where(
                or_(T.c.lease_expires_at.is_(None), T.c.lease_expires_at < lease_expired_before)
            )
        return self._records(q.order_by(T.c.change_id))

    def open_ids_by_model(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], list[int]]:
        """Open change ids per (category, model name), one query per 500 names."""
        wanted = set(keys)
        found: dict[tuple[str, str], list[int]] = {key: [] for key in wanted}
        for names in chunks(sorted({name for _category, name in wanted})):
            q = (
                select(T.c.change_id, T.c.category, T.c.model_name)
                .where(T.c.model_name.in_(names), T.c.status.in_(_OPEN))
                .order_by(T.c.change_id)
            )
            for row in self.conn.execute(q):
                key = (str(row.category), str(row.model_name))
                if key in wanted:
                    found[key].append(int(row.change_id))
        return found

    def pending_requested_before(self, cutoff: int, limit: int) -> list[PendingChangeRecord]:
        """Pending changes proposed before ``cutoff``, oldest first (at most ``limit``)."""
        q = (
            select(T)
            .where(T.c.status == PendingChangeStatus.PENDING.value, T.c.requested_at < cutoff)
            .order_by(T.c.requested_at, T.c.change_id)
            .limit(limit)
        )
        return self._records(q)

    def pending_ages(self) -> tuple[int, list[int], PendingChangeRecord | None]:
        """(how many are pending, the middle one or two ``requested_at``, the oldest one)."""
        pending = T.c.status == PendingChangeStatus.PENDING.value
        total = int(self.conn.execute(select(func.count()).where(pending)).scalar_one())
        if total == 0:
            return 0, [], None
        middle = (
            select(T.c.requested_at)
            .where(pending)
            .order_by(T.c.requested_at, T.c.change_id)
            .offset((total - 1) // 2)
            .limit(1 if total % 2 else 2)
        )
        times = [int(v) for v in self.conn.execute(middle).scalars()]
        oldest = self._records(
            select(T).where(pending).order_by(T.c.requested_at, T.c.change_id).limit(1)
        )
        return total, times, oldest[0]

    def ids_for_model(self, category: str, model_name: str) -> list[int]:
        """Every change (any status) proposed for one model."""
        q = select(T.c.change_id).where(T.c.category == category, T.c.model_name == model_name)
        return [int(v) for v in self.conn.execute(q.order_by(T.c.change_id)).scalars()]

    # ------------------------------------------------------------------ writes
    def insert(self, record: PendingChangeRecord) -> dict[str, Any]:
        """Insert a new change; returns it in JSON form, as stored (the audit event embeds it)."""
        data = record.model_dump(mode="json")
        _INSERT.run(self.conn, _row_of(data))
        return data

    def move(
        self,
        change_ids: Sequence[int],
        expected: PendingChangeStatus,
        new: PendingChangeStatus,
        values: dict[str, Any],
    ) -> int:
        """Compare-and-set the status of ``change_ids``; returns how many rows really moved."""
        moved = 0
        for chunk in chunks(change_ids):
            result = self.conn.execute(
                update(T)
                .where(and_(T.c.change_id.in_(chunk), T.c.status == expected.value))
                .values(status=new.value, **values)
            )
            moved += int(result.rowcount)
        return moved

    def touch(self, change_id: int, now: int, *, base_hash: str | None, rebase: bool) -> None:
        """Bump ``updated_at`` (an approval was recorded); with ``rebase`` set the new base."""
        values: dict[str, Any] = {"updated_at": now}
        if rebase:
            values["base_hash"] = base_hash
        self.conn.execute(update(T).where(T.c.change_id == change_id).values(**values))

    def touch_many(self, change_ids: Sequence[int], now: int) -> None:
        for chunk in chunks(change_ids):
            self.conn.execute(update(T).where(T.c.change_id.in_(chunk)).values(updated_at=now))

    def reassign_batch(self, change_ids: Sequence[int], batch_id: int, now: int) -> None:
        for chunk in chunks(change_ids):
            self.conn.execute(
                update(T).where(T.c.change_id.in_(chunk)).values(batch_id=batch_id, updated_at=now)
            )

    def delete(self, change_ids: Sequence[int]) -> None:
        for chunk in chunks(change_ids):
            self.conn.execute(T.delete().where(T.c.change_id.in_(chunk)))
