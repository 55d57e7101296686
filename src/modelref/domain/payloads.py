"""Payload formats: a change carries a v2 record or, on legacy-canonical deployments, legacy JSON.

Changes enqueued through the v1 routes of a legacy-canonical deployment say so in their
``request_metadata`` (``payload_format: legacy``); every reader of a payload asks here.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from modelref.domain import legacy_image, legacy_text, records
from modelref.domain.categories import LEGACY_CATEGORIES, Category
from modelref.domain.errors import ValidationFailed


class PayloadFormat(StrEnum):
    v2 = "v2"
    legacy = "legacy"


def payload_format(request_metadata: dict[str, Any] | None) -> PayloadFormat:
    """The format a change's payload is written in."""
    if request_metadata and request_metadata.get("payload_format") == PayloadFormat.legacy:
        return PayloadFormat.legacy
    return PayloadFormat.v2


def is_legacy(request_metadata: dict[str, Any] | None) -> bool:
    return payload_format(request_metadata) is PayloadFormat.legacy


def legacy_payload_to_v2(
    category: Category, name: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(v2 record, extras) for a legacy payload; text accepts the db.json entry shape."""
    if category is Category.text_generation:
        converted = legacy_text.db_json_to_v2({name: {**payload, "name": name}})
        return converted[name], {}
    return legacy_image.legacy_entry_to_v2(category, name, payload)


def check_legacy(category: Category, name: str, payload: Any) -> dict[str, Any]:
    """Validate a legacy payload by converting it; the legacy shape itself is what is stored."""
    if not isinstance(payload, dict):
        raise ValidationFailed("payload must be a JSON object")
    if category not in LEGACY_CATEGORIES:
        raise ValidationFailed(f"category: {category.value} has no legacy format")
    record, _extras = legacy_payload_to_v2(category, name, payload)
    records.validate_record(category, record, name=name)
    return payload


def as_v2(
    category: Category,
    name: str,
    payload: dict[str, Any],
    request_metadata: dict[str, Any] | None,
    extras: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The (v2 record, legacy extras) a payload stands for (legacy payloads are converted)."""
    if is_legacy(request_metadata):
        return legacy_payload_to_v2(category, name, payload)
    return payload, extras
