"""Backlog hygiene: proposals that wait too long expire, and the queue's age at a glance.

With ``MODELREF_PROPOSAL_TTL_DAYS`` set, the reaper every serving process runs
(:mod:`modelref.service.recovery`) rejects pending changes older than that with reason
``expired``, as the system user, through ``lifecycle.move`` (the transition table's
``reject``), so the change's requester sees why and the audit log records it.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field

from modelref.domain.actors import SYSTEM
from modelref.domain.clock import Clock
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action
from modelref.service import lifecycle
from modelref.service.lifecycle import Step
from modelref.settings import Settings
from modelref.store.database import Database

log = logging.getLogger("modelref.backlog")

DAY = 86_400
#: Most changes one sweep expires (the next sweep takes the rest).
SWEEP_LIMIT = 500
EXPIRED = "expired"


class OldestPending(BaseModel):
    change_id: int
    category: str
    model_name: str
    requested_at: int
    age_seconds: int


class QueueStats(BaseModel):
    """``modelref queue stats`` / ``GET .../pending_queue/stats``."""

    counts_by_status: dict[str, int] = Field(description="Changes per status (every status)")
    total: int
    pending: int
    median_pending_age_seconds: int | None = Field(
        description="Median age of the pending changes (null when none is pending)"
    )
    oldest_pending: OldestPending | None
    proposal_ttl_days: int | None = Field(description="Pending changes expire after this")
    generated_at: int


class Backlog:
    """Expiry and statistics of the pending queue on one database."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    @property
    def ttl_seconds(self) -> int | None:
        days = self.settings.proposal_ttl_days
        return days * DAY if days > 0 else None

    def expire_overdue(self) -> list[PendingChangeRecord]:
        """Reject (reason ``expired``) pending changes older than the TTL; one transaction."""
        ttl = self.ttl_seconds
        if ttl is None:
            return []
        now = self.clock()
        cutoff = now - ttl
        with self.db.read() as tx:
            if not tx.queue.pending_requested_before(cutoff, 1):
                return []  # the common case takes no write lock
        with self.db.write() as tx:
            overdue = tx.queue.pending_requested_before(cutoff, SWEEP_LIMIT)
            step = Step(tx, SYSTEM, now, self.settings.canonical_format)
            expired, _events = lifecycle.move(
                step,
                overdue,
                Action.reject,
                values=lambda _r: {
                    "rejected_by": SYSTEM.user_id,
                    "rejected_username": SYSTEM.username,
                    "rejected_at": now,
                    "reject_reason": EXPIRED,
                },
                body=lambda _r: {"reason": EXPIRED, "ttl_days": self.settings.proposal_ttl_days},
            )
        if expired:
            log.info(
                "expired %d pending change(s) older than %d day(s): %s",
                len(expired),
                self.settings.proposal_ttl_days,
                [r.change_id for r in expired],
            )
        return expired

    def stats(self) -> QueueStats:
        """Counts by status, the median age of pending changes and the oldest one."""
        now = self.clock()
        with self.db.read() as tx:
            counts = tx.queue.counts_by_status()
            pending, middle, oldest = tx.queue.pending_ages()
        median = None
        if middle:
            median = max(0, now - sum(middle) // len(middle))
        return QueueStats(
            counts_by_status={s.value: counts.get(s, 0) for s in PendingChangeStatus},
            total=sum(counts.values()),
            pending=pending,
            median_pending_age_seconds=median,
            oldest_pending=OldestPending(
                change_id=oldest.change_id,
                category=oldest.category.value,
                model_name=oldest.model_name,
                requested_at=oldest.requested_at,
                age_seconds=max(0, now - oldest.requested_at),
            )
            if oldest is not None
            else None,
            proposal_ttl_days=self.settings.proposal_ttl_days or None,
            generated_at=now,
        )
