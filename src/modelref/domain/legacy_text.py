"""Text reference: models.csv ↔ v2 records ↔ db.json (spec data-model §6, §7, §8).

models.csv is the text repo's source of truth; upstream's converter turns its rows into v2 records
*without* convert.py's derivations (version "", raw style/tags/display_name), while db.json is
generated from the same rows *with* them. v2 records therefore come in two shapes:
"raw" (converted from CSV: tags without the size tag) and "processed" (written through v2 apply or
imported from db.json: tags carry style + size tag, display_name and style filled in).
``v2_to_csv_row`` recognises the processed shape and undoes the derivations, so either shape
regenerates the same db.json. Pure functions: no file access.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from typing import Any

from modelref.domain.categories import DEFAULT_CLASSIFICATION, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.legacy_image import SCHEMA_VERSION
from modelref.domain.legacy_text_values import (
    auto_display_name,
    bn_from_parameters,
    model_name_of,
    parameters_from_bn,
    parse_settings,
    record_parameters,
    size_tag,
    split_tags,
)
from modelref.domain.text_variants import has_backend_prefix, text_model_group

__all__ = [
    "CSV_COLUMNS",
    "DB_DEFAULTS",
    "auto_display_name",
    "bn_from_parameters",
    "build_db_json",
    "csv_row_to_v2",
    "csv_rows_to_v2",
    "csv_rows_to_v2_with_extras",
    "db_entry",
    "db_json_to_v2",
    "dump_db_json",
    "dump_models_csv",
    "is_processed",
    "model_name_of",
    "parameters_from_bn",
    "parse_models_csv",
    "parse_settings",
    "record_parameters",
    "size_tag",
    "split_tags",
    "v2_to_csv_row",
    "v2_to_csv_rows",
    "v2_to_db_json",
]

JsonDict = dict[str, Any]
CsvRow = dict[str, str]

#: models.csv header, in file order.
CSV_COLUMNS: tuple[str, ...] = (
    "name", "parameters_bn", "display_name", "url", "baseline", "description", "style", "tags",
    "instruct_format", "settings",
)  # fmt: skip

#: Columns whose raw text can differ from our canonical rendering of the same value.
_RAW_COLUMNS = ("parameters_bn", "tags", "settings")


# --------------------------------------------------------------------------- CSV text


def parse_models_csv(text: str) -> list[CsvRow]:
    """models.csv text → rows of raw strings; a repeated name keeps its first position, last values.

    The last row winning mirrors convert.py and upstream's converter (both build a dict).
    """
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    if reader.fieldnames is None or "name" not in reader.fieldnames:
        raise ValidationFailed("models.csv: header must contain a 'name' column")
    rows: dict[str, CsvRow] = {}
    for line_no, raw in enumerate(reader, start=2):
        row = {col: (raw.get(col) or "") for col in CSV_COLUMNS}
        if not row["name"].strip():
            raise ValidationFailed(f"models.csv line {line_no}: empty model name")
        rows[row["name"]] = row
    return list(rows.values())


def dump_models_csv(rows: Iterable[Mapping[str, str]]) -> str:
    """Rows → models.csv text: the standard header, minimal quoting, CRLF like the real file."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([row.get(col, "") for col in CSV_COLUMNS])
    return out.getvalue()


# --------------------------------------------------------------------------- CSV → v2


def csv_row_to_v2(row: Mapping[str, str]) -> JsonDict:
    """One CSV row → the v2 record upstream's converter writes (no convert.py derivations)."""
    name = row["name"]
    domain, purpose = DEFAULT_CLASSIFICATION[Category.text_generation]
    record: JsonDict = {
        "record_type": Category.text_generation.value,
        "name": name,
        "description": row.get("description", ""),
        "version": "",
        "metadata": {"schema_version": SCHEMA_VERSION},
        "config": {"download": []},
        "model_classification": {"domain": domain, "purpose": purpose},
        "baseline": row.get("baseline", ""),
        "parameters": parameters_from_bn(row.get("parameters_bn", "")),
        "nsfw": False,
        "style": row.get("style", ""),
        "display_name": row.get("display_name", ""),
        "url": row.get("url", ""),
        "tags": split_tags(row.get("tags", "")),
    }
    if row.get("instruct_format"):
        record["instruct_format"] = row["instruct_format"]
    settings = parse_settings(row.get("settings", ""))
    if settings is not None:
        record["settings"] = settings
    record["text_model_group"] = text_model_group(name)
    return record


