"""The Alembic migrations build exactly the schema ``store/tables.py`` declares, on both engines."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from modelref.store import migrate
from modelref.store.database import Database
from modelref.store.tables import metadata
from tests.factories import BOB, enqueue_create


def test_migrations_match_the_declared_schema(db_url: str) -> None:
    db = Database(db_url)
    migrate.upgrade(db)
    migrate.upgrade(db)  # idempotent: a second start-up changes nothing
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("pending_changes")}
    assert {"ix_pending_changes_status_id", "ix_pending_changes_open_id"} <= indexes
    db.dispose()


def _rows(db: Database) -> dict[str, list[tuple[object, ...]]]:
    tables = {"pending_changes": "change_id", "audit_events": "event_id", "outbox_jobs": "job_id"}
    with db.read() as tx:
        return {
            name: [tuple(r) for r in tx.conn.execute(text(f"SELECT * FROM {name} ORDER BY {key}"))]
            for name, key in tables.items()
        }


ROWID_TABLES = {"pending_changes", "audit_events", "outbox_jobs"}


def _automatic_indexes(db: Database) -> set[str]:
    """Which of :data:`ROWID_TABLES` carry SQLite's automatic index on their key."""
    if db.dialect != "sqlite":
        return set()
    with db.read() as tx:
        q = "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sqlite_auto%'"
        return {str(r[0]) for r in tx.conn.execute(text(q))} & ROWID_TABLES


def test_rowid_keys_keep_every_row_down_and_up_again(db_url: str) -> None:
    """Revision 0040 rebuilds the queue, audit and outbox tables on SQLite (rowid keys) and
    makes four indexes partial: a deployment's rows survive it both ways, the audit chain
    still verifies, and the queue goes on where it stopped."""
    svc = PendingQueueService.from_url(db_url)
    ids = [enqueue_create(svc, f"kept-{i}") for i in range(5)]
    svc.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="before the migration",
        approved_ids=ids[:3],
        rejected_ids=[ids[3]],
        reject_reason="not this one",
    )
    before = _rows(svc.db)
    assert all(before.values())
    assert _automatic_indexes(svc.db) == set()  # rowid keys at head
    svc.db.dispose()

    db = Database(db_url)
    with db.migration_lock(), db.engine.begin() as conn:
        cfg = migrate.alembic_config(db)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0030")
    assert _rows(db) == before
    if db.dialect == "sqlite":  # the old shape: a second B-tree per key
        assert _automatic_indexes(db) == ROWID_TABLES
    migrate.upgrade(db)
    assert _rows(db) == before
    assert _automatic_indexes(db) == set()
    db.dispose()

    again = PendingQueueService.from_url(db_url)
    assert AuditService(again.db).verify().ok
    assert enqueue_create(again, "after") == ids[-1] + 1
    assert again.get_change(ids[0]).status.value == "approved"
    again.db.dispose()
