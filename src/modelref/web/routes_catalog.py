"""Catalog browser: categories, paginated records, one record, and proposing changes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from modelref.domain import inputs
from modelref.domain.categories import Category
from modelref.domain.errors import ModelrefError, NotFound, PermissionDenied, ValidationFailed
from modelref.domain.queue_models import PendingQueueFilter
from modelref.domain.transitions import OPEN
from modelref.service.auth import Role
from modelref.web.context import Form, UIRoute, Viewer, Web, WebContext, need, see_other
from modelref.web.session import Session

router = APIRouter(route_class=UIRoute)

PAGE_SIZE = 50
COLUMNS = ("baseline", "parameters", "nsfw", "style")


def _category(value: str) -> Category:
    try:
        return Category(value)
    except ValueError:
        raise NotFound(f"Unknown category {value!r}") from None


@router.get("/ui/catalog", response_class=HTMLResponse)
def categories(request: Request, ctx: Web, session: Viewer) -> HTMLResponse:
    found = []
    for category, version in sorted(ctx.services.catalog.versions().items()):
        meta = ctx.services.catalog.metadata(category) or {}
        found.append(
            {"category": category.value, "version": version, "total": meta.get("total_models", 0)}
        )
    return ctx.render(
        request, "catalog.html", {"categories": found}, session=session, nav="catalog"
    )


@router.get("/ui/catalog/{category}", response_class=HTMLResponse)
def category_page(request: Request, ctx: Web, session: Viewer, category: str) -> HTMLResponse:
    cat = _category(category)
    records, version = ctx.services.catalog.records(cat)
    q = request.query_params.get("q", "").strip()
    names = [n for n in records if q.lower() in n.lower()] if q else list(records)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    start = (page - 1) * PAGE_SIZE
    shown = [(n, records[n]) for n in names[start : start + PAGE_SIZE]]

    def url(p: int) -> str:
        query = {"q": q} if q else {}
        if p > 1:
            query["page"] = str(p)
        return f"/ui/catalog/{cat.value}" + ("?" + urlencode(query) if query else "")

    data = {
        "category": cat.value,
        "version": version,
        "total": len(records),
        "matches": len(names),
        "q": q,
        "rows": shown,
        "first": start + 1,
        "last": start + len(shown),
        "columns": [f for f in COLUMNS if any(f in rec for _, rec in shown)],
        "prev_url": url(page - 1) if page > 1 else None,
        "next_url": url(page + 1) if start + PAGE_SIZE < len(names) else None,
    }
    return ctx.render(request, "category.html", data, session=session, nav="catalog")


def _record_action(cat: Category, name: str) -> str:
    return f"/ui/catalog/{cat.value}/{quote(name, safe='/')}"


def record_page(
    ctx: WebContext,
    request: Request,
    session: Session,
    cat: Category,
    name: str,
    *,
    payload_text: str | None = None,
    notes: str = "",
    error: str = "",
) -> HTMLResponse:
    record = ctx.services.catalog.record(cat, name)
    record_text = json.dumps(record, ensure_ascii=False, indent=2)
    flt = PendingQueueFilter(
        categories={cat},
        model_name=name,
        statuses=set(OPEN),
    )
    open_changes = [c for c in ctx.services.review.list_changes(flt).items if c.model_name == name]
    data = {
        "category": cat.value,
        "name": name,
        "record_text": record_text,
        "payload_text": record_text if payload_text is None else payload_text,
        "notes": notes,
        "error": error,
        "open_changes": open_changes,
        "action": _record_action(cat, name),
    }
    return ctx.render(request, "record.html", data, session=session, nav="catalog")


@router.get("/ui/catalog/{category}/{name:path}", response_class=HTMLResponse)
def record(request: Request, ctx: Web, session: Viewer, category: str, name: str) -> HTMLResponse:
    return record_page(ctx, request, session, _category(category), name)


def _field(form: FormData, key: str) -> str:
    value = form.get(key)
    return value if isinstance(value, str) else ""


def parse_payload(text: str) -> dict[str, Any]:
    """The textarea's JSON object, or a message saying where it is malformed."""
    value = inputs.parse_json(text, "payload")
    if not isinstance(value, dict):
        raise ValidationFailed("payload: must be a JSON object (a record)")
    return value


def _enqueue(
    ctx: WebContext, session: Session, cat: Category, name: str, operation: str, form: FormData
) -> int:
    need(session, Role.requestor)
    me = session.identity
    payload = parse_payload(_field(form, "payload")) if operation != "delete" else None
    change = ctx.services.review.enqueue_change(
        category=cat,
        model_name=name,
        operation=operation,
        payload=payload,
        requestor_id=me.user_id,
        requestor_username=me.username,
        notes=_field(form, "notes"),
    )
    return change.change_id


@router.post("/ui/catalog/{category}/{name:path}", response_class=HTMLResponse)
def propose_edit(
    request: Request, ctx: Web, session: Viewer, form: Form, category: str, name: str
) -> Response:
    cat = _category(category)
    operation = "delete" if _field(form, "operation") == "delete" else "update"
    try:
        change_id = _enqueue(ctx, session, cat, name, operation, form)
    except PermissionDenied:
        raise
    except ModelrefError as exc:
        if operation == "delete":
            raise
        return record_page(
            ctx,
            request,
            session,
            cat,
            name,
            payload_text=_field(form, "payload"),
            notes=_field(form, "notes"),
            error=exc.message,
        )
    return see_other(f"/ui/changes/{change_id}?notice=proposed")


def _new_page(
    ctx: WebContext, request: Request, session: Session, cat: Category, **data: Any
) -> HTMLResponse:
    context = {
        "category": cat.value,
        "action": f"/ui/propose/{cat.value}",
        "payload_text": "{\n}",
        "notes": "",
        "error": "",
        "name": "",
        **data,
    }
    return ctx.render(request, "propose_new.html", context, session=session, nav="catalog")


@router.get("/ui/propose/{category}", response_class=HTMLResponse)
def propose_new_form(request: Request, ctx: Web, session: Viewer, category: str) -> HTMLResponse:
    cat = _category(category)
    need(session, Role.requestor)
    return _new_page(ctx, request, session, cat)


@router.post("/ui/propose/{category}", response_class=HTMLResponse)
def propose_new(request: Request, ctx: Web, session: Viewer, form: Form, category: str) -> Response:
    cat = _category(category)
    name = _field(form, "model_name").strip()
    try:
        change_id = _enqueue(ctx, session, cat, name, "create", form)
    except PermissionDenied:
        raise
    except ModelrefError as exc:
        return _new_page(
            ctx,
            request,
            session,
            cat,
            name=name,
            payload_text=_field(form, "payload"),
            notes=_field(form, "notes"),
            error=exc.message,
        )
    return see_other(f"/ui/changes/{change_id}?notice=proposed")
