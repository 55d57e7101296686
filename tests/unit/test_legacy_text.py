"""models.csv / db.json ↔ v2 text records: on the corpus, and in the real-reference tier on the
public text repository files (whose ``v2/`` is upstream's converter output)."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelref.domain.errors import ValidationFailed
from modelref.domain.legacy_text import (
    CSV_COLUMNS,
    auto_display_name,
    bn_from_parameters,
    build_db_json,
    csv_row_to_v2,
    csv_rows_to_v2,
    csv_rows_to_v2_with_extras,
    db_json_to_v2,
    dump_db_json,
    dump_models_csv,
    parameters_from_bn,
    parse_models_csv,
    size_tag,
    v2_to_csv_row,
    v2_to_csv_rows,
    v2_to_db_json,
)
from modelref.domain.text_variants import has_backend_prefix
from tests.conftest import is_reference
from tests.corpus import CORPUS, CSV_ROWS, DB_JSON_KEYS

#: Raw cells our rendering would not reproduce, kept as extras (per source).
RAW_CELLS = {
    "corpus": {
        "Quillworks/Parchment-3B-V2": {
            "csv": {"settings": '{"temperature": 0.7, "top_p": 0.9, "top_k": 40, "rep_pen":1.1}'}
        },
        "Brightwater/Lumen-Chat-12B": {"csv": {"parameters_bn": " 12"}},
    },
    "reference": {
        "acrastt/Marx-3B-V3": {
            "csv": {"settings": '{"temperature": 0.7, "top_p": 0.1, "top_k": 40, "rep_pen":1.18}'}
        },
        "yamatazen/EsotericSage-12B": {"csv": {"parameters_bn": " 12"}},
    },
}


def _csv_text(root: Path = CORPUS) -> str:
    # newline="" keeps the CRLF line endings exactly as stored
    with (root / "legacy" / "text" / "models.csv").open(encoding="utf-8", newline="") as fh:
        return fh.read()


def _db_text(root: Path = CORPUS) -> str:
    return (root / "legacy" / "text" / "db.json").read_text(encoding="utf-8")


def _db(root: Path = CORPUS) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_db_text(root))
    return result


def _v2(root: Path = CORPUS) -> dict[str, Any]:
    text = (root / "v2" / "text_generation.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def _deduplicated_csv_text(root: Path) -> str:
    """The file with each repeated name collapsed like a dict: first position, last values."""
    rows = list(csv.reader(io.StringIO(_csv_text(root), newline="")))
    by_name: dict[str, list[str]] = {}
    for row in rows[1:]:
        by_name[row[0]] = row
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([rows[0], *by_name.values()])
    return out.getvalue()


# --------------------------------------------------------------------------- CSV


def test_parse_models_csv_keeps_last_duplicate(data_dir: Path) -> None:
    text = _csv_text(data_dir)
    raw_rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(raw_rows) == (723 if is_reference(data_dir) else CSV_ROWS)
    assert text.count("\r\n") == len(raw_rows) + 1  # CRLF on every line, header included
    rows = parse_models_csv(text)
    names = Counter(r["name"] for r in raw_rows)
    assert len(rows) == len(names)
    repeated = [name for name, count in names.items() if count > 1]
    assert len(repeated) == (4 if is_reference(data_dir) else 2)
    last = {r["name"]: r for r in raw_rows}
    by_name = {r["name"]: r for r in rows}
    for name in repeated:
        assert by_name[name] == last[name]
    assert [r["name"] for r in rows] == list(names)  # first position
    assert all(list(row) == list(CSV_COLUMNS) for row in rows)


def test_dump_models_csv_reproduces_the_file_minus_duplicates(data_dir: Path) -> None:
    assert dump_models_csv(parse_models_csv(_csv_text(data_dir))) == _deduplicated_csv_text(
        data_dir
    )


def test_parse_rejects_bad_input() -> None:
    with pytest.raises(ValidationFailed):
        parse_models_csv("foo,bar\r\n1,2\r\n")
    with pytest.raises(ValidationFailed, match="line 2"):
        parse_models_csv("name,parameters_bn\r\n ,7\r\n")


def test_parse_accepts_bom_and_lf() -> None:
    rows = parse_models_csv("\ufeffname,parameters_bn\na/b,7\n")
    assert rows == [{**dict.fromkeys(CSV_COLUMNS, ""), "name": "a/b", "parameters_bn": "7"}]


# --------------------------------------------------------------------------- CSV → v2


def test_csv_to_v2_equals_the_v2_file(data_dir: Path) -> None:
    records = csv_rows_to_v2(parse_models_csv(_csv_text(data_dir)))
    expected = _v2(data_dir)
    assert len(records) == len({r["name"] for r in parse_models_csv(_csv_text(data_dir))})
    assert records == expected
    assert json.dumps(records) == json.dumps(expected)  # key order too


def test_first_corpus_row_converts_without_derivations() -> None:
    row = parse_models_csv(_csv_text())[0]
    record = csv_row_to_v2(row)
    assert record["name"] == "Quillworks/Parchment-3B-V2"
    assert record["parameters"] == 3_000_000_000
    assert record["settings"] == {"temperature": 0.7, "top_p": 0.9, "top_k": 40, "rep_pen": 1.1}
    assert record["text_model_group"] == "Parchment"
    assert record["version"] == "" and record["tags"] == []


def test_converter_skips_names_that_are_never_stored() -> None:
    base = dict.fromkeys(CSV_COLUMNS, "")
    rows = [
        {**base, "name": "aphrodite/a/b", "parameters_bn": "7"},
        {**base, "name": "koboldcpp/b", "parameters_bn": "7"},
        {**base, "name": "https://x/y", "parameters_bn": "7"},
        {**base, "name": "a/b", "parameters_bn": "7"},
    ]
    assert list(csv_rows_to_v2(rows)) == ["a/b"]


@pytest.mark.parametrize("bad", ["", "abc", "nan", "-1", "inf"])
def test_bad_parameter_counts_are_refused(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        parameters_from_bn(bad)


def test_bad_settings_are_refused() -> None:
    row = {**dict.fromkeys(CSV_COLUMNS, ""), "name": "a/b", "parameters_bn": "7"}
    with pytest.raises(ValidationFailed):
        csv_row_to_v2({**row, "settings": "{not json"})
    with pytest.raises(ValidationFailed):
        csv_row_to_v2({**row, "settings": "[1]"})


# --------------------------------------------------------------------------- v2 → CSV


def test_v2_csv_v2_round_trip(data_dir: Path) -> None:
    v2 = _v2(data_dir)
    assert csv_rows_to_v2(v2_to_csv_rows(v2)) == v2


def test_extras_rewrite_the_csv_byte_for_byte(data_dir: Path) -> None:
    converted = csv_rows_to_v2_with_extras(parse_models_csv(_csv_text(data_dir)))
    with_extras = {name: ex for name, (_rec, ex) in converted.items() if ex}
    assert with_extras == RAW_CELLS["reference" if is_reference(data_dir) else "corpus"]
    records = {name: rec for name, (rec, _ex) in converted.items()}
    extras = {name: ex for name, (_rec, ex) in converted.items()}
    assert dump_models_csv(v2_to_csv_rows(records, extras)) == _deduplicated_csv_text(data_dir)


def test_stale_raw_cell_is_not_reused() -> None:
    converted = csv_rows_to_v2_with_extras(parse_models_csv(_csv_text()))
    record, extras = converted["Quillworks/Parchment-3B-V2"]
    record = {**record, "settings": {"temperature": 1.0}}
    assert v2_to_csv_row(record, extras)["settings"] == '{"temperature": 1.0}'


def test_processed_record_drops_derived_values() -> None:
    record = {
        "name": "Org/Some_Model-7B",
        "parameters": 7_000_000_000,
        "style": "generalist",  # defaulted: not among the tags
        "display_name": "Some Model 7B",  # auto value
        "tags": ["7B", "roleplay"],
        "version": "1",
        "nsfw": True,
    }
    row = v2_to_csv_row(record)
    assert row["style"] == "" and row["display_name"] == "" and row["tags"] == "roleplay"
    assert row["parameters_bn"] == "7"
    explicit = v2_to_csv_row({**record, "tags": ["7B", "generalist"], "display_name": "Nice"})
    assert explicit["style"] == "generalist" and explicit["tags"] == ""
    assert explicit["display_name"] == "Nice"


def test_raw_row_that_lists_its_own_size_tag_stays_raw() -> None:
    row = {**dict.fromkeys(CSV_COLUMNS, ""), "name": "a/b-7B", "parameters_bn": "7"}
    row.update(tags="7B, chat", style="chat", display_name="b 7B")
    record = csv_row_to_v2(row)
    assert v2_to_csv_row(record) == row
    assert csv_rows_to_v2(v2_to_csv_rows({"a/b-7B": record})) == {"a/b-7B": record}


def test_raw_record_keeps_its_values() -> None:
    record = _v2()["Kestrel/Wren-9B"]  # style also listed among its CSV tags
    row = v2_to_csv_row(record)
    assert row["style"] == "generalist"
    assert "generalist" in row["tags"].split(", ")


def test_parameters_count_alias_and_refusals() -> None:
    record = {"name": "a/b", "parameters_count": "1500000000"}
    assert v2_to_csv_row(record)["parameters_bn"] == "1.5"
    for bad in (True, None, 1.5, "x"):
        with pytest.raises(ValidationFailed):
            v2_to_csv_row({"name": "a/b", "parameters": bad})


@pytest.mark.parametrize(
    ("parameters", "text"),
    [
        (0, "0"),
        (3_000_000_000, "3"),
        (124_000_000, "0.124"),
        (1_500_000_000, "1.5"),
        (1_000_999_999, "1.001"),  # float(1.001) * 1e9 floors to this
        (1_001_000_000, "1.0010000005"),  # so the exact text no longer maps here
        (245, "0.0000002455"),
    ],
)
def test_bn_text_is_minimal(parameters: int, text: str) -> None:
    assert bn_from_parameters(parameters) == text
    assert parameters_from_bn(text) == parameters


@given(st.integers(min_value=0, max_value=10**15))
def test_bn_text_round_trips(parameters: int) -> None:
    assert parameters_from_bn(bn_from_parameters(parameters)) == parameters


def test_size_tag_rounds_half_to_even() -> None:
    assert [size_tag(x) for x in (0.124, 1.5, 2.5, 70.6)] == ["0B", "2B", "2B", "71B"]


def test_auto_display_name() -> None:
    assert auto_display_name("Org/Some_Model--7B") == "Some Model 7B"
    assert auto_display_name("gpt2-xl") == "gpt2 xl"


# --------------------------------------------------------------------------- db.json


def test_build_db_json_reproduces_the_published_file(data_dir: Path) -> None:
    db = build_db_json(parse_models_csv(_csv_text(data_dir)))
    expected = _db(data_dir)
    assert len(db) == (2157 if is_reference(data_dir) else DB_JSON_KEYS)
    assert db == expected
    assert dump_db_json(db) == _db_text(data_dir)  # byte for byte, key order included


def test_v2_to_db_json_equals_the_published_file(data_dir: Path) -> None:
    assert dump_db_json(v2_to_db_json(_v2(data_dir))) == _db_text(data_dir)


def test_db_json_import_keeps_base_entries_only(data_dir: Path) -> None:
    records = db_json_to_v2(_db(data_dir))
    assert len(records) * 3 == len(_db(data_dir))
    assert list(records) == list(_v2(data_dir))
    assert not any(has_backend_prefix(name) for name in records)


def test_db_json_import_keeps_the_derived_values() -> None:
    parchment = db_json_to_v2(_db())["Quillworks/Parchment-3B-V2"]
    assert parchment["version"] == "1" and parchment["tags"] == ["3B"]
    assert parchment["style"] == "generalist" and "model_name" not in parchment


def test_db_json_import_round_trips_to_the_same_db_json(data_dir: Path) -> None:
    assert v2_to_db_json(db_json_to_v2(_db(data_dir))) == _db(data_dir)


def test_db_json_import_then_csv_matches_the_source_values(data_dir: Path) -> None:
    """The CSV regenerated from db.json means the same as the source CSV (same db.json)."""
    rows = v2_to_csv_rows(db_json_to_v2(_db(data_dir)))
    assert build_db_json(parse_models_csv(dump_models_csv(rows))) == _db(data_dir)


def test_db_json_entry_without_parameters_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        db_json_to_v2({"a/b": {"name": "a/b", "model_name": "b", "parameters": None}})
