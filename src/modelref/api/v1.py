"""The v1 (legacy) surface (spec http-api §9): legacy reads always; writes when canonical is
``legacy`` (they enqueue legacy payloads, converted at apply; otherwise the routes are absent).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from modelref.api import reads
from modelref.api.deps import ApiKey, ModelName, Svc, no_nul, reject_backend_prefix, require
from modelref.api.errors import RequestRejected, responses
from modelref.api.fastpath import V1_EMPTY, v1_category
from modelref.api.schemas import (
    CategoryLastUpdated,
    CategoryMetadata,
    LastUpdated,
    LegacyRecordBody,
    Message,
)
from modelref.api.writes import enqueued
from modelref.domain import records, text_variants
from modelref.domain.categories import LEGACY_CATEGORIES, Category
from modelref.domain.queue_models import PendingChangeRecord
from modelref.service.auth import Role
from modelref.service.container import Services

_LEGACY_JSON: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}},
    304: {"description": "Not modified"},
    **responses(404, 422),
}


def _category(name: str, *, writable: bool = False) -> Category:
    category = v1_category(name)
    if category is None or (writable and category not in LEGACY_CATEGORIES):
        raise RequestRejected(
            422, f"Unknown or unsupported legacy category {name!r}", "validation_failed"
        )
    return category


def _with_groups(view: dict[str, Any]) -> dict[str, Any]:
    """``include_group=true``: each entry gains its text model group and a group summary."""
    groups: dict[str, set[str]] = {}
    for key in view:
        if not text_variants.has_backend_prefix(key):
            groups.setdefault(text_variants.text_model_group(key), set()).add(key)
    out = {}
    for key, entry in view.items():
        group = text_variants.text_model_group(key)
        members = sorted(groups.get(group, set()))
        summary = {"group": group, "member_count": len(members), "members": members}
        out[key] = {**entry, "text_model_group": group, "text_model_group_summary": summary}
    return out


def _read_routes(router: APIRouter) -> None:
    @router.get("/info", response_model=Message)
    def info() -> Message:
        return Message(message="modelref: review-gated AI Horde model reference (v1, legacy)")

    @router.get("/model_categories", response_model=list[str])
    def model_categories() -> list[str]:
        return [c.value for c in Category]

    @router.get("/metadata/last_updated", response_model=LastUpdated)
    def last_updated(services: Svc) -> LastUpdated:
        return reads.last_updated(services)

    @router.get("/metadata/metadata", response_model=dict[str, CategoryMetadata])
    def metadata_all(services: Svc) -> dict[str, dict[str, Any]]:
        found = reads.all_metadata(services)
        return {k: v for k, v in found.items() if Category(k) in LEGACY_CATEGORIES}

    @router.get(
        "/metadata/{category}/last_updated",
        response_model=CategoryLastUpdated,
        responses=responses(404),
    )
    def category_last_updated(category: Category, services: Svc) -> CategoryLastUpdated:
        meta = reads.metadata_of(services, category)
        return CategoryLastUpdated(category=category.value, last_updated=meta["last_updated"])

    @router.get("/metadata/{category}", response_model=CategoryMetadata, responses=responses(404))
    def category_metadata(category: Category, services: Svc) -> dict[str, Any]:
        return reads.metadata_of(services, category)

    @router.get("/{category}", responses=_LEGACY_JSON)
    def read_legacy(
        category: str, request: Request, services: Svc, include_group: bool = False
    ) -> Response:
        """Legacy JSON; aliases ``stable_diffusion``, ``db.json``; ``.json`` suffixes ignored."""
        cat = _category(category)
        if cat in V1_EMPTY:
            return JSONResponse({})
        if include_group and cat is Category.text_generation:
            view = services.catalog.legacy_view(cat)
            if not view:
                raise RequestRejected(404, f"Model category '{cat.value}' not found", "not_found")
            return JSONResponse(_with_groups(view))
        return reads.cached(request, "v1", cat)


def _legacy_enqueue(
    services: Services,
    key: str,
    category: Category,
    name: str,
    operation: str,
    payload: dict[str, Any] | None,
    route: str,
) -> JSONResponse:
    """Spec §9 order, with auth moved before the existence check (W20)."""
    no_nul(name, "name")
    records.check_model_name(name)
    reject_backend_prefix(category, name)
    who = require(services, key, Role.requestor)
    record = services.review.enqueue_change(
        category=category,
        model_name=name,
        operation=operation,
        payload=payload,
        requestor_id=who.user_id,
        requestor_username=who.username,
        request_metadata={"route": route, "payload_format": "legacy"},
    )
    return enqueued(record)


def _write_routes(router: APIRouter) -> None:
    enqueued_doc: dict[str, Any] = {
        "status_code": 202,
        "response_model": PendingChangeRecord,
        "response_model_exclude_none": True,
        "responses": responses(400, 401, 403, 404, 409, 422),
    }

    @router.post("/{category}", **enqueued_doc)
    def create(category: str, body: LegacyRecordBody, key: ApiKey, services: Svc) -> JSONResponse:
        cat = _category(category, writable=True)
        route = f"create_legacy_{cat.value}_model"
        return _legacy_enqueue(services, key, cat, body.name, "create", body.model_dump(), route)

    @router.put("/{category}", **enqueued_doc)
    def update(category: str, body: LegacyRecordBody, key: ApiKey, services: Svc) -> JSONResponse:
        cat = _category(category, writable=True)
        route = (
            "update_legacy_model"
            if cat is Category.image_generation
            else f"update_legacy_{cat.value}_model"
        )
        return _legacy_enqueue(services, key, cat, body.name, "update", body.model_dump(), route)

    @router.delete("/{category}/model/{model_name:path}", **enqueued_doc)
    def delete(category: str, model_name: ModelName, key: ApiKey, services: Svc) -> JSONResponse:
        cat = _category(category, writable=True)
        return _legacy_enqueue(
            services, key, cat, model_name, "delete", None, "delete_legacy_model"
        )


def build_router(legacy_writes: bool) -> APIRouter:
    """The v1 router; write routes exist only on legacy-canonical deployments."""
    router = APIRouter(tags=["v1 (legacy)"])
    _read_routes(router)
    if legacy_writes:
        _write_routes(router)
    return router
