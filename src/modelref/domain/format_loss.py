"""Which fields of a stored record a reference format cannot carry (pure).

A catalog row is a v2 record plus *extras*: the legacy details v2 has no field for (md5sum,
``download_all``, ``available``, ``.yaml`` config files...). Importing files of one format over
rows that came from the other must not lose what the new files cannot express:

* v2 files cannot carry extras: :func:`legacy_only_fields` names them, so an import can keep
  them (they are guarded patches, see :mod:`modelref.domain.legacy_image`) or report them
  dropped.
* legacy files cannot carry some v2 values (e.g. ``known_slow_download: true``, text
  ``nsfw``): :func:`fields_legacy_cannot_carry` finds them by a round trip through the legacy
  form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from modelref.domain import legacy_image, legacy_text, records
from modelref.domain.categories import LEGACY_CATEGORIES, Category
from modelref.domain.errors import ValidationFailed


def legacy_only_fields(extras: Mapping[str, Any] | None) -> list[str]:
    """Readable names of the legacy-only data held in ``extras`` (sorted, unique)."""
    if not extras:
        return []
    found: set[str] = set()
    found.update(str(k) for k in extras.get("fields") or {})
    config = extras.get("config") or {}
    for file_extras in (config.get("files") or {}).values():
        found.update(f"config.files.{k}" for k in file_extras.get("fields") or {})
        found.update(f"config.download.{k}" for k in file_extras.get("download_fields") or {})
        found.update(f"config.files.{k} (legacy value)" for k in file_extras.get("raw") or {})
    if config.get("other_files"):
        found.add("config.files (non-model files, e.g. .yaml)")
    if config.get("no_download"):
        found.add("config.files without a download")
    found.update(f"config.{k}" for k in config.get("fields") or {})
    found.update(f"{k} (legacy value)" for k in extras.get("overrides") or {})
    if "legacy_key" in extras:
        found.add("legacy entry key")
    found.update(f"models.csv {k} (cell text)" for k in extras.get("csv") or {})
    return sorted(found)


def paths(value: Any, prefix: str = "") -> set[str]:
    """Dotted paths of every value in a JSON document (list items as ``[]``)."""
    out: set[str] = set()
    if isinstance(value, Mapping):
        for key, child in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            out.add(path)
            out |= paths(child, path)
    elif isinstance(value, list):
        for child in value:
            out |= paths(child, f"{prefix}[]")
    return out


def _leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """``{path: value}`` of scalar leaves (list items indexed), for value comparisons."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_leaves(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for index, child in enumerate(value):
            out.update(_leaves(child, f"{prefix}[{index}]"))
        return out
    return {prefix: value}


def _through_legacy(
    category: Category, name: str, record: Mapping[str, Any], extras: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The record after writing it as legacy and reading it back (None: not storable)."""
    if category is Category.text_generation:
        row = legacy_text.v2_to_csv_row(record, extras)
        back = legacy_text.csv_rows_to_v2_with_extras([row])
        return back[row["name"]][0] if row["name"] in back else None
    entry = legacy_image.v2_to_legacy_image(category, name, record, extras)
    return legacy_image.legacy_entry_to_v2(category, name, entry)[0]


def fields_legacy_cannot_carry(
    category: Category, name: str, record: Mapping[str, Any], extras: Mapping[str, Any] | None
) -> list[str]:
    """Values of ``record`` that do not survive a round trip through the legacy format.

    Names are dotted paths with list indexes dropped (``config.download[].known_slow_download``).
    Fields the converter fills in with defaults (``record_type``, ``metadata``...) survive.
    """
    if category not in LEGACY_CATEGORIES:
        return []
    back = _through_legacy(category, name, record, extras)
    if back is None:
        return ["(the whole record: the legacy format cannot store this name)"]
    before, after = _leaves(_full(category, record)), _leaves(_full(category, back))
    lost = {
        _unindexed(path)
        for path, value in before.items()
        if (path not in after or after[path] != value) and path not in _BOOKKEEPING
    }
    return sorted(lost)


#: Format bookkeeping, not data: each format's writer sets its own.
_BOOKKEEPING = frozenset({"metadata.schema_version"})


def _full(category: Category, record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record with its category's defaults filled in (as stored records compare)."""
    try:
        return records.validate_record(category, dict(record))
    except ValidationFailed:
        return record


def _unindexed(path: str) -> str:
    out, depth = [], 0
    for char in path:
        if char == "[":
            depth += 1
            out.append("[]")
        elif char == "]":
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)
