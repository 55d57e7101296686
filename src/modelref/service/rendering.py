"""Render catalog rows as files (v2 and legacy layouts) and convert legacy payloads.

Layout, mirroring the public reference repositories::

    v2/<category file>                 every category
    legacy/image/<category file>       image-repo categories
    legacy/text/models.csv, db.json    text_generation
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from modelref.domain import legacy_image, legacy_text
from modelref.domain.categories import LEGACY_CATEGORIES, V2_FILE_NAMES, Category
from modelref.store.catalog import CatalogRow

Format = Literal["v2", "legacy", "both"]


def dump_v2(records: dict[str, Any]) -> bytes:
    """Upstream's v2 file style: 4-space indent, real Unicode, trailing newline."""
    return (json.dumps(records, indent=4, ensure_ascii=False) + "\n").encode("utf-8")


def render(category: Category, rows: Sequence[CatalogRow], fmt: Format) -> dict[str, bytes]:
    """Relative path -> file bytes for one category in the requested format(s)."""
    files: dict[str, bytes] = {}
    records = {r.name: r.record for r in rows}
    if fmt in ("v2", "both"):
        files[f"v2/{V2_FILE_NAMES[category]}"] = dump_v2(records)
    if fmt in ("legacy", "both") and category in LEGACY_CATEGORIES:
        extras = {r.name: r.extras for r in rows}
        files.update(render_legacy(category, records, extras))
    return files


def legacy_view(
    category: Category, records: dict[str, dict[str, Any]], extras: dict[str, Any]
) -> dict[str, Any]:
    """The legacy JSON object (text: the db.json shape with backend variants)."""
    if category is Category.text_generation:
        return legacy_text.v2_to_db_json(records, extras)
    return legacy_image.v2_to_legacy_image_file(category, records, extras)


def render_legacy(
    category: Category, records: dict[str, dict[str, Any]], extras: dict[str, Any]
) -> dict[str, bytes]:
    if category is Category.text_generation:
        rows = legacy_text.v2_to_csv_rows(records, extras)
        return {
            "legacy/text/models.csv": legacy_text.dump_models_csv(rows).encode("utf-8"),
            "legacy/text/db.json": legacy_text.dump_db_json(legacy_text.build_db_json(rows)).encode(
                "utf-8"
            ),
        }
    entries = legacy_image.v2_to_legacy_image_file(category, records, extras)
    text = legacy_image.dump_legacy_json(entries, legacy_image.LEGACY_INDENT[category])
    return {f"legacy/image/{V2_FILE_NAMES[category]}": text.encode("utf-8")}
