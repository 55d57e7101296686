"""modelref's governance endpoints, mounted beside the queue under v2 and v1 prefixes.

``POST .../batches/{batch_id}/revert`` and ``POST .../changes/{change_id}/revert`` queue the
inverse of applied changes as ordinary proposals by the caller (202, like every proposal);
``GET .../stats`` is the queue at a glance. Upstream has none of these paths.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from modelref.api.deps import ApiKey, BatchId, ChangeId, Svc, require
from modelref.api.errors import responses
from modelref.domain import errors
from modelref.domain.actors import Actor
from modelref.service.auth import Role
from modelref.service.backlog import QueueStats
from modelref.service.revert import RevertProposals

router = APIRouter(prefix="/pending_queue", tags=["pending queue"])


def _queued(result: RevertProposals) -> JSONResponse:
    """202 like every proposal; queued records omit nulls as enqueue answers do."""
    return JSONResponse(result.wire(), status_code=202)


@router.post(
    "/batches/{batch_id}/revert",
    response_model=RevertProposals,
    status_code=202,
    responses=responses(400, 401, 403, 404, 409, 422),
)
def revert_batch(batch_id: BatchId, key: ApiKey, services: Svc) -> JSONResponse:
    """modelref: queue the inverse of everything the batch applied, as your proposals."""
    who = require(services, key, Role.requestor)
    return _queued(services.reverts.revert_batch(batch_id, Actor(who.user_id, who.username)))


@router.post(
    "/changes/{change_id}/revert",
    response_model=RevertProposals,
    status_code=202,
    responses=responses(400, 401, 403, 404, 409, 422),
)
def revert_change(change_id: ChangeId, key: ApiKey, services: Svc) -> JSONResponse:
    """modelref: queue the inverse of what one applied change did, as your proposal."""
    who = require(services, key, Role.requestor)
    if change_id <= 0:
        raise errors.NotFound(f"Change {change_id} not found.")
    return _queued(services.reverts.revert_change(change_id, Actor(who.user_id, who.username)))


@router.get("/stats", response_model=QueueStats, responses=responses(401, 403))
def stats(key: ApiKey, services: Svc) -> QueueStats:
    """modelref: counts by status, the median age of pending changes and the oldest one."""
    require(services, key, Role.reader)
    return services.backlog.stats()
