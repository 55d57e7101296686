"""Queue page, live pending count, change page, review decisions and withdrawal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.datastructures import FormData

from modelref.domain import payloads, records
from modelref.domain.categories import Category
from modelref.domain.errors import ModelrefError, ValidationFailed
from modelref.domain.queue_models import (
    PendingBatchResult,
    PendingChangeDiff,
    PendingChangeStatus,
    PendingQueueFilter,
)
from modelref.domain.transitions import OPEN
from modelref.service.auth import Role
from modelref.web import diffview, routes_checks
from modelref.web import governance as gov
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

PAGE_SIZE = 25
#: Highest page number honoured (beyond it the offset leaves every engine's integer range).
PAGE_LIMIT = 10**6
STATUSES = [s.value for s in PendingChangeStatus]
#: ``?sort=`` of the queue page -> the listing's order (default: by change id).
SORTS = {"age": "age", "newest": "-age"}
_FIELD_LABELS = {"batch_title": "Batch title", "reject_reason": "Reject reason"}


@dataclass
class Review:
    """What the reviewer typed, and the errors to show next to each field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _int(value: str | None, default: int) -> int:
    """A page number from the address bar: anything unusable means the default."""
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if 0 < number <= PAGE_LIMIT else default


def read_filters(params: Mapping[str, str]) -> dict[str, str]:
    status = params.get("status", "pending")
    category = params.get("category", "")
    return {
        "status": status if status in STATUSES else "all",
        "category": category if category in Category.__members__ else "",
        "requester": params.get("requester", "").strip(),
        "model": params.get("model", "").strip(),
        "sort": params.get("sort", "") if params.get("sort", "") in SORTS else "",
    }


def to_filter(filters: Mapping[str, str]) -> PendingQueueFilter:
    return PendingQueueFilter(
        statuses={PendingChangeStatus(filters["status"])} if filters["status"] != "all" else None,
        categories={Category(filters["category"])} if filters["category"] else None,
        requested_by={filters["requester"]} if filters["requester"] else None,
        model_name=filters["model"] or None,
    )


def _queue_url(filters: Mapping[str, str], page: int) -> str:
    query = {k: v for k, v in filters.items() if v}
    if page > 1:
        query["page"] = str(page)
    return "/ui/queue?" + urlencode(query)


def diff_map(ctx: WebContext, ids: list[int]) -> dict[int, PendingChangeDiff]:
    if not ids:
        return {}
    return {d.change_id: d for d in ctx.services.catalog.diffs(ids).diffs}


def queue_page(
    ctx: WebContext,
    request: Request,
    session: Session,
    params: Mapping[str, str],
    *,
    review: Review | None = None,
    selected: Iterable[int] = (),
) -> HTMLResponse:
    filters = read_filters(params)
    page = max(1, _int(params.get("page"), 1))
    order = SORTS.get(filters["sort"], "change_id")
    result = ctx.services.review.list_changes(
        to_filter(filters), (page - 1) * PAGE_SIZE, PAGE_SIZE, order
    )
    ids = [c.change_id for c in result.items]
    first = (page - 1) * PAGE_SIZE + 1
    data = {
        "filters": filters,
        "statuses": STATUSES,
        "categories": [c.value for c in Category],
        "items": result.items,
        "total": result.total,
        "first": first,
        "last": first + len(result.items) - 1,
        "diffs": diff_map(ctx, ids),
        "ages": gov.ages(result.items, ctx.services.clock()),
        "standings": ctx.services.governance.standings(ids),
        "sort_urls": {s: _queue_url({**filters, "sort": s}, 1) for s in ("", *SORTS)},
        "review": review or Review(),
        "selected": set(selected),
        "back": _queue_url(filters, page),
        "prev_url": _queue_url(filters, page - 1) if page > 1 else None,
        "next_url": _queue_url(filters, page + 1) if page * PAGE_SIZE < result.total else None,
    }
    return ctx.render(request, "queue.html", data, session=session, nav="queue")


