"""Queue statistics in one indexed query (``ix_pending_changes_status_id`` covers it)."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from modelref.store.tables import pending_changes as T


def count_by_status(conn: Connection) -> dict[str, int]:
    """``{status: number of changes}`` for every status that has any."""
    rows = conn.execute(select(T.c.status, func.count()).group_by(T.c.status))
    return {str(status): int(count) for status, count in rows}
