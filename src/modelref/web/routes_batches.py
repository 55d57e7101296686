"""Open batches and applying them; history of applied batches, model timelines, audit chain."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from modelref.domain.categories import Category
from modelref.domain.errors import ApplyFailed, ModelrefError, NotFound, ValidationFailed
from modelref.domain.queue_models import PendingChangeStatus, PendingQueueFilter
from modelref.service.auth import Role
from modelref.web.context import Form, UIRoute, Viewer, Web, WebContext, need, see_other
from modelref.web.routes_queue import diff_map
from modelref.web.session import Session

router = APIRouter(route_class=UIRoute)

HISTORY_PAGE = 10


@router.get("/ui/apply", response_class=HTMLResponse)
def open_batches(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    flt = PendingQueueFilter(statuses={PendingChangeStatus.APPROVED, PendingChangeStatus.APPLYING})
    items = ctx.services.review.list_changes(flt).items
    batches: dict[int, dict[str, Any]] = {}
    for c in items:
        if c.batch_id is None:
            continue
        entry = batches.setdefault(
            c.batch_id,
            {"batch_id": c.batch_id, "title": c.batch_title, "count": 0, "applying": 0},
        )
        entry["count" if c.status is PendingChangeStatus.APPROVED else "applying"] += 1
    data = {"batches": sorted(batches.values(), key=lambda b: b["batch_id"])}
    return ctx.render(request, "apply.html", data, session=session, nav="apply")


def batch_page(
    ctx: WebContext,
    request: Request,
    session: Session,
    batch_id: int,
    *,
    failure: dict[str, Any] | None = None,
) -> HTMLResponse:
    items = ctx.services.review.list_changes(PendingQueueFilter(batch_id=batch_id)).items
    if not items:
        raise NotFound(f"Batch {batch_id} has no changes.")
    data = {
        "batch_id": batch_id,
        "title": next((c.batch_title for c in items if c.batch_title), None),
        "items": items,
        "diffs": diff_map(ctx, [c.change_id for c in items]),
        "approved_count": sum(c.status is PendingChangeStatus.APPROVED for c in items),
        "applied_count": sum(c.status is PendingChangeStatus.APPLIED for c in items),
        "can_revert": session.identity.has(Role.requestor)
        and any(c.status is PendingChangeStatus.APPLIED for c in items),
        "failure": failure,
    }
    return ctx.render(request, "batch.html", data, session=session, nav="apply")


@router.get("/ui/batches/{batch_id}", response_class=HTMLResponse)
def batch(request: Request, ctx: Web, session: Viewer, batch_id: int) -> HTMLResponse:
    return batch_page(ctx, request, session, batch_id)


@router.post("/ui/batches/{batch_id}/apply", response_class=HTMLResponse)
def apply_batch(request: Request, ctx: Web, session: Viewer, form: Form, batch_id: int) -> Response:
    need(session, Role.approver)
    me = session.identity
    try:
        ctx.services.apply.apply_batch(
            batch_id, me.user_id, me.username, force=form.get("force") == "1"
        )
    except ApplyFailed as exc:
        failure = {"change_id": exc.change_id, "message": exc.cause.message}
        return batch_page(ctx, request, session, batch_id, failure=failure)
    except ModelrefError as exc:
        failure = {"change_id": None, "message": exc.message}
        return batch_page(ctx, request, session, batch_id, failure=failure)
    return see_other(f"/ui/batches/{batch_id}?notice=applied")


@router.get("/ui/history", response_class=HTMLResponse)
def history(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    raw = request.query_params.get("before")
    before: int | None = None
    if raw:
        try:
            before = int(raw)
        except ValueError:
            raise ValidationFailed("before: not a history cursor") from None
    page = ctx.services.history.applied_batches(before, HISTORY_PAGE)
    data = {"page": page, "before": before, "categories": [c.value for c in Category]}
    return ctx.render(request, "history.html", data, session=session, nav="history")


@router.get("/ui/history/audit", response_class=HTMLResponse)
def audit_chain(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    report = ctx.services.audit.verify()
    return ctx.render(request, "audit.html", {"report": report}, session=session, nav="history")


@router.get("/ui/timeline", response_class=HTMLResponse)
def timeline(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    category = request.query_params.get("category", "")
    name = request.query_params.get("name", "").strip()
    if category not in Category.__members__:
        raise ValidationFailed(f"category: unknown category {category!r}")
    if not name:
        raise ValidationFailed("name: give a model name")
    entries = ctx.services.history.model_timeline(category, name)
    data = {"category": category, "name": name, "entries": entries}
    return ctx.render(request, "timeline.html", data, session=session, nav="history")
