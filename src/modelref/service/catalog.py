"""Catalog use cases: reads, versions, the beta view and diffs against the live records."""

from __future__ import annotations

from typing import Any

from modelref.domain import diff as diffing
from modelref.domain import inputs, payloads, records
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.errors import NotFound, ValidationFailed
from modelref.domain.queue_models import (
    PendingChangeDiff,
    PendingChangeDiffPage,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
)
from modelref.domain.transitions import OPEN
from modelref.service import checks, rendering
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database


class CatalogService:
    """Read side of the live catalog (writes happen only through apply and import)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ versions
    def versions(self) -> dict[Category, int]:
        """Current version of every category that has ever been written."""
        with self.db.read() as tx:
            raw = tx.catalog.versions()
        return {Category(k): v for k, v in raw.items() if k in Category.__members__}

    def metadata(self, category: Category) -> dict[str, Any] | None:
        """Upstream-style ``CategoryMetadata`` for one category (None if never written)."""
        with self.db.read() as tx:
            row = tx.catalog.version(category.value)
            total = tx.catalog.count(category.value) if row else 0
        if row is None:
            return None
        return {
            "category": category.value,
            "last_updated": row.last_updated,
            "last_operation_type": row.last_operation_type,
            "last_operation_model": row.last_operation_model,
            "total_creates": row.total_creates,
            "total_updates": row.total_updates,
            "total_deletes": row.total_deletes,
            "total_models": total,
            "initialization_time": row.initialization_time,
            "last_successful_operation": row.last_updated,
            "error_count": 0,
            "metadata_schema_version": "1.0.0",
            "backend_type": "modelref-sql",
            "version": row.version,
        }

    # ------------------------------------------------------------------ reads
    def records(self, category: Category) -> tuple[dict[str, dict[str, Any]], int]:
        """Every record of a category in file order, with the version they belong to."""
        rows, version = self.stored(category)
        return {r.name: r.record for r in rows}, version

    def stored(self, category: Category) -> tuple[list[CatalogRow], int]:
        """Rows with hashes and extras (export and legacy rendering need the extras)."""
        with self.db.read() as tx:
            rows = tx.catalog.rows(category.value)
            row = tx.catalog.version(category.value)
        return rows, row.version if row else 0

    def record(self, category: Category, name: str) -> dict[str, Any]:
        """One live record or :class:`NotFound`."""
        with self.db.read() as tx:
            stored = tx.catalog.get(category.value, name)
        if stored is None:
            raise NotFound(f"Model '{name}' not found in category '{category.value}'")
        return stored.record

    def render_files(
        self, category: Category, fmt: rendering.Format = "both"
    ) -> tuple[dict[str, bytes], int]:
        """The category's published files (relative path -> bytes) and their version."""
        rows, version = self.stored(category)
        return rendering.render(category, rows, fmt), version

    def legacy_view(self, category: Category) -> dict[str, Any]:
        """Legacy JSON for v1 reads (text: db.json shape with both backend variants)."""
        rows, _version = self.stored(category)
        records = {r.name: r.record for r in rows}
        return rendering.legacy_view(category, records, {r.name: r.extras for r in rows})

    # ------------------------------------------------------------------ beta view
    def beta_view(self, category: Category) -> dict[str, dict[str, Any]]:
        """Pending+approved create/update payloads per model; latest (updated_at, id) wins."""
        flt = PendingQueueFilter(statuses=set(OPEN), categories={category})
        with self.db.read() as tx:
            open_changes, _total = tx.queue.page(flt, 0, None)
        winners: dict[str, PendingChangeRecord] = {}
        for rec in open_changes:
            if rec.operation is AuditOperation.DELETE or rec.payload is None:
                continue
            best = winners.get(rec.model_name)
            if best is None or (rec.updated_at, rec.change_id) > (best.updated_at, best.change_id):
                winners[rec.model_name] = rec
        return {name: rec.payload for name, rec in winners.items() if rec.payload is not None}

    # ------------------------------------------------------------------ diffs
    def diff(self, change_id: int) -> PendingChangeDiff:
        """Field-level diff of one change against the live record, with staleness/conflicts."""
        page = self.diffs([change_id])
        if page.errors:
            raise NotFound("Change not found")
        return page.diffs[0]

    def diffs(self, change_ids: list[int]) -> PendingChangeDiffPage:
        """Diffs in request order; unknown ids are reported in ``errors``."""
        with self.db.read() as tx:
            changes = tx.queue.get_many(c for c in change_ids if inputs.in_range(c))
            keys = {(c.category.value, c.model_name) for c in changes.values()}
            live = tx.catalog.get_many(keys)
            open_by_model = tx.queue.open_ids_by_model(keys)
            check_summaries = checks.summaries(tx, changes)
        page = PendingChangeDiffPage(total=len(change_ids))
        for cid in change_ids:
            change = changes.get(cid)
            if change is None:
                page.errors.append(
                    {"change_id": cid, "error": "Change not found", "error_type": "NotFound"}
                )
                continue
            key = (change.category.value, change.model_name)
            current = live.get(key)
            current_state = current.record if current else None
            compared = _comparable(change, current_state)
            if current is not None and payloads.is_legacy(change.request_metadata):
                current_state = compared = _legacy_entry(change.category, current)
            try:
                diff = diffing.build_diff(
                    change,
                    compared,
                    is_stale=_is_stale(change, current.content_hash if current else None),
                    conflicts=[c for c in open_by_model.get(key, []) if c != cid],
                )
                update = {"current_state": current_state, "checks": check_summaries.get(cid)}
                page.diffs.append(diff.model_copy(update=update))
            except (KeyError, ValueError, TypeError) as exc:
                page.errors.append(
                    {"change_id": cid, "error": str(exc), "error_type": type(exc).__name__}
                )
        return page


def _comparable(change: PendingChangeRecord, live: dict[str, Any] | None) -> dict[str, Any] | None:
    """The live record spelled the way a validated payload is, for create/update diffs.

    Imported files may omit category defaults (the real v2 image file has no ``record_type``,
    ``metadata``, ``model_classification`` or ``inpainting: false``) while every queued payload
    carries them, so a raw comparison shows those as "added", and ``inpainting`` even makes
    every image update critical. Delete diffs compare the record exactly as stored.
    """
    if live is None or change.operation is AuditOperation.DELETE:
        return live
    try:
        return records.validate_record(change.category, live)
    except ValidationFailed:
        return live


def _legacy_entry(category: Category, stored: CatalogRow) -> dict[str, Any]:
    """The live record as a legacy entry, so legacy payloads diff like for like."""
    view = rendering.legacy_view(
        category, {stored.name: stored.record}, {stored.name: stored.extras}
    )
    entry = view.get(stored.name)
    return dict(entry) if isinstance(entry, dict) else stored.record


def _is_stale(change: PendingChangeRecord, live_hash: str | None) -> bool:
    """Only open changes can be stale; applied/rejected ones are history."""
    if change.status not in OPEN and change.status is not PendingChangeStatus.APPLYING:
        return False
    return live_hash != change.base_hash