@router.get("/ui/queue", response_class=HTMLResponse)
def queue(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    return queue_page(ctx, request, session, request.query_params)


@router.get("/ui/queue/count", response_class=PlainTextResponse)
def pending_count(ctx: Web, session: Annotated[Session | None, Depends(maybe_session)]) -> Response:
    """The htmx-polled pending counter (204, leaving the page as it is, when signed out)."""
    if session is None:
        return Response(status_code=204)
    return PlainTextResponse(str(ctx.pending_count()), headers={"Cache-Control": "no-store"})


def _ids(form: FormData) -> list[int]:
    ids: list[int] = []
    for raw in form.getlist("change_ids"):
        try:
            ids.append(int(str(raw)))
        except ValueError:
            raise ValidationFailed(f"change_ids: not a change id: {raw!r}") from None
    return ids


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def decide(ctx: WebContext, session: Session, form: FormData) -> PendingBatchResult:
    """Approve or reject the selected changes in one titled batch (the service decides)."""
    need(session, Role.approver)
    ids = _ids(form)
    if not ids:
        raise ValidationFailed("Select at least one change first.")
    decision = _text(form, "decision")
    if decision not in ("approve", "reject"):
        raise ValidationFailed("Choose Approve or Reject.")
    me = session.identity
    title = _text(form, "batch_title")
    reason = _text(form, "reject_reason")
    if decision == "reject" and not title:
        title = f"Rejected by {me.username}"[:120]
    return ctx.services.review.process_batch(
        approver_id=me.user_id,
        approver_username=me.username,
        batch_title=title,
        approved_ids=ids if decision == "approve" else [],
        rejected_ids=ids if decision == "reject" else [],
        reject_reason=reason or None,
        override_checks=_text(form, "override_checks") == "1",
    )


def review_errors(exc: ModelrefError) -> dict[str, str]:
    """Put a service message next to the field it names, else above the buttons."""
    for name, label in _FIELD_LABELS.items():
        if exc.message.startswith(name + ":"):
            return {name: f"{label}: {exc.message.split(':', 1)[1].strip()}"}
    return {"form": exc.message}


def _typed(form: FormData) -> dict[str, str]:
    return {k: _text(form, k) for k in ("batch_title", "reject_reason", "override_checks")}


def _after_review(result: PendingBatchResult, back: str) -> Response:
    if result.approved and result.batch_id is not None:
        return see_other(f"/ui/batches/{result.batch_id}?notice=approved")
    sep = "&" if "?" in back else "?"
    notice = "endorsed" if result.approvals_recorded and not result.rejected else "rejected"
    return see_other(f"{back}{sep}notice={notice}")


@router.post("/ui/review", response_class=HTMLResponse)
def review_from_queue(request: Request, ctx: Web, session: Viewer, form: Form) -> Response:
    back = _text(form, "back")
    parts = urlsplit(back)
    if parts.path != "/ui/queue" or parts.netloc or parts.scheme:
        back = "/ui/queue"
    params = dict(parse_qsl(urlsplit(back).query))
    try:
        result = decide(ctx, session, form)
    except ModelrefError as exc:
        review = Review(values=_typed(form), errors=review_errors(exc))
        selected = [i for i in _safe_ids(form)]
        return queue_page(
            ctx,
            request,
            session,
            params,
            review=review,
            selected=selected,
        )
    return _after_review(result, back)


def _safe_ids(form: FormData) -> list[int]:
    try:
        return _ids(form)
    except ValidationFailed:
        return []


def change_page(
    ctx: WebContext,
    request: Request,
    session: Session,
    change_id: int,
    *,
    review: Review | None = None,
) -> HTMLResponse:
    change = ctx.services.review.get_change(change_id)
    page = ctx.services.catalog.diffs([change_id])
    diff = page.diffs[0] if page.diffs else None
    me = session.identity
    legacy = payloads.is_legacy(change.request_metadata)
    shown = diffview.comparable(diff, legacy=legacy) if diff else None
    approvals = gov.approvals_view(
        change, ctx.services.governance.standings([change_id]).get(change_id)
    )
    data = {
        "change": change,
        "diff": diff,
        "diff_error": page.errors[0]["error"] if page.errors else None,
        "rows": diffview.field_rows(diff) if diff else [],
        "sbs": diffview.side_by_side(shown, diff.proposed_state) if diff else [],
        "normalized": diff is not None and shown != diff.current_state,
        "warnings": records.record_warnings(change.category, diff.proposed_state)
        if diff and diff.proposed_state
        else [],
        "record_exists": bool(diff and diff.current_state is not None),
        "can_review": me.has(Role.approver) and change.status in OPEN,
        "can_approve": change.status is PendingChangeStatus.PENDING
        or (approvals is not None and approvals.approvable),
        "approvals": approvals,
        "can_revert": me.has(Role.requestor) and change.status is PendingChangeStatus.APPLIED,
        "can_withdraw": change.requested_by == me.user_id
        and change.status is PendingChangeStatus.PENDING,
        "review": review or Review(),
        **routes_checks.checks_context(ctx, session, change_id),  # review checks panel
    }
    return ctx.render(request, "change.html", data, session=session, nav="queue")


@router.get("/ui/changes/{change_id}", response_class=HTMLResponse)
def change(request: Request, ctx: Web, session: Viewer, change_id: int) -> HTMLResponse:
    return change_page(ctx, request, session, change_id)


@router.post("/ui/changes/{change_id}/review", response_class=HTMLResponse)
def review_change(
    request: Request, ctx: Web, session: Viewer, form: Form, change_id: int
) -> Response:
    try:
        result = decide(ctx, session, form)
    except ModelrefError as exc:
        review = Review(values=_typed(form), errors=review_errors(exc))
        return change_page(ctx, request, session, change_id, review=review)
    return _after_review(result, f"/ui/changes/{change_id}")


@router.post("/ui/changes/{change_id}/withdraw", response_class=HTMLResponse)
def withdraw(request: Request, ctx: Web, session: Viewer, form: Form, change_id: int) -> Response:
    me = session.identity
    ctx.services.review.withdraw_change(
        change_id=change_id, requestor_id=me.user_id, requestor_username=me.username
    )
    return see_other(f"/ui/changes/{change_id}?notice=withdrawn")
