"""Legacy image-repo entries ↔ v2 records (spec data-model §6, §7).

``legacy_image_to_v2`` produces exactly what upstream's converter writes, plus an *extras* dict
holding every legacy detail v2 has no field for. ``v2_to_legacy_image`` rebuilds the legacy entry
from the v2 record (the source of truth for every value v2 holds) and the extras. Extras patches
are *guarded*: each remembers the value the plain reverse computed at import time and applies only
while the record still yields that value, so editing a record through v2 never resurrects stale
legacy data. Pure functions: no file access.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from modelref.domain.categories import DEFAULT_CLASSIFICATION, LEGACY_CATEGORIES, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.legacy_image_config import legacy_config_to_v2, v2_config_to_legacy

JsonDict = dict[str, Any]

#: ``metadata.schema_version`` upstream's converter (8.6.2) writes.
SCHEMA_VERSION = "2.1.0"

#: Image-repo categories (every legacy category except text).
LEGACY_IMAGE_CATEGORIES: frozenset[Category] = LEGACY_CATEGORIES - {Category.text_generation}

#: ``type`` written for a record that has no legacy history (v1 write defaults, §6).
DEFAULT_LEGACY_TYPE: dict[Category, str] = {
    Category.image_generation: "ckpt",
    Category.blip: "blip",
    Category.clip: "clip",
    Category.codeformer: "CodeFormers",
    Category.esrgan: "realesrgan",
    Category.gfpgan: "gfpgan",
    Category.safety_checker: "safety_checker",
    Category.miscellaneous: "layer_diffuse",
}

#: Indentation of the real files: stable_diffusion.json uses 4 spaces, the utility files tabs.
LEGACY_INDENT: dict[Category, int | str] = {
    c: (4 if c is Category.image_generation else "\t") for c in LEGACY_IMAGE_CATEGORIES
}

_SD_KEY_ORDER = (
    "name", "baseline", "optimization", "type", "inpainting", "description", "tags", "showcases",
    "min_bridge_version", "version", "style", "trigger", "homepage", "nsfw", "download_all",
    "requirements", "config", "available", "features_not_supported", "size_on_disk_bytes",
)  # fmt: skip
_UTILITY_KEY_ORDER = (
    "name", "type", "baseline", "description", "version", "pretrained_name", "style", "nsfw",
    "download_all", "config", "available", "features_not_supported",
)  # fmt: skip

#: Legacy image_generation keys that have a v2 field (everything else goes to extras).
_SD_MAPPED = frozenset(
    {
        "name", "baseline", "optimization", "inpainting", "description", "tags", "showcases",
        "min_bridge_version", "version", "style", "trigger", "homepage", "nsfw", "requirements",
        "config", "size_on_disk_bytes",
    }
)  # fmt: skip
_SD_COPIED = ("optimization", "min_bridge_version", "homepage", "style", "requirements")
_SD_LISTS = ("tags", "showcases", "trigger")

#: v2 baseline enum value → legacy spelling (others are written unchanged).
_TO_LEGACY_BASELINE = {
    "stable_diffusion_1": "stable diffusion 1",
    "stable_diffusion_2_768": "stable diffusion 2",
    "stable_diffusion_2_512": "stable diffusion 2 512",
}
#: Any accepted spelling (legacy spelling or §2 alias) → v2 baseline enum value.
_BASELINE_ALIASES: dict[str, str] = {
    **{v: k for k, v in _TO_LEGACY_BASELINE.items()},
    **dict.fromkeys(
        ("stable diffusion 1.4", "stable diffusion 1.5", "SD1", "SD14", "SD1.4", "SD15", "SD1.5",
         "stable_diffusion", "stable_diffusion_1.4", "stable_diffusion_1.5"),
        "stable_diffusion_1",
    ),
    "stable diffusion xl": "stable_diffusion_xl",
    "SDXL": "stable_diffusion_xl",
    "stable cascade": "stable_cascade",
    "flux schnell": "flux_schnell",
    "flux dev": "flux_dev",
    **dict.fromkeys(("qwen image", "qwen-image", "qwen"), "qwen_image"),
    **dict.fromkeys(("z image turbo", "zimage-turbo", "zimage"), "z_image_turbo"),
}  # fmt: skip


def normalise_baseline(value: Any) -> Any:
    """Legacy spelling or alias → v2 enum value; unknown values pass through for validation."""
    return _BASELINE_ALIASES.get(value, value) if isinstance(value, str) else value


def legacy_baseline(value: Any) -> Any:
    """v2 baseline (enum or alias) → the spelling the legacy image repo uses."""
    norm = normalise_baseline(value)
    return _TO_LEGACY_BASELINE.get(norm, norm) if isinstance(norm, str) else value


def _require_image_category(category: Category) -> None:
    if category not in LEGACY_IMAGE_CATEGORIES:
        raise ValidationFailed(f"Category {category.value} has no legacy image-repo form")


def _same(a: Any, b: Any) -> bool:
    """JSON equality that keeps ``True`` ≠ ``1`` (plain ``==`` would merge them)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --------------------------------------------------------------------------- legacy → v2


