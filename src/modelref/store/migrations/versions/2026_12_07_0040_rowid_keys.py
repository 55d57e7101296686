"""Rowid keys on SQLite for changes, events and jobs; four indexes made partial.

On SQLite a ``BIGINT`` primary key is not the rowid, so each of these tables carried a second
B-tree (an automatic index on the key) that every insert wrote and every lookup walked;
``INTEGER`` makes the key the rowid. The tables are rebuilt with their rows (same values:
SQLite stores integers alike under both names). PostgreSQL keeps ``BIGINT``.

The ``batch_id`` indexes become partial (``batch_id IS NOT NULL``): a proposal and most audit
events belong to no batch, and every query on a batch names one. The audit log's
category/model index leaves queue events out: a model's history is its catalog events, and
queue events are read by change or batch; with them in it, SQLite's planner walked every
queue event to read a page of batches (107 ms for 20 batches among 149k events). The action
index, read only for batch splits and applies, becomes (action, batch_id) for batched events.

Together a durable enqueue writes about nine pages fewer (of about thirty).

Revision ID: 0040
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0030"
branch_labels = None
depends_on = None

_BATCHED = sa.text("batch_id IS NOT NULL")
_CATALOG_EVENTS = sa.text("category <> 'pending_queue'")
_OPEN = sa.text("status IN ('pending', 'approved')")
_Shape = tuple[list[str], sa.TextClause | None]  # columns, partial WHERE


class _Index:
    """A secondary index as 0030 left it (``old``) and as 0040 makes it (``new``)."""

    def __init__(self, name: str, old: _Shape, new: _Shape | None = None) -> None:
        self.name, self.old, self.new = name, old, new or old

    @property
    def changes(self) -> bool:
        return self.new != self.old


#: table -> (key column, its secondary indexes)
_TABLES: dict[str, tuple[str, list[_Index]]] = {
    "pending_changes": (
        "change_id",
        [
            _Index("ix_pending_changes_status_id", (["status", "change_id"], None)),
            _Index("ix_pending_changes_category_id", (["category", "change_id"], None)),
            _Index(
                "ix_pending_changes_batch_id",
                (["batch_id", "change_id"], None),
                (["batch_id", "change_id"], _BATCHED),
            ),
            _Index("ix_pending_changes_requested_by_id", (["requested_by", "change_id"], None)),
            _Index("ix_pending_changes_model", (["category", "model_name"], None)),
            _Index("ix_pending_changes_open_id", (["change_id"], _OPEN)),
        ],
    ),
    "audit_events": (
        "event_id",
        [
            _Index("ix_audit_events_change_id", (["change_id"], None)),
            _Index("ix_audit_events_batch_id", (["batch_id"], None), (["batch_id"], _BATCHED)),
            _Index(
                "ix_audit_events_category_model",
                (["category", "model_name"], None),
                (["category", "model_name"], _CATALOG_EVENTS),
            ),
            # Read only for batch splits and applies, by batch.
            _Index(
                "ix_audit_events_action", (["action"], None), (["action", "batch_id"], _BATCHED)
            ),
        ],
    ),
    "outbox_jobs": (
        "job_id",
        [
            _Index("ix_outbox_jobs_state_run_after", (["state", "run_after"], None)),
            _Index("ix_outbox_jobs_subject", (["subject"], None)),
        ],
    ),
}


def _create(table: str, name: str, shape: _Shape) -> None:
    columns, where = shape
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def _migrate(*, forward: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, (key, indexes) in _TABLES.items():
        if not sqlite:  # PostgreSQL keeps its keys: only the changed indexes are made anew
            for ix in (ix for ix in indexes if ix.changes):
                op.drop_index(ix.name, table_name=table)
                _create(table, ix.name, ix.new if forward else ix.old)
            continue
        # SQLite cannot change a column's type: the table is rebuilt with its rows, then its
        # indexes are made anew.
        for ix in indexes:
            op.drop_index(ix.name, table_name=table)
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(
                key,
                type_=sa.Integer() if forward else sa.BigInteger(),
                existing_type=sa.BigInteger() if forward else sa.Integer(),
                existing_nullable=False,
                autoincrement=False,
            )
        for ix in indexes:
            _create(table, ix.name, ix.new if forward else ix.old)


def upgrade() -> None:
    _migrate(forward=True)


def downgrade() -> None:
    _migrate(forward=False)
