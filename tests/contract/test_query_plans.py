"""The audit log's reads by change, batch and model use their own index on SQLite.

Without statistics (SQLite deployments never run ANALYZE) the planner picks indexes by their
shape. Queue events are most of the log; a read of the events of 50 changes that walks all
of them took 61 ms among 149k events instead of 3 ms. Each read here is captured as the
repository really runs it, then explained.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from modelref.store.database import Database
from modelref.store.migrate import upgrade
from modelref.store.unit_of_work import Transaction


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    upgrade(database)
    yield database
    database.dispose()


def plans(db: Database, read: Callable[[Transaction], object]) -> list[str]:
    """The query plan of every statement ``read`` runs."""
    seen: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, params: Any, *_rest: Any) -> None:
        seen.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        with db.read() as tx:
            read(tx)
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert seen, "the read ran no statement"
    found = []
    with db.read() as tx:
        for statement, params in seen:
            rows = tx.conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)
            found.append(" | ".join(str(r[3]) for r in rows))
    return found


@pytest.mark.parametrize(
    ("read", "index"),
    [
        (lambda tx: tx.audit.for_changes(range(1, 51), queue_domain="v2"), "change_id"),
        (lambda tx: tx.audit.for_changes(range(1, 51)), "change_id"),
        (lambda tx: tx.audit.catalog_writes(range(1, 51)), "change_id"),
        (lambda tx: tx.audit.for_batches(range(1, 21), queue_domain="v2"), "batch_id"),
        (lambda tx: tx.audit.for_model("image_generation", "a model"), "category_model"),
        (lambda tx: tx.audit.splits("v2"), "action"),
        (lambda tx: tx.audit.applied_batches(None, 20), "action"),
    ],
    ids=[
        "changes-queue",
        "changes",
        "catalog-writes",
        "batches-queue",
        "model",
        "splits",
        "applies",
    ],
)
def test_audit_reads_walk_their_own_index(
    db: Database, read: Callable[[Transaction], object], index: str
) -> None:
    for plan in plans(db, read):
        assert f"INDEX ix_audit_events_{index} (" in plan, plan  # USING [COVERING] INDEX


def test_a_partial_index_still_serves_its_queries(db: Database) -> None:
    """The batch indexes hold only batched rows; a query by batch still uses them."""
    with db.read() as tx:
        plan = tx.conn.execute(
            text("EXPLAIN QUERY PLAN SELECT change_id FROM pending_changes WHERE batch_id = 7")
        ).all()
    assert "ix_pending_changes_batch_id" in str(plan[0][3])
