"""The seed models read and write upstream's wire JSON unchanged."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

import modelref
from modelref import (
    MODEL_REFERENCE_CATEGORY,
    AuditOperation,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueuePage,
    ensure_seq,
)

# The 202 body of spec http-api §5 (nulls omitted, as upstream sends it).
UPSTREAM_202 = """{"change_id": 12, "category": "miscellaneous", "model_name": "my_model",
 "operation": "create", "payload": {"record_type": "miscellaneous", "name": "my_model",
 "metadata": {"schema_version": "2.0.0"}, "config": {"download": []},
 "model_classification": {"domain": "image", "purpose": "miscellaneous"}},
 "requested_by": "1234", "requested_username": "alice#1234", "requested_at": 1767225600,
 "status": "pending", "updated_at": 1767225600,
 "request_metadata": {"route": "create_v2_miscellaneous"}}"""


def test_upstream_record_round_trips() -> None:
    wire = json.loads(UPSTREAM_202)
    record = PendingChangeRecord.model_validate(wire)
    assert record.status is PendingChangeStatus.PENDING and record.batch_id is None
    assert record.model_dump(mode="json", exclude_none=True) == wire
    keys = list(record.model_dump(mode="json"))
    assert keys[:8] == [
        "change_id",
        "category",
        "model_name",
        "operation",
        "payload",
        "requested_by",
        "requested_username",
        "requested_at",
    ]
    assert keys[-1] == "base_hash"  # our extension comes last and is optional


def test_enums_and_helpers_match_the_seed() -> None:
    assert [s.value for s in PendingChangeStatus] == [
        "pending",
        "approved",
        "applying",
        "applied",
        "rejected",
    ]
    assert [o.value for o in AuditOperation] == ["create", "update", "delete"]
    assert len(MODEL_REFERENCE_CATEGORY) == 15
    assert ensure_seq(None) == [] and ensure_seq({3}) == [3]
    page = PendingQueuePage(items=[], total=0, offset=0, limit=None)
    assert page.model_dump() == {"items": [], "total": 0, "offset": 0, "limit": None}
    assert set(modelref.__all__) <= set(dir(modelref)) | {"PendingQueueService"}
    service_class = modelref.PendingQueueService
    assert isinstance(service_class, type) and service_class.__name__ == "PendingQueueService"


def test_unknown_enum_values_are_refused_naming_the_field() -> None:
    wire = json.loads(UPSTREAM_202) | {"status": "APPROVED"}
    with pytest.raises(ValidationError, match="status"):
        PendingChangeRecord.model_validate(wire)


def test_a_chained_event_hashes_as_the_verifier_recomputes_it() -> None:
    from modelref.domain.audit import GENESIS_HASH, NewEvent, chain_hash, first_broken

    draft = NewEvent(
        timestamp=1_800_000_000,
        domain="v2",
        category="pending_queue",
        model_name="7",
        operation="update",
        action="enqueue",
        change_id=7,
        batch_id=None,
        job_id=None,
        logical_user_id="1001",
        username="zoë#1001",
        payload={"after": {"z": [1, {"b": None, "a": "é"}], "action": "enqueue"}},
    )
    first = draft.chained(1, GENESIS_HASH)
    assert first.hash == chain_hash(GENESIS_HASH, first)
    second = draft.chained(2, first.hash)
    assert first_broken([first, second]) is None
