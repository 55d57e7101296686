"""What the reviewer pages show of governance: ages, approvals, and the revert buttons' routes.

The queue and change pages call :func:`ages` and :func:`approvals_view`; the two POST routes
queue reverts as the signed-in user's proposals and send them to where they can follow them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from modelref.domain.actors import Actor
from modelref.domain.queue_models import ChangeApproval, PendingChangeRecord, PendingChangeStatus
from modelref.service.auth import Role
from modelref.service.governance import Standing
from modelref.web.context import Form, UIRoute, Viewer, Web, need, see_other

router = APIRouter(route_class=UIRoute)

S = PendingChangeStatus


def age(seconds: int) -> str:
    """A short age: 45s, 12m, 3h, 5d."""
    seconds = max(0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ages(changes: Iterable[PendingChangeRecord], now: int) -> dict[int, str]:
    return {c.change_id: age(now - c.requested_at) for c in changes}


@dataclass(frozen=True)
class ApprovalsView:
    """The change page's approvals panel under a quorum policy."""

    required: int
    fresh: int
    rules: tuple[str, ...]
    approvals: list[ChangeApproval]
    #: The live record moved since the change's base: approving re-bases it.
    rebases: bool
    #: The signed-in approver could approve it now.
    approvable: bool

    @property
    def short(self) -> str:
        return f"{self.fresh}/{self.required} approvals"


def approvals_view(change: PendingChangeRecord, standing: Standing | None) -> ApprovalsView | None:
    """None under the upstream policy (no approvals are recorded there)."""
    if standing is None:
        return None
    return ApprovalsView(
        required=standing.requirement.approvals,
        fresh=standing.fresh,
        rules=standing.requirement.rules,
        approvals=list(change.approvals or []),
        rebases=standing.rebases,
        approvable=standing.approvable,
    )


@router.post("/ui/batches/{batch_id}/revert")
def revert_batch(
    request: Request, ctx: Web, session: Viewer, form: Form, batch_id: int
) -> Response:
    need(session, Role.requestor)
    me = session.identity
    ctx.services.reverts.revert_batch(batch_id, Actor(me.user_id, me.username))
    return see_other(f"/ui/queue?status=pending&requester={quote(me.user_id)}&notice=reverted")


@router.post("/ui/changes/{change_id}/revert")
def revert_change(
    request: Request, ctx: Web, session: Viewer, form: Form, change_id: int
) -> Response:
    need(session, Role.requestor)
    me = session.identity
    result = ctx.services.reverts.revert_change(change_id, Actor(me.user_id, me.username))
    return see_other(f"/ui/changes/{result.queued[0].change_id}?notice=reverted")
