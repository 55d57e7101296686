"""Audit use cases: verify the hash chain, replay queue state, read event history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modelref.domain.audit import AuditEvent, first_broken, replay_catalog, replay_queue
from modelref.domain.canonical import content_hash
from modelref.domain.diff import field_diffs
from modelref.domain.queue_models import PendingChangeRecord
from modelref.service.audit_views import AuditViews
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database

#: Divergences listed in a deep report (the count says how many there are in all).
MAX_DIVERGENCES = 200


@dataclass(frozen=True)
class Divergence:
    """A stored row that the audit log does not account for."""

    table: str
    key: str
    problem: str


@dataclass(frozen=True)
class DeepReport:
    """Result of :meth:`AuditService.verify_deep`: the chain, then the tables against it."""

    chain: ChainReport
    changes_checked: int
    records_checked: int
    divergences: list[Divergence] = field(default_factory=list)
    divergence_count: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and self.divergence_count == 0


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

    def verify_deep(self) -> DeepReport:
        """The chain, then every queue row and catalog row against what the log says.

        A direct edit of a table (a download URL in the catalog, a pending change set to
        approved) leaves the chain intact but makes the row disagree with the log's replay;
        each such row is named. Everything is read from one snapshot.
        """
        chain = self.verify()
        with self.db.read() as tx:
            events = list(tx.audit.iter())
            changes, _total = tx.queue.page(None, 0, None)
            rows = {category: tx.catalog.rows(category) for category in tx.catalog.versions()}
        found: list[Divergence] = []
        found += _queue_divergences(replay_queue(events), {c.change_id: c for c in changes})
        found += _catalog_divergences(replay_catalog(events), rows)
        return DeepReport(
            chain=chain,
            changes_checked=len(changes),
            records_checked=sum(len(r) for r in rows.values()),
            divergences=found[:MAX_DIVERGENCES],
            divergence_count=len(found),
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


def _queue_divergences(
    replayed: dict[int, PendingChangeRecord], stored: dict[int, PendingChangeRecord]
) -> list[Divergence]:
    found = []
    for cid in sorted(replayed.keys() | stored.keys()):
        key = f"change {cid}"
        if cid not in stored:
            found.append(Divergence("pending_changes", key, "in the log, missing from the table"))
        elif cid not in replayed:
            found.append(Divergence("pending_changes", key, "in the table, not in the log"))
        else:
            log_view = replayed[cid].model_dump(mode="json")
            row = stored[cid].model_dump(mode="json")
            fields = sorted(
                k for k in log_view.keys() | row.keys() if log_view.get(k) != row.get(k)
            )
            if fields:
                shown = ", ".join(
                    f"{f}: table {row.get(f)!r}, log {log_view.get(f)!r}" for f in fields[:5]
                )
                found.append(Divergence("pending_changes", key, f"differs from the log: {shown}"))
    return found


def _catalog_divergences(
    replayed: dict[str, dict[str, dict[str, Any]]], rows: dict[str, list[CatalogRow]]
) -> list[Divergence]:
    found = []
    for category in sorted(replayed.keys() | rows.keys()):
        logged = replayed.get(category, {})
        stored = {r.name: r for r in rows.get(category, [])}
        for name in sorted(logged.keys() | stored.keys()):
            key = f"{category}/{name}"
            row = stored.get(name)
            if row is None:
                found.append(
                    Divergence("catalog_records", key, "in the log, missing from the table")
                )
                continue
            if content_hash(row.record) != row.content_hash:
                found.append(
                    Divergence("catalog_records", key, "the record does not match its stored hash")
                )
            if name not in logged:
                found.append(Divergence("catalog_records", key, "in the table, not in the log"))
            elif logged[name] != row.record:
                paths = [d["field_path"] for d in field_diffs(logged[name], row.record)]
                found.append(
                    Divergence(
                        "catalog_records",
                        key,
                        f"differs from the log at {', '.join(paths[:5]) or 'its key order'}",
                    )
                )
    return found


def report_json(chain: ChainReport, deep: DeepReport | None = None) -> dict[str, Any]:
    """The wire form of a verification (API and CLI alike); ``deep`` adds the table check."""
    data: dict[str, Any] = {
        "ok": chain.ok if deep is None else deep.ok,
        "events": chain.events,
        "broken_event_id": chain.broken_event_id,
        "reason": chain.reason,
    }
    if deep is not None:
        data["deep"] = {
            "changes_checked": deep.changes_checked,
            "records_checked": deep.records_checked,
            "divergence_count": deep.divergence_count,
            "divergences": [d.__dict__ for d in deep.divergences],
        }
    return data