def legacy_image_to_v2(
    category: Category, entries: Mapping[str, Mapping[str, Any]]
) -> dict[str, tuple[JsonDict, JsonDict]]:
    """Convert a whole legacy image file; keys are kept (v2 keeps ``control_qr_sdxl`` too)."""
    _require_image_category(category)
    return {key: legacy_entry_to_v2(category, key, entry) for key, entry in entries.items()}


def legacy_entry_to_v2(
    category: Category, key: str, entry: Mapping[str, Any]
) -> tuple[JsonDict, JsonDict]:
    """One legacy entry → (v2 record as upstream's converter writes it, extras).

    Extras (JSON-serialisable, keys present only when needed): ``legacy_key`` (entry key ≠
    ``name``), ``fields`` (legacy keys without a v2 field, verbatim: ``type``, ``download_all``,
    ``available``, ``features_not_supported``, misc ``baseline``...), ``config`` (md5sums,
    ``.yaml`` entries, ``file_path``, file-less downloads, orders), ``overrides`` (guarded
    per-key patches ``{"computed": <plain reverse value>, "legacy": <original>}``, either side
    absent meaning "key absent": alias spellings, keys v2 defaults in, nulls) and ``key_order``.
    """
    _require_image_category(category)
    if not isinstance(entry, Mapping):
        raise ValidationFailed(f"{category.value}/{key}: legacy entry must be an object")
    legacy = dict(entry)
    name = legacy.get("name", key)
    raw_config = legacy.get("config")
    config, config_extras = legacy_config_to_v2(
        dict(raw_config) if isinstance(raw_config, Mapping) else {}, str(name)
    )
    if category is Category.image_generation:
        record = _sd_record(legacy, name, config)
        mapped = _SD_MAPPED
    else:
        record = _utility_record(category, legacy, name, config)
        mapped = _utility_mapped(category)

    extras: JsonDict = {}
    if key != name:
        extras["legacy_key"] = key
    fields = {k: v for k, v in legacy.items() if k not in mapped}
    if fields:
        extras["fields"] = fields
    if config_extras:
        extras["config"] = config_extras
    computed = _computed_entry(category, key, record, extras)
    overrides: JsonDict = {}
    for k in list(legacy) + [k for k in computed if k not in legacy]:
        if k in legacy and k in computed and _same(legacy[k], computed[k]):
            continue
        patch: JsonDict = {}
        if k in computed:
            patch["computed"] = computed[k]
        if k in legacy:
            patch["legacy"] = legacy[k]
        overrides[k] = patch
    if overrides:
        extras["overrides"] = overrides
    if list(_order(category, legacy, None)) != list(legacy):
        extras["key_order"] = list(legacy)
    return record, extras


def _sd_record(legacy: JsonDict, name: Any, config: JsonDict) -> JsonDict:
    """image_generation record, omitting defaulted fields like upstream's writer does."""
    record: JsonDict = {"name": name}
    for key in ("description", "version"):
        if legacy.get(key) is not None:
            record[key] = legacy[key]
    record["config"] = config
    if legacy.get("size_on_disk_bytes") is not None:
        record["size_on_disk_bytes"] = legacy["size_on_disk_bytes"]
    if legacy.get("inpainting"):
        record["inpainting"] = legacy["inpainting"]
    record["baseline"] = normalise_baseline(legacy.get("baseline"))
    if legacy.get("optimization") is not None:
        record["optimization"] = legacy["optimization"]
    record["tags"] = legacy.get("tags") or []
    record["showcases"] = legacy.get("showcases") or []
    if legacy.get("min_bridge_version") is not None:
        record["min_bridge_version"] = legacy["min_bridge_version"]
    record["trigger"] = legacy.get("trigger") or []
    if legacy.get("homepage") is not None:
        record["homepage"] = legacy["homepage"]
    record["nsfw"] = legacy["nsfw"] if legacy.get("nsfw") is not None else False
    for key in ("style", "requirements"):
        if legacy.get(key) is not None:
            record[key] = legacy[key]
    return record