def _storable(name: str) -> bool:
    """Backend-prefixed and URL-like names are never stored (§8, §9): converters skip them."""
    return not has_backend_prefix(name) and "://" not in name


def csv_rows_to_v2(rows: Iterable[Mapping[str, str]]) -> dict[str, JsonDict]:
    """CSV rows → v2 records keyed by name, as upstream's converter (last duplicate wins)."""
    return {name: rec for name, (rec, _extras) in csv_rows_to_v2_with_extras(rows).items()}


def csv_rows_to_v2_with_extras(
    rows: Iterable[Mapping[str, str]],
) -> dict[str, tuple[JsonDict, JsonDict]]:
    """Like ``csv_rows_to_v2`` plus extras: raw cell text our rendering would not reproduce.

    Extras look like ``{"csv": {"settings": "{...}", "parameters_bn": " 12"}}``; pass them to
    ``v2_to_csv_row`` to rewrite the row byte for byte while the record keeps the same values.
    """
    out: dict[str, tuple[JsonDict, JsonDict]] = {}
    for row in rows:
        name = row["name"]
        if not _storable(name):
            continue
        record = csv_row_to_v2(row)
        canonical = v2_to_csv_row(record)
        raw = {c: row.get(c, "") for c in _RAW_COLUMNS if row.get(c, "") != canonical[c]}
        out.pop(name, None)
        out[name] = (record, {"csv": raw} if raw else {})
    return out


# --------------------------------------------------------------------------- v2 → CSV


def is_processed(record: Mapping[str, Any]) -> bool:
    """True for records carrying convert.py's derivations (db.json import, v2 apply).

    Those always have a version (default "1") and the size tag among their tags; raw converter
    records never have a version (models.csv has no such column).
    """
    tags = record.get("tags") or []
    version = record.get("version")
    return bool(version) and size_tag(record_parameters(record) / 1e9) in tags


def v2_to_csv_row(record: Mapping[str, Any], extras: Mapping[str, Any] | None = None) -> CsvRow:
    """v2 record → models.csv row (all strings), undoing convert.py's derivations (§7).

    ``nsfw`` and ``version`` have no column and are lost, as upstream's legacy mode loses them.
    """
    name = str(record["name"])
    parameters = record_parameters(record)
    tags = [str(t) for t in (record.get("tags") or [])]
    style = str(record.get("style") or "")
    display_name = str(record.get("display_name") or "")
    if is_processed(record):
        stag = size_tag(parameters / 1e9)
        if style == "generalist" and style not in tags:
            style = ""  # filled in by the defaults, not chosen
        tags = [t for t in tags if t not in (stag, style)]
        if display_name == auto_display_name(name):
            display_name = ""
    settings = record.get("settings")
    if isinstance(settings, str):
        settings = parse_settings(settings)
    row: CsvRow = {
        "name": name,
        "parameters_bn": bn_from_parameters(parameters),
        "display_name": display_name,
        "url": str(record.get("url") or ""),
        "baseline": str(record.get("baseline") or ""),
        "description": str(record.get("description") or ""),
        "style": style,
        "tags": ", ".join(tags),
        "instruct_format": str(record.get("instruct_format") or ""),
        "settings": json.dumps(settings) if settings else "",
    }
    raw: Mapping[str, str] = (extras or {}).get("csv") or {}
    for col in _RAW_COLUMNS:
        if col in raw and _same_cell(col, raw[col], row[col]):
            row[col] = raw[col]
    return row


def _same_cell(column: str, a: str, b: str) -> bool:
    """Whether two cell texts mean the same value (so the recorded raw text may be reused)."""
    try:
        if column == "parameters_bn":
            return parameters_from_bn(a) == parameters_from_bn(b)
        if column == "tags":
            return split_tags(a) == split_tags(b)
        return json.dumps(parse_settings(a)) == json.dumps(parse_settings(b))
    except ValidationFailed:
        return False


