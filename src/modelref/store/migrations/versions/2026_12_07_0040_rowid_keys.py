"""Rowid keys on SQLite for changes, events and jobs; three indexes made partial.

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

#: (table, key column, its secondary indexes: name, columns, partial WHERE or None)
_TABLES: list[tuple[str, str, list[tuple[str, list[str], sa.TextClause | None]]]] = [
    (
        "pending_changes",
        "change_id",
        [
            ("ix_pending_changes_status_id", ["status", "change_id"], None),
            ("ix_pending_changes_category_id", ["category", "change_id"], None),
            ("ix_pending_changes_batch_id", ["batch_id", "change_id"], None),
            ("ix_pending_changes_requested_by_id", ["requested_by", "change_id"], None),
            ("ix_pending_changes_model", ["category", "model_name"], None),
            (
                "ix_pending_changes_open_id",
                ["change_id"],
                sa.text("status IN ('pending', 'approved')"),
            ),
        ],
    ),
    (
        "audit_events",
        "event_id",
        [
            ("ix_audit_events_change_id", ["change_id"], None),
            ("ix_audit_events_batch_id", ["batch_id"], None),
            ("ix_audit_events_category_model", ["category", "model_name"], None),
            ("ix_audit_events_action", ["action"], None),  # becomes (action, batch_id)
        ],
    ),
    (
        "outbox_jobs",
        "job_id",
        [
            ("ix_outbox_jobs_state_run_after", ["state", "run_after"], None),
            ("ix_outbox_jobs_subject", ["subject"], None),
        ],
    ),
]
#: Indexes that become partial, with their condition.
_PARTIAL = {
    "ix_pending_changes_batch_id": _BATCHED,
    "ix_audit_events_batch_id": _BATCHED,
    "ix_audit_events_category_model": _CATALOG_EVENTS,
    "ix_audit_events_action": _BATCHED,
}


#: The action index is read only for batch splits and applies, by batch: it becomes
#: (action, batch_id), holding only events that belong to a batch.
_ACTION = ("ix_audit_events_action", ["action", "batch_id"])


def _create(table: str, name: str, columns: list[str], where: sa.TextClause | None) -> None:
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def _columns(name: str, columns: list[str], partial: bool) -> list[str]:
    return _ACTION[1] if partial and name == _ACTION[0] else columns


def _migrate(*, rowid: bool, partial: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, key, indexes in _TABLES:
        for name, columns, where in indexes:
            if name in _PARTIAL:
                where = _PARTIAL[name] if partial else None
            elif not sqlite:
                continue  # on PostgreSQL only the partial indexes change
            op.drop_index(name, table_name=table)
            if not sqlite:
                _create(table, name, _columns(name, columns, partial), where)
        if not sqlite:
            continue
        # SQLite cannot change a column's type: the table is rebuilt with its rows, then
        # its indexes are made anew.
        with op.batch_alter_table(table, recreate="always") as batch:
            batch.alter_column(
                key,
                type_=sa.Integer() if rowid else sa.BigInteger(),
                existing_type=sa.BigInteger() if rowid else sa.Integer(),
                existing_nullable=False,
                autoincrement=False,
            )
        for name, columns, where in indexes:
            if name in _PARTIAL:
                where = _PARTIAL[name] if partial else None
            _create(table, name, _columns(name, columns, partial), where)


def upgrade() -> None:
    _migrate(rowid=True, partial=True)


def downgrade() -> None:
    _migrate(rowid=False, partial=False)
