"""The Alembic migrations build exactly the schema ``store/tables.py`` declares, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from modelref.store import migrate
from modelref.store.database import Database
from modelref.store.tables import metadata


def test_migrations_match_the_declared_schema(db_url: str) -> None:
    db = Database(db_url)
    migrate.upgrade(db)
    migrate.upgrade(db)  # idempotent: a second start-up changes nothing
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("pending_changes")}
    assert {"ix_pending_changes_status_id", "ix_pending_changes_open_id"} <= indexes
    db.dispose()
