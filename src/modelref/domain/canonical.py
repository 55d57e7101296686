"""Canonical JSON and content hashes: one spelling of a record, so equal records hash equal."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Serialize with sorted keys, no whitespace and real Unicode (stable across runs)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(record: dict[str, Any] | None) -> str | None:
    """sha256 of a record's canonical JSON, or ``None`` for an absent record."""
    if record is None:
        return None
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()