def _utility_mapped(category: Category) -> frozenset[str]:
    mapped = {"name", "description", "version", "config"}
    if category is Category.clip:
        mapped.add("pretrained_name")
    if category is Category.controlnet:
        mapped.add("type")
    return frozenset(mapped)


def _utility_record(category: Category, legacy: JsonDict, name: Any, config: JsonDict) -> JsonDict:
    """Utility record: common fields with defaults kept, as upstream writes them."""
    domain, purpose = DEFAULT_CLASSIFICATION[category]
    record: JsonDict = {"record_type": category.value, "name": name}
    for key in ("description", "version"):
        if legacy.get(key) is not None:
            record[key] = legacy[key]
    record["metadata"] = {"schema_version": SCHEMA_VERSION}
    record["config"] = config
    record["model_classification"] = {"domain": domain, "purpose": purpose}
    if category is Category.clip and legacy.get("pretrained_name") is not None:
        record["pretrained_name"] = legacy["pretrained_name"]
    if category is Category.controlnet:
        style = legacy.get("type") if legacy.get("type") is not None else legacy.get("style")
        if style is not None:
            record["controlnet_style"] = style
    return record


# --------------------------------------------------------------------------- v2 → legacy


def v2_to_legacy_image(
    category: Category, name: str, record: Mapping[str, Any], extras: Mapping[str, Any] | None
) -> JsonDict:
    """v2 record (+ extras from ``legacy_image_to_v2``, if any) → legacy entry.

    ``name`` is the record's key in the catalog; it names the entry only if the record has no
    ``name``. Accepts both the converter's sparse records and full v2-API records.
    """
    _require_image_category(category)
    ex = dict(extras or {})
    entry = _computed_entry(category, name, dict(record), ex)
    for key, patch in (ex.get("overrides") or {}).items():
        if ("computed" in patch) != (key in entry):
            continue
        if key in entry and not _same(entry[key], patch["computed"]):
            continue  # the record changed since import: its value wins
        if "legacy" in patch:
            entry[key] = patch["legacy"]
        else:
            del entry[key]
    return _order(category, entry, ex.get("key_order"))


def v2_to_legacy_image_file(
    category: Category,
    records: Mapping[str, Mapping[str, Any]],
    extras: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> dict[str, JsonDict]:
    """Whole legacy file from v2 records keyed like the v2 file (extras looked up per key)."""
    extras = extras or {}
    return {
        key: v2_to_legacy_image(category, key, rec, extras.get(key)) for key, rec in records.items()
    }


def _computed_entry(
    category: Category, key: str, record: JsonDict, extras: Mapping[str, Any]
) -> JsonDict:
    """Legacy entry from the record, config extras and v2-less fields; overrides not applied."""
    entry: JsonDict = {"name": record.get("name", key)}
    if category is Category.image_generation:
        entry["baseline"] = legacy_baseline(record.get("baseline"))
        entry["type"] = DEFAULT_LEGACY_TYPE[category]
        entry["inpainting"] = bool(record.get("inpainting") or False)
        for field in ("description", "version", "size_on_disk_bytes", *_SD_COPIED, *_SD_LISTS):
            if record.get(field) is not None:
                entry[field] = record[field]
        entry["nsfw"] = record["nsfw"] if record.get("nsfw") is not None else False
    else:
        if category is Category.controlnet:
            if record.get("controlnet_style") is not None:
                entry["type"] = record["controlnet_style"]
        else:
            entry["type"] = DEFAULT_LEGACY_TYPE[category]
        fields = ("description", "version", "pretrained_name")
        entry.update({f: record[f] for f in fields if record.get(f) is not None})
    entry["config"] = v2_config_to_legacy(record.get("config"), extras.get("config"))
    entry.update(extras.get("fields") or {})
    return entry


def _order(category: Category, entry: Mapping[str, Any], order: list[str] | None) -> JsonDict:
    """Keys in the recorded order, else upstream's canonical order; unknown keys at the end."""
    if order is None:
        order = list(_SD_KEY_ORDER if category is Category.image_generation else _UTILITY_KEY_ORDER)
    head = [k for k in order if k in entry]
    return {k: entry[k] for k in head + [k for k in entry if k not in head]}


def dump_legacy_json(entries: Mapping[str, Any], indent: int | str = 4) -> str:
    """Serialise a legacy image file like upstream: ASCII-escaped, trailing newline.

    Use ``LEGACY_INDENT[category]``: the real stable_diffusion.json is 4-space indented, the
    utility files tab-indented (blip/clip/controlnet are partly hand-indented, so those three
    cannot be reproduced byte for byte).
    """
    return json.dumps(entries, indent=indent, ensure_ascii=True) + "\n"
