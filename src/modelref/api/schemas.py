"""Request and response bodies of the HTTP API (spec http-api.md §1, §4, §6, §8).

Queue records, pages and diffs are the domain models themselves; this module holds only the
wire shapes the API adds around them, with upstream's validation rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelref.domain.categories import Category
from modelref.domain.inputs import MAX_FILTER_VALUES, MAX_ID, MAX_IDS
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus

MAX_JOB_ID = 120


def _no_nul(value: str | None) -> str | None:
    if value is not None and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _job_id(value: str | None) -> str | None:
    if value is None:
        return None
    value = _no_nul(value.strip()) or None
    if value is not None and len(value) > MAX_JOB_ID:
        raise ValueError(f"at most {MAX_JOB_ID} characters")
    return value


def _clean_ids(value: list[int] | None) -> list[int] | None:
    """Upstream: ids <= 0 silently dropped, duplicates removed, sorted ascending."""
    if value is None:
        return None
    for cid in value:
        if cid > MAX_ID:
            raise ValueError(f"change ids must be at most {MAX_ID}")
    return sorted({cid for cid in value if cid > 0})


class PendingBatchRequest(BaseModel):
    """Approve and/or reject pending changes in one titled batch."""

    batch_title: str = Field(min_length=1, max_length=120)
    approved_ids: list[int] | None = Field(default=None, max_length=MAX_IDS)
    rejected_ids: list[int] | None = Field(default=None, max_length=MAX_IDS)
    reject_reason: str | None = Field(default=None, max_length=500)
    override_checks: bool = Field(
        default=False,
        description="modelref: under a quorum policy, approve changes whose review checks "
        "found errors anyway (each approval event records the overridden findings)",
    )

    @field_validator("batch_title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = (_no_nul(value) or "").strip()
        if not value:
            raise ValueError("batch_title must not be blank")
        return value

    @field_validator("approved_ids", "rejected_ids")
    @classmethod
    def _ids(cls, value: list[int] | None) -> list[int] | None:
        return _clean_ids(value)

    @field_validator("reject_reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        return (_no_nul(value) or "").strip() or None

    @model_validator(mode="after")
    def _disjoint(self) -> PendingBatchRequest:
        both = sorted(set(self.approved_ids or []) & set(self.rejected_ids or []))
        if both:
            raise ValueError(f"Change ids cannot be both approved and rejected: {both}")
        return self


class ApplyPendingChangeRequest(BaseModel):
    """Body of a single apply (send ``{}``)."""

    job_id: str | None = Field(default=None, description="Idempotency/reservation token")
    force: bool = Field(default=False, description="modelref: apply even if the change is stale")

    @field_validator("job_id")
    @classmethod
    def _job(cls, value: str | None) -> str | None:
        return _job_id(value)


class ApplyPendingChangesRequest(BaseModel):
    """Apply several approved changes, in the given order, all or nothing."""

    change_ids: list[int] = Field(min_length=1, max_length=MAX_IDS)
    job_id: str | None = None
    allow_mixed_batch: bool = False
    force: bool = Field(default=False, description="modelref: apply even if a change is stale")

    @field_validator("job_id")
    @classmethod
    def _job(cls, value: str | None) -> str | None:
        return _job_id(value)

    @field_validator("change_ids")
    @classmethod
    def _ids(cls, value: list[int]) -> list[int]:
        seen: dict[int, None] = {}  # linear: a long list must not hold the event loop
        for cid in value:
            if cid <= 0 or cid > MAX_ID:
                raise ValueError(f"change ids must be between 1 and {MAX_ID}, got {cid}")
            seen[cid] = None
        return list(seen)


class PurgePendingChangesRequest(BaseModel):
    """Remove matching changes (never applying/applied ones); ``dry_run`` only lists them."""

    statuses: list[PendingChangeStatus] | None = None
    categories: list[Category] | None = None
    model_name: str | None = Field(default=None, max_length=200)
    requested_by: list[str] | None = Field(default=None, max_length=MAX_FILTER_VALUES)
    purge_all: bool = False
    dry_run: bool = False

    @field_validator("statuses", "categories")
    @classmethod
    def _dedupe(cls, value: list[Any] | None) -> list[Any] | None:
        return sorted(set(value)) if value is not None else None

    @field_validator("model_name")
    @classmethod
    def _trim(cls, value: str | None) -> str | None:
        return (_no_nul(value) or "").strip() or None if value is not None else None

    @field_validator("requested_by")
    @classmethod
    def _users(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        return [v.strip() for v in value if _no_nul(v) and v.strip()]

    @model_validator(mode="after")
    def _some_filter(self) -> PurgePendingChangesRequest:
        has = self.statuses or self.categories or self.model_name or self.requested_by
        if not has and not self.purge_all:
            raise ValueError(
                "Provide at least one filter or set purge_all=true to purge every change."
            )
        return self


class PurgePendingChangesResponse(BaseModel):
    removed_count: int = Field(ge=0)
    removed_change_ids: list[int]
    dry_run: bool


class ApplySingleChangeResponse(BaseModel):
    record: PendingChangeRecord
    batch_split_occurred: bool
    batch_split_original_batch_id: int | None = None
    batch_split_new_batch_id: int | None = None
    batch_split_reassigned_count: int | None = None


class ApplyPendingChangesResponse(BaseModel):
    applied: list[PendingChangeRecord]
    failed_change_id: int | None = None
    failed_error: str | None = None
    failed_error_type: str | None = None
    batch_split_occurred: bool = False
    batch_split_original_batch_id: int | None = None
    batch_split_new_batch_id: int | None = None
    batch_split_reassigned_count: int | None = None


class Message(BaseModel):
    message: str


class ReplicateMode(BaseModel):
    replicate_mode: str
    canonical_format: str
    writable: bool


class HordeHealth(BaseModel):
    degraded: bool
    consecutive_failures: int
    seconds_until_retry: float | None


class Readiness(BaseModel):
    """modelref: the instance can serve writes (its database answers)."""

    status: str
    database: str


class Heartbeat(BaseModel):
    status: str
    ai_horde: HordeHealth


class UserRoles(BaseModel):
    user_id: str
    username: str
    roles: list[str]
    is_approver: bool
    is_requestor: bool


class LastUpdated(BaseModel):
    last_updated: int | None


class CategoryLastUpdated(BaseModel):
    category: str
    last_updated: int | None


class CategoryMetadata(BaseModel):
    """Upstream's ``CategoryMetadata`` (modelref adds ``version``)."""

    model_config = ConfigDict(extra="allow")

    category: str
    last_updated: int | None
    last_operation_type: str | None
    last_operation_model: str | None
    total_creates: int
    total_updates: int
    total_deletes: int
    total_models: int
    initialization_time: int | None
    last_successful_operation: int | None
    error_count: int
    metadata_schema_version: str
    backend_type: str


class LegacyRecordBody(BaseModel):
    """A legacy (GitHub JSON) record as v1 write routes take it; unknown keys are kept."""

    model_config = ConfigDict(extra="allow")

    name: str
