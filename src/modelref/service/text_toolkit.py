"""Text-model toolkit proposals (upstream's group and name-exception enqueuers).

Both only *propose* updates: each member becomes an ordinary pending change that goes through
review like any other. A group is queued in one transaction: all of its changes or none.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from modelref.domain import records
from modelref.domain.actors import Actor
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.errors import NotFound, ValidationFailed
from modelref.domain.text_variants import has_backend_prefix
from modelref.service.catalog import CatalogService
from modelref.service.review import Proposal, ReviewService

TEXT = Category.text_generation
#: Fields a group update may not touch: they identify or key the record.
_FIXED = frozenset({"name", "record_type", "text_model_group", "metadata"})


@dataclass(frozen=True)
class GroupProposal:
    """Upstream's 202 body for a group update."""

    updated_count: int
    batch_id: str
    pending_change_ids: list[int]


def propose_group_fields(
    review: ReviewService,
    catalog: CatalogService,
    group_name: str,
    fields: dict[str, Any],
    actor: Actor,
) -> GroupProposal:
    """One update per (non-prefixed) member of ``group_name`` setting ``fields`` on each."""
    if not isinstance(fields, dict) or not fields:
        raise ValidationFailed("body: give the fields to set as a non-empty JSON object")
    fixed = sorted(_FIXED & fields.keys())
    if fixed:
        raise ValidationFailed(f"body: these fields cannot be set for a group: {fixed}")
    group = group_name.strip()
    if not group:
        raise ValidationFailed("group_name: must not be empty")
    live, _version = catalog.records(TEXT)
    members = {
        name: record
        for name, record in live.items()
        if record.get("text_model_group") == group and not has_backend_prefix(name)
    }
    if not members:
        raise NotFound(f"No text models in group '{group}'")
    payloads = {}
    for name, record in members.items():
        try:
            payloads[name] = records.validate_record(TEXT, {**record, **fields}, name=name)
        except ValidationFailed as exc:
            raise ValidationFailed(f"{name}: {exc.message}") from None
    request_id = str(uuid.uuid4())
    notes = f"group update of '{group}': {', '.join(sorted(fields))}"
    metadata = {"route": "update_text_group_common_fields", "batch_id": request_id}
    queued = review.enqueue_many(
        [
            Proposal(TEXT, name, AuditOperation.UPDATE, payload, actor, notes, metadata)
            for name, payload in payloads.items()
        ]
    )
    ids = [c.change_id for c in queued]
    return GroupProposal(updated_count=len(ids), batch_id=request_id, pending_change_ids=ids)


def propose_name_exception(
    review: ReviewService,
    catalog: CatalogService,
    model_name: str,
    reason: str | None,
    actor: Actor,
) -> int:
    """Propose setting (or clearing, with ``None``) a text model's ``name_schema_exception``."""
    record = dict(catalog.record(TEXT, model_name))
    text = (reason or "").strip() or None
    if text is None:
        record.pop("name_schema_exception", None)
    else:
        record["name_schema_exception"] = text
    notes = f"name schema exception: {text}" if text else "name schema exception cleared"
    metadata = {"route": "update_text_name_exception"}
    (change,) = review.enqueue_many(
        [Proposal(TEXT, model_name, AuditOperation.UPDATE, record, actor, notes, metadata)]
    )
    return change.change_id
