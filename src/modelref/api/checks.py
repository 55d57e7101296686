"""Review-check endpoints (modelref additions, additive: upstream clients never call them).

``GET .../pending_queue/changes/{id}/checks`` answers the change's check state and findings
(live progress while a file is hashed); ``POST .../checks/rerun`` (approver) queues them
again. The diff response carries a ``checks`` summary.
"""

from __future__ import annotations

from fastapi import APIRouter

from modelref.api.deps import ApiKey, ChangeId, Svc, require
from modelref.api.errors import responses
from modelref.domain.actors import Actor
from modelref.domain.checks import ChangeChecks
from modelref.service.auth import Role

router = APIRouter(prefix="/pending_queue", tags=["review checks"])


@router.get(
    "/changes/{change_id}/checks", response_model=ChangeChecks, responses=responses(401, 404)
)
def get_checks(change_id: ChangeId, key: ApiKey, services: Svc) -> ChangeChecks:
    """State (pending, running, done, unchecked) and findings of the change's review checks."""
    require(services, key, Role.reader)
    return services.checks.get(change_id)


@router.post(
    "/changes/{change_id}/checks/rerun",
    response_model=ChangeChecks,
    status_code=202,
    responses=responses(401, 403, 404),
)
def rerun_checks(change_id: ChangeId, key: ApiKey, services: Svc) -> ChangeChecks:
    """Queue every check of an open change again; a run still in progress is superseded."""
    who = require(services, key, Role.approver)
    return services.checks.rerun(change_id, Actor(who.user_id, who.username))
