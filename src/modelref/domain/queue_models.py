"""The pending-queue models of the seed system, field for field.

Names, types, defaults and enum values are wire facts shared with upstream clients; the only
additions are optional fields (``base_hash``) that old clients simply ignore.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from modelref.domain.categories import MODEL_REFERENCE_CATEGORY, AuditOperation
from modelref.domain.checks import ChecksSummary


def now_ts() -> int:
    """Return the current UTC time as integer Unix seconds."""
    return int(datetime.now(tz=UTC).timestamp())


def ensure_seq(items: Collection[int] | None) -> list[int]:
    """Turn an optional collection of ids into a (possibly empty) list."""
    if not items:
        return []
    return list(items)


class PendingChangeStatus(StrEnum):
    """Lifecycle of a queued change.

    ``PENDING -> APPROVED -> APPLYING -> APPLIED`` and ``PENDING -> REJECTED``; the allowed
    moves live in :mod:`modelref.domain.transitions`. ``APPLYING`` is the short reservation held
    while an apply is in flight.
    """

    PENDING = "pending"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    REJECTED = "rejected"


def _absent(value: object) -> bool:
    return value is None


class ChangeApproval(BaseModel):
    """modelref extension: one approver's approval of a change under a quorum policy."""

    approved_by: str
    approved_username: str
    approved_at: int
    stale: bool = Field(
        default=False,
        description="The live record moved after this approval: it no longer counts.",
    )


class PendingChangeRecord(BaseModel):
    """One proposed create/update/delete of a model record, and everything decided about it."""

    change_id: int = Field(
        description="Monotonic id allocated by the store; pass 0 to ask for a new one.",
    )
    category: MODEL_REFERENCE_CATEGORY
    model_name: str
    operation: AuditOperation
    payload: dict[str, Any] | None = Field(
        default=None,
        description="Proposed record (create/update) or the live record snapshot (delete).",
    )
    requested_by: str
    requested_username: str
    requested_at: int = Field(default_factory=now_ts)
    status: PendingChangeStatus = PendingChangeStatus.PENDING
    notes: str | None = None

    batch_id: int | None = Field(
        default=None,
        description="Batch the change was approved (or rejected) in; changes on a split.",
    )
    batch_title: str | None = None

    approved_by: str | None = None
    approved_username: str | None = None
    approved_at: int | None = None

    rejected_by: str | None = None
    rejected_username: str | None = None
    rejected_at: int | None = None
    reject_reason: str | None = None

    applied_at: int | None = None
    applied_by: str | None = None
    applied_username: str | None = None
    applied_job_id: str | None = Field(
        default=None,
        description="Reservation token (caller-supplied string) held while applying.",
    )

    updated_at: int = Field(default_factory=now_ts)

    request_metadata: dict[str, Any] | None = None
    related_models: list[str] | None = None

    base_hash: str | None = Field(
        default=None,
        description="modelref extension: content hash of the live record at enqueue time "
        "(null when the model did not exist). Used to detect stale changes.",
    )

    approvals: list[ChangeApproval] | None = Field(
        default=None,
        exclude_if=_absent,
        description="modelref extension (quorum policies only): every approval recorded, "
        "in order; stale ones no longer count. Omitted when none was recorded.",
    )
    approvals_required: int | None = Field(
        default=None,
        exclude_if=_absent,
        description="modelref extension (quorum policies only): distinct approvers, never the "
        "requester, this change needed when it was last approved. Omitted when none was recorded.",
    )


class PendingQueueFilter(BaseModel):
    """Filters for listing or purging queue entries; every given filter must match."""

    statuses: set[PendingChangeStatus] | None = None
    categories: set[MODEL_REFERENCE_CATEGORY] | None = None
    batch_id: int | None = None
    model_name: str | None = None
    requested_by: set[str] | None = None


class PendingBatchResult(BaseModel):
    """Outcome of one approve/reject request."""

    batch_id: int | None
    batch_title: str
    approved: list[PendingChangeRecord]
    rejected: list[PendingChangeRecord]
    approvals_recorded: list[PendingChangeRecord] | None = Field(
        default=None,
        exclude_if=_absent,
        description="modelref extension (quorum policies only): changes whose approval was "
        "recorded without moving them (below quorum, or a fresh approval of an approved "
        "change whose approvals went stale). Omitted when there are none.",
    )


class BatchSplitInfo(BaseModel):
    """Remaining approved changes of a partly applied batch, moved to a fresh batch id."""

    original_batch_id: int = Field(description="The batch ID that was partially applied")
    new_batch_id: int = Field(description="The new batch ID assigned to remaining changes")
    reassigned_change_ids: list[int] = Field(
        default_factory=list,
        description="List of change IDs that were reassigned to the new batch",
    )


class MarkAppliedResult(BaseModel):
    """A change marked applied, with the batch split it caused (if any)."""

    record: PendingChangeRecord = Field(description="The updated change record")
    batch_split: BatchSplitInfo | None = Field(
        default=None,
        description="Populated if partial application triggered a batch split",
    )


class PendingQueuePage(BaseModel):
    """One page of a filtered listing; ``total`` counts every match before paging."""

    items: list[PendingChangeRecord]
    total: int
    offset: int
    limit: int | None


class PendingChangeDiff(BaseModel):
    """What applying one change would do to the live record, field by field."""

    change_id: int
    category: MODEL_REFERENCE_CATEGORY
    model_name: str
    operation: AuditOperation

    current_state: dict[str, Any] | None = Field(
        default=None,
        description="The live record (None if the model does not exist)",
    )
    proposed_state: dict[str, Any] | None = Field(
        default=None,
        description="The record after the change (None for DELETE)",
    )
    net_operation: str = Field(
        description="Computed net change type: 'added', 'modified', 'deleted', or 'unchanged'",
    )
    field_diffs: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Field-level differences between current and proposed state",
    )
    is_critical: bool = Field(
        default=False,
        description="True if any critical fields (baseline, nsfw, etc.) are affected",
    )
    fields_added: list[str] = Field(default_factory=list)
    fields_removed: list[str] = Field(default_factory=list)
    fields_modified: list[str] = Field(default_factory=list)

    is_stale: bool = Field(
        default=False,
        description="modelref extension: the live record moved since the change was proposed",
    )
    conflicts: list[int] = Field(
        default_factory=list,
        description="modelref extension: other open (pending/approved) changes on the same model",
    )
    checks: ChecksSummary | None = Field(
        default=None,
        description="modelref extension: state and finding counts of the review checks "
        "(GET .../changes/{id}/checks has the findings); null when none were recorded",
    )


class PendingChangeDiffPage(BaseModel):
    """Diffs of several changes; ids that could not be diffed are listed in ``errors``."""

    diffs: list[PendingChangeDiff] = Field(default_factory=list)
    total: int = 0
    errors: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Changes that could not be diffed, with error details",
    )
