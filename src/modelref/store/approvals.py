"""SQL for approvals recorded under a quorum policy, bound to one transaction.

Queue records carry their approvals (``PendingChangeRecord.approvals``, and the quorum asked
for by the latest approval as ``approvals_required``): :func:`attach` fills them in for every
record the queue repository reads, with one query per 500 changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, insert, select, update

from modelref.domain.queue_models import ChangeApproval, PendingChangeRecord
from modelref.store.counters import Counters
from modelref.store.sql import chunks
from modelref.store.tables import change_approvals

A = change_approvals
_INSERT = insert(A)


def _load(
    conn: Connection, change_ids: Iterable[int]
) -> dict[int, tuple[list[ChangeApproval], int]]:
    found: dict[int, tuple[list[ChangeApproval], int]] = {}
    for chunk in chunks(sorted(set(change_ids))):
        q = select(A).where(A.c.change_id.in_(chunk)).order_by(A.c.change_id, A.c.approval_id)
        for row in conn.execute(q):
            approvals, _required = found.get(int(row.change_id), ([], 0))
            approvals.append(
                ChangeApproval(
                    approved_by=row.approved_by,
                    approved_username=row.approved_username,
                    approved_at=int(row.approved_at),
                    stale=bool(row.stale),
                )
            )
            found[int(row.change_id)] = (approvals, int(row.required))
    return found


def attach(conn: Connection, records: list[PendingChangeRecord]) -> list[PendingChangeRecord]:
    """``records`` with their recorded approvals (records without any are returned as is)."""
    if not records:
        return records
    found = _load(conn, (r.change_id for r in records))
    if not found:
        return records
    out: list[PendingChangeRecord] = []
    for record in records:
        entry = found.get(record.change_id)
        if entry is None:
            out.append(record)
        else:
            approvals, required = entry
            out.append(
                record.model_copy(update={"approvals": approvals, "approvals_required": required})
            )
    return out


class ApprovalRepository:
    """Approvals of one transaction (writes need the serialized write transaction)."""

    def __init__(self, conn: Connection, counters: Counters) -> None:
        self.conn = conn
        self.counters = counters

    def add(self, change_id: int, approval: ChangeApproval, required: int) -> None:
        self.conn.execute(
            _INSERT,
            {
                "approval_id": self.counters.next("approval_id"),
                "change_id": change_id,
                "approved_by": approval.approved_by,
                "approved_username": approval.approved_username,
                "approved_at": approval.approved_at,
                "required": required,
                "stale": approval.stale,
            },
        )

    def with_fresh(self, change_ids: Iterable[int]) -> list[int]:
        """The changes among ``change_ids`` holding at least one approval that still counts."""
        found: set[int] = set()
        for chunk in chunks(sorted(set(change_ids))):
            q = select(A.c.change_id).where(A.c.change_id.in_(chunk), A.c.stale.is_(False))
            found.update(int(v) for v in self.conn.execute(q.distinct()).scalars())
        return sorted(found)

    def mark_stale(self, change_ids: Sequence[int]) -> None:
        """Every approval of ``change_ids`` stops counting."""
        for chunk in chunks(change_ids):
            self.conn.execute(
                update(A).where(A.c.change_id.in_(chunk), A.c.stale.is_(False)).values(stale=True)
            )

    def delete(self, change_ids: Sequence[int]) -> None:
        for chunk in chunks(change_ids):
            self.conn.execute(A.delete().where(A.c.change_id.in_(chunk)))
