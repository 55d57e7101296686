"""Pending-queue audit views (spec http-api §7), under both version prefixes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from modelref.api.deps import MAX_ID, ApiKey, BatchId, Svc, require
from modelref.api.errors import responses
from modelref.service.audit import report_json
from modelref.service.audit_views import (
    AuditViews,
    BatchNetChangeResponse,
    PendingQueueAuditBatchDetail,
    PendingQueueAuditBatchPage,
    PendingQueueAuditCurrentResponse,
)
from modelref.service.auth import Role

router = APIRouter(prefix="/pending_queue/audit", tags=["audit"])

Domain = Annotated[Literal["legacy", "v2"] | None, Query()]


def _views(request: Request) -> AuditViews:
    views: AuditViews = request.app.state.audit_views
    return views


@router.get(
    "/current", response_model=PendingQueueAuditCurrentResponse, responses=responses(401, 403)
)
def current(
    key: ApiKey, services: Svc, request: Request, domain_override: Domain = None
) -> PendingQueueAuditCurrentResponse:
    """Changes pending right now (purged ones leave this list), newest first."""
    require(services, key, Role.reader)
    return _views(request).current(domain_override)


@router.get("/batches", response_model=PendingQueueAuditBatchPage, responses=responses(401, 403))
def batches(
    key: ApiKey,
    services: Svc,
    request: Request,
    cursor: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
    domain_override: Domain = None,
) -> PendingQueueAuditBatchPage:
    """Batches with id below ``cursor``, newest first; ``next_cursor`` continues the listing."""
    require(services, key, Role.reader)
    return _views(request).batches(cursor, limit, domain_override)


@router.get(
    "/batches/{batch_id}",
    response_model=PendingQueueAuditBatchDetail,
    responses=responses(401, 403, 404),
)
def batch(
    batch_id: BatchId, key: ApiKey, services: Svc, request: Request, domain_override: Domain = None
) -> PendingQueueAuditBatchDetail:
    require(services, key, Role.reader)
    return _views(request).batch(batch_id, domain_override)


@router.get(
    "/batches/{batch_id}/net_changes",
    response_model=BatchNetChangeResponse,
    responses=responses(401, 403, 404),
)
def net_changes(
    batch_id: BatchId, key: ApiKey, services: Svc, request: Request, domain_override: Domain = None
) -> BatchNetChangeResponse:
    """What applying the batch did to each model, from the before/after of its catalog writes."""
    require(services, key, Role.reader)
    return _views(request).net_changes(batch_id, domain_override)


@router.get("/verify", responses=responses(401, 403))
def verify(key: ApiKey, services: Svc, deep: bool = False) -> dict[str, Any]:
    """modelref: check the whole hash chain; names the first broken event. ``deep=true``
    (approvers) also replays the log and names every queue or catalog row it disagrees with."""
    if deep:
        require(services, key, Role.approver)
        report = services.audit.verify_deep()
        return report_json(report.chain, report)
    require(services, key, Role.reader)
    return report_json(services.audit.verify())


@router.get("/events", responses=responses(401, 403))
def events(
    key: ApiKey,
    services: Svc,
    change_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> list[dict[str, Any]]:
    """modelref: raw audit events of a change or a batch (indexed), or the latest ones."""
    require(services, key, Role.reader)
    return [asdict(e) for e in services.audit.recent(change_id, batch_id, limit)]
