"""Service results in the HTTP API's wire shapes (http-api.md §6), for local mode.

Null handling follows the API: records inside apply responses and enqueue answers omit nulls,
every other shape keeps them (http-api.md §12).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from modelref.domain.queue_models import (
    PendingBatchResult,
    PendingChangeDiff,
    PendingChangeDiffPage,
    PendingChangeRecord,
    PendingQueuePage,
)

if TYPE_CHECKING:
    from modelref.domain.audit import AuditEvent
    from modelref.service.apply import ApplyResult

Json = dict[str, Any]


def record(rec: PendingChangeRecord, *, omit_nulls: bool = False) -> Json:
    return rec.model_dump(mode="json", exclude_none=omit_nulls)


def page(result: PendingQueuePage) -> Json:
    return result.model_dump(mode="json")


def batch(result: PendingBatchResult) -> Json:
    return result.model_dump(mode="json")


def diff(result: PendingChangeDiff) -> Json:
    return result.model_dump(mode="json")


def diff_page(result: PendingChangeDiffPage) -> Json:
    return result.model_dump(mode="json")


def apply(result: ApplyResult) -> Json:
    """``ApplyPendingChangesResponse`` (nulls omitted; split fields only when a split happened)."""
    out: Json = {
        "applied": [record(r, omit_nulls=True) for r in result.applied],
        "batch_split_occurred": result.batch_split is not None,
    }
    if result.batch_split is not None:
        out["batch_split_original_batch_id"] = result.batch_split.original_batch_id
        out["batch_split_new_batch_id"] = result.batch_split.new_batch_id
        out["batch_split_reassigned_count"] = len(result.batch_split.reassigned_change_ids)
    return out


def purge(removed: list[int], dry_run: bool) -> Json:
    return {"removed_count": len(removed), "removed_change_ids": removed, "dry_run": dry_run}


def event(ev: AuditEvent) -> Json:
    return asdict(ev)
