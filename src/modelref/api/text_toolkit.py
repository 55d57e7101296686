"""Upstream's text toolkit enqueuers (spec http-api §5, "other endpoints that also enqueue").

Requestor auth and a PRIMARY instance, but, as upstream, no canonical-format check.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from modelref.api.deps import ApiKey, ModelName, Svc, no_nul, require
from modelref.api.errors import responses
from modelref.domain.actors import Actor
from modelref.service import text_toolkit
from modelref.service.auth import Role

router = APIRouter(tags=["text toolkit"])


class NameExceptionRequest(BaseModel):
    reason: str | None = None


@router.put(
    "/text_generation/group/common_fields",
    status_code=202,
    responses=responses(400, 401, 403, 404),
    summary="Propose the same field values for every model of a text model group",
)
def group_common_fields(
    key: ApiKey,
    services: Svc,
    group_name: Annotated[str, Query(min_length=1, max_length=200)],
    fields: Annotated[dict[str, Any], Body()],
) -> JSONResponse:
    no_nul(group_name, "group_name")
    who = require(services, key, Role.requestor)
    result = text_toolkit.propose_group_fields(
        services.review, services.catalog, group_name, fields, Actor(who.user_id, who.username)
    )
    return JSONResponse(
        {
            "updated_count": result.updated_count,
            "batch_id": result.batch_id,
            "pending_change_ids": result.pending_change_ids,
        },
        status_code=202,
    )


@router.put(
    "/text_generation/{model_name:path}/name_exception",
    status_code=202,
    responses=responses(400, 401, 403, 404),
    summary="Propose a name-schema exception for a text model",
)
def name_exception(
    model_name: ModelName, body: NameExceptionRequest, key: ApiKey, services: Svc
) -> JSONResponse:
    no_nul(model_name, "model_name")
    no_nul(body.reason, "reason")
    who = require(services, key, Role.requestor)
    change_id = text_toolkit.propose_name_exception(
        services.review, services.catalog, model_name, body.reason, Actor(who.user_id, who.username)
    )
    return JSONResponse({"pending_change_id": change_id}, status_code=202)
