"""v2 reads (spec http-api §4): categories, one category, one model, metadata, beta view.

``GET /{category}`` and ``GET /{category}/model/{name}`` are normally answered by the fast path
before FastAPI sees them; the routes here document them and serve the same cached bytes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from modelref.api.cached import answer
from modelref.api.deps import ApiKey, ModelName, Svc, require
from modelref.api.errors import responses
from modelref.api.fastpath import STALE_HEADER
from modelref.api.schemas import CategoryLastUpdated, CategoryMetadata, LastUpdated, Message
from modelref.domain.categories import MANAGED_ELSEWHERE, Category
from modelref.domain.errors import NotFound
from modelref.service.auth import Role
from modelref.service.container import Services
from modelref.service.read_cache import ReadCache

router = APIRouter(tags=["v2 reads"])

_JSON_OBJECT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"schema": {"type": "object"}}}},
    304: {"description": "Not modified (If-None-Match matched the ETag)"},
}


def cached(request: Request, kind: str, category: Category, name: str | None = None) -> Response:
    """The fast path's answer, for requests that reach FastAPI."""
    cache: ReadCache = request.app.state.read_cache
    entry = cache.get(kind, category)
    inm = request.headers.get("if-none-match")
    gz = "gzip" in request.headers.get("accept-encoding", "")
    status, headers, body = answer(entry, category, name, inm.encode() if inm else None, gz)
    response = Response(content=body, status_code=status)
    response.raw_headers = [*headers, STALE_HEADER] if cache.stale and status < 400 else headers
    return response


@router.get("/info", response_model=Message)
def info() -> Message:
    return Message(message="modelref: review-gated AI Horde model reference (v2 API)")


@router.get("/model_categories", response_model=list[str])
def model_categories() -> list[str]:
    """Every category except those managed elsewhere (lora, ti), in enum order."""
    return [c.value for c in Category if c not in MANAGED_ELSEWHERE]


def metadata_of(services: Services, category: Category) -> dict[str, Any]:
    meta = services.catalog.metadata(category)
    if meta is None:
        raise NotFound(f"No metadata for category '{category.value}'")
    return meta


def all_metadata(services: Services) -> dict[str, dict[str, Any]]:
    found = {c: services.catalog.metadata(c) for c in Category}
    return {c.value: m for c, m in found.items() if m is not None}


def last_updated(services: Services) -> LastUpdated:
    """Newest apply over every category.

    Upstream answers 503 unless the canonical format matches the API version, because its other
    format's files may be stale; modelref renders both formats from one catalog, so both API
    versions can always answer (W22).
    """
    stamps = [m["last_updated"] for m in all_metadata(services).values() if m["last_updated"]]
    return LastUpdated(last_updated=max(stamps) if stamps else None)


@router.get("/metadata/last_updated", response_model=LastUpdated)
def metadata_last_updated(services: Svc) -> LastUpdated:
    return last_updated(services)


@router.get("/metadata/metadata", response_model=dict[str, CategoryMetadata])
def metadata_all(services: Svc) -> dict[str, dict[str, Any]]:
    return all_metadata(services)


@router.get(
    "/metadata/{category}/last_updated",
    response_model=CategoryLastUpdated,
    responses=responses(404),
)
def metadata_category_last_updated(category: Category, services: Svc) -> CategoryLastUpdated:
    meta = metadata_of(services, category)
    return CategoryLastUpdated(category=category.value, last_updated=meta["last_updated"])


@router.get("/metadata/{category}", response_model=CategoryMetadata, responses=responses(404))
def metadata_category(category: Category, services: Svc) -> dict[str, Any]:
    return metadata_of(services, category)


@router.get(
    "/{category}/pending",
    response_model=dict[str, dict[str, Any]],
    responses=responses(401, 403, 503),
)
def beta_view(category: Category, key: ApiKey, services: Svc) -> dict[str, dict[str, Any]]:
    """Pending and approved create/update payloads per model (reader key)."""
    require(services, key, Role.reader)
    return services.catalog.beta_view(category)


@router.get("/{category}", responses={**_JSON_OBJECT, **responses(404)})
def read_category(category: Category, request: Request) -> Response:
    """``{model_name: record}`` exactly as stored; ETag, 304 and gzip supported."""
    return cached(request, "v2", category)


@router.get("/{category}/model/{model_name:path}", responses={**_JSON_OBJECT, **responses(404)})
def read_model(category: Category, model_name: ModelName, request: Request) -> Response:
    """One stored record; `Author/Model` names work raw and %2F-encoded."""
    return cached(request, "v2", category, model_name)
