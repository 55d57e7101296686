"""v2 writes (spec http-api §5): every write enqueues a change and answers 202 with it.

One typed ``POST /{category}`` and ``PUT /{category}/model/{name}`` per category, so the
OpenAPI document shows each category's record schema; the record type is chosen by the URL and
a mismatching ``record_type`` is refused (W16). Names with ``/`` work on every route (W17).
"""

# No ``from __future__ import annotations``: the per-category handlers below are closures whose
# body annotation must be the real class for FastAPI to read it.

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import field_validator

from modelref.api.deps import (
    ApiKey,
    ModelName,
    Svc,
    no_nul,
    reject_backend_prefix,
    require,
    v2_write_gate,
)
from modelref.api.errors import RequestRejected, responses
from modelref.domain.categories import Category
from modelref.domain.queue_models import PendingChangeRecord
from modelref.domain.records import RECORD_TYPES, TextGenerationRecord
from modelref.domain.records_base import RecordBase
from modelref.service.auth import Role
from modelref.service.container import Services

router = APIRouter(tags=["v2 writes"])

#: modelref addition: a note for the reviewers, stored as the change's ``notes``.
Notes = Annotated[str | None, Query(max_length=2000, description="Note for the reviewers")]

_WRITE_ERRORS = responses(400, 401, 403, 404, 409, 503)
_ENQUEUED: dict[str, Any] = {
    "status_code": 202,
    "response_model": PendingChangeRecord,
    "response_model_exclude_none": True,
    "responses": _WRITE_ERRORS,
}


def enqueued(record: PendingChangeRecord) -> JSONResponse:
    """202 with the new change, nulls omitted (spec §12)."""
    return JSONResponse(record.model_dump(mode="json", exclude_none=True), status_code=202)


def enqueue(
    services: Services,
    key: str,
    category: Category,
    name: str,
    operation: str,
    payload: dict[str, Any] | None,
    route: str,
    notes: str | None = None,
) -> JSONResponse:
    """Steps 2-11 of spec §5: auth, write gate, text prefix, then the service."""
    no_nul(notes, "notes")
    who = require(services, key, Role.requestor)
    v2_write_gate(services, category)
    reject_backend_prefix(category, name)
    record = services.review.enqueue_change(
        category=category,
        model_name=name,
        operation=operation,
        payload=payload,
        requestor_id=who.user_id,
        requestor_username=who.username,
        notes=(notes or "").strip() or None,
        request_metadata={"route": route},
    )
    return enqueued(record)


def _dump(body: RecordBase) -> dict[str, Any]:
    payload = body.model_dump(mode="json", exclude_none=True)
    no_nul(payload["name"], "name")
    return payload


def _typed_routes(category: Category, model: type[RecordBase]) -> None:
    def create(body: model, key: ApiKey, services: Svc, notes: Notes = None) -> JSONResponse:  # type: ignore[valid-type]
        payload = _dump(body)
        return enqueue(
            services,
            key,
            category,
            payload["name"],
            "create",
            payload,
            f"create_v2_{category.value}",
            notes,
        )

    def update(
        model_name: ModelName,
        body: model,  # type: ignore[valid-type]
        key: ApiKey,
        services: Svc,
        notes: Notes = None,
    ) -> JSONResponse:
        payload = _dump(body)
        if payload["name"] != model_name:
            raise RequestRejected(
                400, "Model name in the path must match the payload when queuing updates."
            )
        return enqueue(
            services,
            key,
            category,
            model_name,
            "update",
            payload,
            f"update_v2_{category.value}",
            notes,
        )

    create.__name__ = f"create_{category.value}"
    update.__name__ = f"update_{category.value}"
    router.post(f"/{category.value}", summary=f"Propose a new {category.value} model", **_ENQUEUED)(
        create
    )
    router.put(
        f"/{category.value}/model/{{model_name:path}}",
        summary=f"Propose an update of a {category.value} model",
        **_ENQUEUED,
    )(update)


class TextGenerationBody(TextGenerationRecord):
    """Text bodies: the backend-prefix rule is checked after auth, as 400 (spec §5 step 5)."""

    @field_validator("name")
    @classmethod
    def _text_name(cls, value: str) -> str:
        return value


#: Request body type per category (the record types, except the text override above).
BODY_TYPES: dict[Category, type[RecordBase]] = {
    **RECORD_TYPES,
    Category.text_generation: TextGenerationBody,
}

for _category, _model in BODY_TYPES.items():
    _typed_routes(_category, _model)


@router.post("/{category}/add", summary="Propose a new model (any record type)", **_ENQUEUED)
def create_any(
    category: Category,
    key: ApiKey,
    services: Svc,
    body: dict[str, Any] = Body(..., description="A record of the category named in the URL"),
    notes: Notes = None,
) -> JSONResponse:
    """The record is validated as the URL's category (never guessed from the body, W16)."""
    name = body.get("name")
    if not isinstance(name, str):
        raise RequestRejected(422, "name: a string is required", "validation_failed")
    no_nul(name, "name")
    return enqueue(services, key, category, name, "create", body, "create_v2_model", notes)


@router.delete("/{category}/model/{model_name:path}", summary="Propose a deletion", **_ENQUEUED)
def delete_model(
    category: Category, model_name: ModelName, key: ApiKey, services: Svc, notes: Notes = None
) -> JSONResponse:
    no_nul(model_name, "model_name")
    return enqueue(services, key, category, model_name, "delete", None, "delete_v2_model", notes)


@router.post("/{category}", include_in_schema=False)
def create_unknown(category: Category) -> None:
    """Only reached for category names outside the enum: FastAPI answers 422."""
    raise RequestRejected(422, f"Unknown category {category!r}", "validation_failed")


@router.put("/{category}/model/{model_name:path}", include_in_schema=False)
def update_unknown(category: Category, model_name: str) -> None:
    raise RequestRejected(422, f"Unknown category {category!r}", "validation_failed")
