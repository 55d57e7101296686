"""Legacy-shaped change payloads as v2 records (legacy-canonical deployments, W19)."""

from __future__ import annotations

from typing import Any

from modelref.domain import legacy_image, legacy_text
from modelref.domain.categories import Category


def legacy_payload_to_v2(
    category: Category, name: str, payload: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(v2 record, extras) for a legacy payload; text accepts the db.json entry shape."""
    if category is Category.text_generation:
        converted = legacy_text.db_json_to_v2({name: {**payload, "name": name}})
        return converted[name], {}
    return legacy_image.legacy_entry_to_v2(category, name, payload)
