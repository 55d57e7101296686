"""Review checks in the UI: the findings panel and badges (polled while running), re-runs.

The change page renders the panel itself (``checks_context``); while checks are pending or
running the panel and the queue badges ask these routes for a fresh copy every few seconds.
Polled fragments answer 204 (leave the page as it is) when the session ended.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from modelref.domain.actors import Actor
from modelref.domain.checks import ChecksSummary
from modelref.domain.transitions import OPEN
from modelref.service.auth import Role
from modelref.web.context import (
    Form,
    UIRoute,
    Viewer,
    Web,
    WebContext,
    maybe_session,
    need,
    see_other,
)
from modelref.web.session import Session

router = APIRouter(route_class=UIRoute)


def checks_context(ctx: WebContext, session: Session, change_id: int) -> dict[str, Any]:
    """What the change page needs to show the checks panel."""
    change = ctx.services.review.get_change(change_id)
    return {
        "checks": ctx.services.checks.get(change_id),
        "can_rerun": session.identity.has(Role.approver) and change.status in OPEN,
    }


@router.get("/ui/changes/{change_id}/checks", response_class=HTMLResponse)
def panel(
    request: Request,
    ctx: Web,
    session: Annotated[Session | None, Depends(maybe_session)],
    change_id: int,
) -> Response:
    if session is None:
        return Response(status_code=204)
    data = checks_context(ctx, session, change_id)
    return ctx.render(request, "checks_panel.html", data, session=session)


@router.get("/ui/changes/{change_id}/checks/badge", response_class=HTMLResponse)
def badge(
    request: Request,
    ctx: Web,
    session: Annotated[Session | None, Depends(maybe_session)],
    change_id: int,
) -> Response:
    if session is None:
        return Response(status_code=204)
    summary = ChecksSummary.of(ctx.services.checks.get(change_id))
    data = {"summary": summary, "change_id": change_id}
    return ctx.render(request, "checks_badge.html", data, session=session)


@router.post("/ui/changes/{change_id}/checks/rerun", response_class=HTMLResponse)
def rerun(ctx: Web, session: Viewer, form: Form, change_id: int) -> Response:
    need(session, Role.approver)
    me = session.identity
    ctx.services.checks.rerun(change_id, Actor(me.user_id, me.username))
    return see_other(f"/ui/changes/{change_id}#checks")
