"""Read-only queue statistics for monitoring (``/metrics`` counts queue sizes at scrape time)."""

from __future__ import annotations

from modelref.domain.queue_models import PendingChangeStatus
from modelref.store import queue_stats
from modelref.store.database import Database

STATUSES = [s.value for s in PendingChangeStatus]


class QueueStats:
    """Counts over the queue; each call is one read transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def by_status(self) -> dict[str, int]:
        """Changes per status; every status is present (0 when none)."""
        with self.db.read() as conn:
            found = queue_stats.count_by_status(conn)
        return {status: found.get(status, 0) for status in STATUSES}
