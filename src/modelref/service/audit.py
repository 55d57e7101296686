"""Audit use cases: verify the hash chain, replay queue state, read event history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelref.domain.audit import AuditEvent, first_broken, replay_catalog, replay_queue
from modelref.domain.queue_models import PendingChangeRecord
from modelref.service.audit_views import AuditViews
from modelref.store.database import Database


@dataclass(frozen=True)
class ChainReport:
    """Result of :meth:`AuditService.verify`."""

    ok: bool
    events: int
    broken_event_id: int | None = None
    reason: str | None = None


class AuditService:
    """Read side of the audit log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def verify(self) -> ChainReport:
        """Walk the whole chain; report the first event whose hash or link is wrong."""
        with self.db.read() as tx:
            events = list(tx.audit.iter())
            head = tx.audit.head()
        broken = first_broken(events)
        last = events[-1].event_id if events else 0
        if broken is None and head > last:
            broken = (last + 1, f"events {last + 1}..{head} are missing (the log was truncated)")
        elif broken is None and 0 < head < last:
            broken = (head + 1, "events were appended outside modelref (head counter is behind)")
        if broken is None:
            return ChainReport(ok=True, events=len(events))
        return ChainReport(
            ok=False, events=len(events), broken_event_id=broken[0], reason=broken[1]
        )

    def replay(self) -> dict[int, PendingChangeRecord]:
        """Every queue record rebuilt from events alone (must equal the store)."""
        with self.db.read() as tx:
            return replay_queue(tx.audit.iter())

    def replay_catalog(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every category's records rebuilt from import/apply events (must equal the catalog)."""
        with self.db.read() as tx:
            return replay_catalog(tx.audit.iter())

    def events(self) -> list[AuditEvent]:
        with self.db.read() as tx:
            return list(tx.audit.iter())

    def recent(
        self, change_id: int | None = None, batch_id: int | None = None, limit: int = 50
    ) -> list[AuditEvent]:
        """The last ``limit`` events of a change, a batch, or the whole log (oldest first)."""
        with self.db.read() as tx:
            if change_id is not None:
                found = tx.audit.for_changes([change_id])
                if batch_id is not None:
                    found = [e for e in found if e.batch_id == batch_id]
            elif batch_id is not None:
                found = tx.audit.for_batches([batch_id])
            else:
                found = tx.audit.latest(limit)
        return found[-limit:] if limit else []

    def for_change(self, change_id: int) -> list[AuditEvent]:
        with self.db.read() as tx:
            return tx.audit.for_changes([change_id])

    def views(self, default_domain: str) -> AuditViews:
        """The upstream-compatible audit views (``.../pending_queue/audit/...``)."""
        return AuditViews(self.db, default_domain)
