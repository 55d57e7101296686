"""Catalog versions and the change feed (public reads, ETag'd, 304 on ``If-None-Match``).

``GET .../catalog/versions/latest`` and ``.../catalog/versions/{n}``: a version's manifest (what
produced it, the sha256 of every category's v2 file after it, the audit head).
``GET .../catalog/changes?since=N&limit=L``: the changes after version N, whole versions per
page, each ``{version, category, model, operation, after}``; ``next`` is the ``since`` of the
next page, ``null`` once the reader is up to date. An ``import`` change has ``model: null``
and ``after`` holding the whole category as imported (replace the category with it).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from modelref.api.deps import MAX_ID, Svc
from modelref.api.errors import responses
from modelref.service.feed import DEFAULT_LIMIT, MAX_LIMIT
from modelref.service.read_cache import Rendered

router = APIRouter(prefix="/catalog", tags=["catalog versions"])

_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match matched the ETag)"}
}


class Person(BaseModel):
    user_id: str | None
    username: str | None


class CategoryHash(BaseModel):
    sha256: str


class AuditHead(BaseModel):
    event_id: int
    hash: str


class CatalogManifest(BaseModel):
    version: int
    created_at: int
    source: str
    title: str | None
    job_id: str | None
    applied_by: Person | None
    approvers: list[Person]
    change_ids: list[int]
    batch_ids: list[int]
    changed_categories: list[str]
    categories: dict[str, CategoryHash]
    audit_head: AuditHead


class CatalogChange(BaseModel):
    version: int
    category: str
    model: str | None
    operation: str
    after: dict[str, Any] | None


class CatalogChangesPage(BaseModel):
    since: int
    version: int
    latest: int
    changes: list[CatalogChange]
    next: int | None


def _answer(request: Request, data: dict[str, Any]) -> Response:
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    inm = request.headers.get("if-none-match")
    gz = "gzip" in request.headers.get("accept-encoding", "")
    status, headers, content = Rendered.of(body, 0).response(inm.encode() if inm else None, gz)
    response = Response(content=content, status_code=status)
    response.raw_headers = headers
    return response


@router.get(
    "/versions/latest",
    response_model=CatalogManifest,
    responses={**_NOT_MODIFIED, **responses(404)},
)
def latest_version(request: Request, services: Svc) -> Response:
    """The newest catalog version's manifest (404 before the first import or apply)."""
    return _answer(request, services.feed.latest().manifest())


@router.get(
    "/versions/{version}",
    response_model=CatalogManifest,
    responses={**_NOT_MODIFIED, **responses(404)},
)
def version_manifest(
    version: Annotated[int, Path(ge=1, le=MAX_ID, description="Catalog version")],
    request: Request,
    services: Svc,
) -> Response:
    """One catalog version's manifest."""
    return _answer(request, services.feed.manifest(version).manifest())


@router.get(
    "/changes",
    response_model=CatalogChangesPage,
    responses={**_NOT_MODIFIED, **responses(404)},
)
def changes(
    request: Request,
    services: Svc,
    since: Annotated[int, Query(ge=0, le=MAX_ID, description="Version the reader has")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Response:
    """The applied changes after version ``since``, oldest first, one page."""
    return _answer(request, services.feed.changes(since, limit).wire())
