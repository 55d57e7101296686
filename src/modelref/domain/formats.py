"""Which catalog file is this, and in which format (spec data-model §1, §6)?

The legacy repos and the v2 directory use the same file names, so the name only gives the
category; the format is read from the content. Obsolete legacy files (aitemplate.json,
db_dep.json, ...), JSON schemas and the text repo's helper files are not catalog files.
Pure: the caller passes the already-read content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from modelref.domain.categories import LEGACY_CATEGORIES, V2_FILE_NAMES, Category

Format = Literal["v2", "legacy"]

_CATEGORY_BY_FILE: dict[str, Category] = {name: cat for cat, name in V2_FILE_NAMES.items()}
_CSV_FILE = "models.csv"
_TEXT_DB_FILE = "db.json"
#: Markers only v2 records carry (legacy entries never have them).
_V2_KEYS = frozenset({"record_type", "model_classification", "metadata"})


def detect_format(file_name: str, data: object) -> tuple[Category, Format] | None:
    """(category, "v2" | "legacy") for a catalog file, or None for anything else.

    ``file_name`` may be a path; only its last component counts. ``data`` is the parsed JSON, or
    for models.csv its text/bytes (or already-parsed rows). An empty ``{}`` category file is
    reported as v2 (both forms convert to nothing); mixed legacy/v2 content gives None.
    """
    base = file_name.replace("\\", "/").rsplit("/", 1)[-1]
    if base == _CSV_FILE:
        return (Category.text_generation, "legacy") if _looks_like_csv(data) else None
    if base == _TEXT_DB_FILE:
        return (Category.text_generation, "legacy") if _is_text_db(data) else None
    category = _CATEGORY_BY_FILE.get(base)
    if category is None or not isinstance(data, Mapping):
        return None
    if category is Category.text_generation:
        if _is_text_db(data):
            return category, "legacy"
        return (category, "v2") if _all_entries(data, _is_v2_text) else None
    kinds = {_image_entry_kind(entry) for entry in data.values()}
    if not kinds:
        return category, "v2"
    if len(kinds) != 1 or None in kinds:
        return None
    kind: Format = "legacy" if "legacy" in kinds else "v2"
    if kind == "legacy" and category not in LEGACY_CATEGORIES:
        return None
    return category, kind


def _all_entries(data: Mapping[Any, Any], test: Any) -> bool:
    return all(isinstance(v, Mapping) and test(v) for v in data.values())


def _image_entry_kind(entry: object) -> Format | None:
    """Legacy entries have ``config.files`` or ``type``; v2 records have neither.

    v2 records may also carry ``record_type``/``metadata``/``model_classification``, which no
    legacy entry has; an entry with markers of both kinds is not trusted (None).
    """
    if not isinstance(entry, Mapping):
        return None
    config = entry.get("config")
    legacy = (isinstance(config, Mapping) and "files" in config) or "type" in entry
    v2 = bool(_V2_KEYS & entry.keys())
    if legacy and v2:
        return None
    return "legacy" if legacy else "v2"


def _is_text_db(data: object) -> bool:
    """Text db.json: a non-empty object whose entries carry ``model_name`` and ``parameters``."""
    return (
        isinstance(data, Mapping)
        and len(data) > 0
        and _all_entries(data, lambda e: "model_name" in e and "parameters" in e)
    )


def _is_v2_text(entry: Mapping[str, Any]) -> bool:
    return "model_name" not in entry and ("parameters" in entry or "parameters_count" in entry)


def _looks_like_csv(data: object) -> bool:
    """models.csv content: text whose header names ``name`` and ``parameters_bn`` (or rows)."""
    if isinstance(data, bytes | bytearray):
        data = bytes(data).decode("utf-8", errors="replace")
    if isinstance(data, str):
        header = data.removeprefix("\ufeff").split("\n", 1)[0].strip().split(",")
        return "name" in header and "parameters_bn" in header
    if isinstance(data, list):
        return all(isinstance(row, Mapping) and "name" in row for row in data)
    return False
