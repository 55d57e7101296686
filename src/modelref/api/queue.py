"""Pending-queue endpoints (spec http-api §6), mounted under both v2 and v1 prefixes.

Handlers validate (FastAPI), authenticate, then call one service method. modelref additions:
``POST /changes/{id}/withdraw``, ``force`` on the apply routes and ``sort`` on the listings.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from modelref.api.deps import MAX_ID, MAX_OFFSET, ApiKey, BatchId, ChangeId, Svc, no_nul, require
from modelref.api.errors import RequestRejected, responses
from modelref.api.schemas import (
    ApplyPendingChangeRequest,
    ApplyPendingChangesRequest,
    ApplyPendingChangesResponse,
    ApplySingleChangeResponse,
    PendingBatchRequest,
    PurgePendingChangesRequest,
    PurgePendingChangesResponse,
)
from modelref.domain import errors, inputs
from modelref.domain.categories import Category
from modelref.domain.errors import ApplyFailed
from modelref.domain.queue_models import (
    BatchSplitInfo,
    PendingBatchResult,
    PendingChangeDiff,
    PendingChangeDiffPage,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
    PendingQueuePage,
)
from modelref.http_status import status_of
from modelref.service.apply import ApplyResult
from modelref.service.auth import Role

router = APIRouter(prefix="/pending_queue", tags=["pending queue"])

Statuses = Annotated[list[PendingChangeStatus] | None, Query()]
Categories = Annotated[list[Category] | None, Query()]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
Limit = Annotated[int, Query(ge=1, le=500)]
IdItem = Annotated[int, Field(ge=-MAX_ID, le=MAX_ID)]
Sort = Annotated[
    Literal["change_id", "age", "-age"],
    Query(description="modelref: order by change id (upstream's), age (oldest first) or -age"),
]

_FAILED_TYPES: list[tuple[type[errors.ModelrefError], str]] = [
    (errors.NotFound, "PendingChangeNotFoundError"),
    (errors.ValidationFailed, "PendingChangePayloadError"),
    (errors.Conflict, "PendingChangeConflictError"),
    (errors.ServiceUnavailable, "PendingChangeBackendError"),
    (errors.StorageError, "PendingChangeBackendError"),
]


def _filter(
    statuses: list[PendingChangeStatus] | None,
    categories: list[Category] | None,
    model_name: str | None = None,
    requested_by: list[str] | None = None,
    batch_id: int | None = None,
) -> PendingQueueFilter:
    users = {u.strip() for u in requested_by or [] if no_nul(u, "requested_by") and u.strip()}
    name = (no_nul(model_name, "model_name") or "").strip() or None
    return PendingQueueFilter(
        statuses=set(statuses) if statuses else None,
        categories=set(categories) if categories else None,
        model_name=name,
        requested_by=users or None,
        batch_id=batch_id,
    )


def _split_fields(split: BatchSplitInfo | None) -> dict[str, int | bool]:
    if split is None:
        return {"batch_split_occurred": False}
    return {
        "batch_split_occurred": True,
        "batch_split_original_batch_id": split.original_batch_id,
        "batch_split_new_batch_id": split.new_batch_id,
        "batch_split_reassigned_count": len(split.reassigned_change_ids),
    }


def _bulk(result: ApplyResult) -> JSONResponse:
    body = ApplyPendingChangesResponse(applied=result.applied, **_split_fields(result.batch_split))
    return JSONResponse(body.model_dump(mode="json", exclude_none=True))


def _bulk_failure(exc: ApplyFailed) -> JSONResponse:
    """All-or-nothing apply: nothing was applied; upstream's body names the failing change.

    ``detail`` and ``code`` are added (additive fields) so every error answer carries the
    one envelope.
    """
    kind = next(
        (n for c, n in _FAILED_TYPES if isinstance(exc.cause, c)), "PendingChangeStateError"
    )
    body = ApplyPendingChangesResponse(
        applied=[],
        failed_change_id=exc.change_id,
        failed_error=exc.cause.message,
        failed_error_type=kind,
    )
    data = body.model_dump(mode="json", exclude_none=True)
    data.update(detail=exc.message, code=exc.cause.code)
    return JSONResponse(data, status_code=status_of(exc))


@router.get("/changes", response_model=PendingQueuePage, responses=responses(401, 403))
def list_changes(
    key: ApiKey,
    services: Svc,
    statuses: Statuses = None,
    categories: Categories = None,
    batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    model_name: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    requested_by: Annotated[list[str] | None, Query(max_length=inputs.MAX_FILTER_VALUES)] = None,
    offset: Offset = 0,
    limit: Limit = 50,
    sort: Sort = "change_id",
) -> PendingQueuePage:
    flt = _filter(statuses, categories, model_name, requested_by, batch_id)
    require(services, key, Role.reader)
    return services.review.list_changes(flt, offset, limit, sort)


@router.get("/my_changes", response_model=PendingQueuePage, responses=responses(401, 403))
def my_changes(
    key: ApiKey,
    services: Svc,
    statuses: Statuses = None,
    categories: Categories = None,
    offset: Offset = 0,
    limit: Limit = 50,
    sort: Sort = "change_id",
) -> PendingQueuePage:
    flt = _filter(statuses, categories)
    who = require(services, key, Role.requestor)
    flt.requested_by = {who.user_id}
    return services.review.list_changes(flt, offset, limit, sort)


@router.get(
    "/changes/{change_id}", response_model=PendingChangeRecord, responses=responses(401, 404)
)
def get_change(change_id: ChangeId, key: ApiKey, services: Svc) -> PendingChangeRecord:
    require(services, key, Role.reader)
    return services.review.get_change(change_id)


@router.get(
    "/changes/{change_id}/diff", response_model=PendingChangeDiff, responses=responses(401, 404)
)
def get_diff(change_id: ChangeId, key: ApiKey, services: Svc) -> PendingChangeDiff:
    require(services, key, Role.reader)
    return services.catalog.diff(change_id)


@router.get("/diffs", response_model=PendingChangeDiffPage, responses=responses(401))
def get_diffs(
    key: ApiKey,
    services: Svc,
    change_ids: Annotated[list[IdItem], Query(min_length=1, max_length=100)],
) -> PendingChangeDiffPage:
    require(services, key, Role.reader)
    return services.catalog.diffs(change_ids)


@router.post("/batches", response_model=PendingBatchResult, responses=responses(400, 401, 403, 409))
def process_batch(body: PendingBatchRequest, key: ApiKey, services: Svc) -> PendingBatchResult:
    """Approve and/or reject pending changes; all or nothing.

    Under a quorum policy (``MODELREF_APPROVAL_POLICY``) an approval below a change's quorum
    is recorded and listed in ``approvals_recorded`` (the change stays pending); approving a
    change one already approved answers 409 (``duplicate_approval``), and approving a change
    whose review checks found errors answers 409 (``checks_failed``) unless ``override_checks``.
    """
    if not body.approved_ids and not body.rejected_ids:
        raise RequestRejected(400, "Provide at least one positive change id to approve or reject.")
    if body.rejected_ids and not body.reject_reason:
        raise RequestRejected(400, "reject_reason is required when rejecting changes.")
    who = require(services, key, Role.approver)
    return services.review.process_batch(
        approver_id=who.user_id,
        approver_username=who.username,
        batch_title=body.batch_title,
        approved_ids=body.approved_ids,
        rejected_ids=body.rejected_ids,
        reject_reason=body.reject_reason,
        override_checks=body.override_checks,
    )


@router.post("/purge", response_model=PurgePendingChangesResponse, responses=responses(401, 403))
def purge(
    body: PurgePendingChangesRequest, key: ApiKey, services: Svc
) -> PurgePendingChangesResponse:
    flt = _filter(body.statuses, body.categories, body.model_name, body.requested_by)
    who = require(services, key, Role.approver)
    removed = services.review.purge_changes(
        flt, who.user_id, who.username, purge_all=body.purge_all, dry_run=body.dry_run
    )
    return PurgePendingChangesResponse(
        removed_count=len(removed), removed_change_ids=removed, dry_run=body.dry_run
    )


@router.post(
    "/changes/{change_id}/apply",
    response_model=ApplySingleChangeResponse,
    response_model_exclude_none=True,
    responses=responses(400, 401, 403, 404, 409, 503),
)
def apply_one(
    change_id: ChangeId,
    body: ApplyPendingChangeRequest,
    key: ApiKey,
    services: Svc,
) -> JSONResponse:
    who = require(services, key, Role.approver)
    if change_id <= 0:
        raise errors.NotFound(f"Change {change_id} not found.")
    # A failure here is one change's: the plain error envelope (spec §6).
    result = services.apply.apply_changes(
        [change_id], who.user_id, who.username, body.job_id, body.force, allow_mixed_batch=True
    )
    response = ApplySingleChangeResponse(
        record=result.applied[0], **_split_fields(result.batch_split)
    )
    return JSONResponse(response.model_dump(mode="json", exclude_none=True))


@router.post(
    "/apply",
    response_model=ApplyPendingChangesResponse,
    response_model_exclude_none=True,
    responses={
        **responses(401, 403),
        **responses(400, 404, 409, 503, bulk=ApplyPendingChangesResponse),
    },
)
def apply_many(body: ApplyPendingChangesRequest, key: ApiKey, services: Svc) -> JSONResponse:
    """Apply in the given order as one all-or-nothing unit."""
    who = require(services, key, Role.approver)
    try:
        result = services.apply.apply_changes(
            body.change_ids,
            who.user_id,
            who.username,
            body.job_id,
            body.force,
            allow_mixed_batch=body.allow_mixed_batch,
        )
    except ApplyFailed as exc:
        return _bulk_failure(exc)
    return _bulk(result)


@router.post(
    "/apply_batch/{batch_id}",
    response_model=ApplyPendingChangesResponse,
    response_model_exclude_none=True,
    responses={
        **responses(401, 403),
        **responses(400, 404, 409, 503, bulk=ApplyPendingChangesResponse),
    },
)
def apply_batch(
    batch_id: BatchId,
    key: ApiKey,
    services: Svc,
    job_id: Annotated[str | None, Query(max_length=120)] = None,
    force: bool = False,
) -> JSONResponse:
    """Apply every approved change of the batch; the batch keeps its id (no split cascade)."""
    no_nul(job_id, "job_id")
    who = require(services, key, Role.approver)
    try:
        result = services.apply.apply_batch(batch_id, who.user_id, who.username, job_id, force)
    except ApplyFailed as exc:
        return _bulk_failure(exc)
    return _bulk(result)


@router.post(
    "/changes/{change_id}/withdraw",
    response_model=PendingChangeRecord,
    responses=responses(400, 401, 403, 404),
)
def withdraw(change_id: ChangeId, key: ApiKey, services: Svc) -> PendingChangeRecord:
    """modelref: the requester cancels their own pending change."""
    who = require(services, key, Role.requestor)
    return services.review.withdraw_change(
        change_id=change_id, requestor_id=who.user_id, requestor_username=who.username
    )