def v2_to_csv_rows(
    records: Mapping[str, Mapping[str, Any]],
    extras: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> list[CsvRow]:
    """Rows for every storable record, in the records' order (extras looked up per key)."""
    extras = extras or {}
    return [
        v2_to_csv_row(rec, extras.get(key))
        for key, rec in records.items()
        if _storable(str(rec.get("name", key)))
    ]


# --------------------------------------------------------------------------- db.json


#: defaults.json of the text repo, merged under every db.json entry (key order matters).
DB_DEFAULTS: JsonDict = {
    "baseline": "",
    "parameters": None,
    "description": "",
    "version": "1",
    "style": "generalist",
    "nsfw": False,
}


def db_entry(row: Mapping[str, str]) -> JsonDict:
    """convert.py's entry for one CSV row, without ``name`` (which differs per variant key)."""
    name = row["name"]
    parameters = parameters_from_bn(row.get("parameters_bn", ""))
    style = row.get("style", "")
    tags = set(split_tags(row.get("tags", "")))
    if style:
        tags.add(style)
    tags.add(size_tag(float(row["parameters_bn"])))
    derived: JsonDict = {
        "baseline": row.get("baseline", ""),
        "parameters": parameters,
        "description": row.get("description", ""),
        "style": style,
        "display_name": row.get("display_name", "") or auto_display_name(name),
        "url": row.get("url", ""),
        "tags": sorted(tags),
        "instruct_format": row.get("instruct_format", ""),
        "settings": parse_settings(row.get("settings", "")) or {},
    }
    entry: JsonDict = {"model_name": model_name_of(name), **DB_DEFAULTS}
    entry.update({k: v for k, v in derived.items() if not _empty(v)})
    return entry


def _empty(value: Any) -> bool:
    """convert.py drops ``""``, ``{}`` and ``[]`` before merging the defaults."""
    return isinstance(value, str | dict | list) and len(value) == 0


def build_db_json(rows: Iterable[Mapping[str, str]]) -> JsonDict:
    """CSV rows → db.json as convert.py writes it: base, ``aphrodite/`` and ``koboldcpp/`` keys.

    The koboldcpp key uses convert.py's ``model_name`` (second ``/`` segment); §8's variant rule
    differs only for names with two or more slashes, of which live data has none.
    """
    db: JsonDict = {}
    for row in rows:
        entry = db_entry(row)
        name = row["name"]
        for key in (name, f"aphrodite/{name}", f"koboldcpp/{entry['model_name']}"):
            db[key] = {"name": key, **entry}
    return db


def dump_db_json(db: Mapping[str, Any]) -> str:
    """db.json text exactly as convert.py writes it (4-space indent, trailing newline)."""
    return json.dumps(db, indent=4) + "\n"


def v2_to_db_json(
    records: Mapping[str, Mapping[str, Any]],
    extras: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> JsonDict:
    """v2 text records → db.json, through the CSV rows like upstream's legacy write path."""
    return build_db_json(v2_to_csv_rows(records, extras))


def db_json_to_v2(db: Mapping[str, Any]) -> dict[str, JsonDict]:
    """Import a published db.json: base entries only; backend-prefixed variants are dropped.

    The records keep db.json's derived values (processed shape), which ``v2_to_csv_row`` undoes.
    """
    domain, purpose = DEFAULT_CLASSIFICATION[Category.text_generation]
    out: dict[str, JsonDict] = {}
    for key, entry in db.items():
        if not _storable(key):
            continue
        if not isinstance(entry, Mapping):
            raise ValidationFailed(f"db.json: entry {key!r} must be an object")
        record: JsonDict = {
            "record_type": Category.text_generation.value,
            "name": key,
            "description": entry.get("description", ""),
            "version": entry.get("version", "1"),
            "metadata": {"schema_version": SCHEMA_VERSION},
            "config": {"download": []},
            "model_classification": {"domain": domain, "purpose": purpose},
            "baseline": entry.get("baseline", ""),
            "parameters": record_parameters({"name": key, **entry}),
            "nsfw": bool(entry.get("nsfw", False)),
            "style": entry.get("style", "generalist"),
        }
        for field in ("display_name", "url", "tags", "instruct_format", "settings"):
            if entry.get(field) is not None:
                record[field] = entry[field]
        record["text_model_group"] = text_model_group(key)
        out[key] = record
    return out
