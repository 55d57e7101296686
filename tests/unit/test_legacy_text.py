"""models.csv / db.json ↔ v2 text records, checked against the real text repo files."""

from __future__ import annotations

import csv
import io
import json
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

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def _csv_text() -> str:
    # newline="" keeps the CRLF line endings exactly as stored
    with (DATA / "legacy" / "text" / "models.csv").open(encoding="utf-8", newline="") as fh:
        return fh.read()


def _db_text() -> str:
    return (DATA / "legacy" / "text" / "db.json").read_text(encoding="utf-8")


def _db() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_db_text())
    return result


def _v2() -> dict[str, Any]:
    text = (DATA / "v2" / "text_generation.json").read_text(encoding="utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def _deduplicated_csv_text() -> str:
    """The real file with each repeated name collapsed like a dict: first position, last values."""
    rows = list(csv.reader(io.StringIO(_csv_text(), newline="")))
    by_name: dict[str, list[str]] = {}
    for row in rows[1:]:
        by_name[row[0]] = row
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([rows[0], *by_name.values()])
    return out.getvalue()


# --------------------------------------------------------------------------- CSV


def test_parse_models_csv_keeps_last_duplicate() -> None:
    text = _csv_text()
    assert text.count("\r\n") == 724
    rows = parse_models_csv(text)
    assert len(rows) == 719
    raw_rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(raw_rows) == 723
    last = {r["name"]: r for r in raw_rows}
    by_name = {r["name"]: r for r in rows}
    for name in (
        "Casual-Autopsy/Maginum-Cydoms-24B",
        "lightblue/Karasu-Mixtral-8x22B-v0.1",
        "mistralai/Ministral-3-14B-Instruct-2512",
        "Sao10K/Llama-3.1-8B-Stheno-v3.4",
    ):
        assert by_name[name] == last[name]
    assert all(list(row) == list(CSV_COLUMNS) for row in rows)


def test_dump_models_csv_reproduces_the_real_file_minus_duplicates() -> None:
    assert dump_models_csv(parse_models_csv(_csv_text())) == _deduplicated_csv_text()


def test_parse_rejects_bad_input() -> None:
    with pytest.raises(ValidationFailed):
        parse_models_csv("foo,bar\r\n1,2\r\n")
    with pytest.raises(ValidationFailed, match="line 2"):
        parse_models_csv("name,parameters_bn\r\n ,7\r\n")


def test_parse_accepts_bom_and_lf() -> None:
    rows = parse_models_csv("\ufeffname,parameters_bn\na/b,7\n")
    assert rows == [{**dict.fromkeys(CSV_COLUMNS, ""), "name": "a/b", "parameters_bn": "7"}]


# --------------------------------------------------------------------------- CSV → v2


def test_csv_to_v2_equals_upstream_converter_output() -> None:
    records = csv_rows_to_v2(parse_models_csv(_csv_text()))
    expected = _v2()
    assert len(records) == 719
    assert records == expected
    assert json.dumps(records) == json.dumps(expected)  # key order too


def test_marx_example_from_the_spec() -> None:
    row = parse_models_csv(_csv_text())[0]
    record = csv_row_to_v2(row)
    assert record["parameters"] == 3_000_000_000
    assert record["settings"] == {"temperature": 0.7, "top_p": 0.1, "top_k": 40, "rep_pen": 1.18}
    assert record["text_model_group"] == "Marx"
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


def test_v2_csv_v2_round_trip() -> None:
    v2 = _v2()
    assert csv_rows_to_v2(v2_to_csv_rows(v2)) == v2


def test_extras_rewrite_the_csv_byte_for_byte() -> None:
    converted = csv_rows_to_v2_with_extras(parse_models_csv(_csv_text()))
    with_extras = {name: ex for name, (_rec, ex) in converted.items() if ex}
    assert with_extras == {
        "acrastt/Marx-3B-V3": {
            "csv": {"settings": '{"temperature": 0.7, "top_p": 0.1, "top_k": 40, "rep_pen":1.18}'}
        },
        "yamatazen/EsotericSage-12B": {"csv": {"parameters_bn": " 12"}},
    }
    records = {name: rec for name, (rec, _ex) in converted.items()}
    extras = {name: ex for name, (_rec, ex) in converted.items()}
    assert dump_models_csv(v2_to_csv_rows(records, extras)) == _deduplicated_csv_text()


def test_stale_raw_cell_is_not_reused() -> None:
    converted = csv_rows_to_v2_with_extras(parse_models_csv(_csv_text()))
    record, extras = converted["acrastt/Marx-3B-V3"]
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
    record = _v2()["moonshotai/Kimi-K2.5"]  # style also listed among its CSV tags
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


def test_build_db_json_reproduces_the_published_file() -> None:
    db = build_db_json(parse_models_csv(_csv_text()))
    expected = _db()
    assert len(db) == 2157
    assert db == expected
    assert dump_db_json(db) == _db_text()  # byte for byte, key order included


def test_v2_to_db_json_equals_the_published_file() -> None:
    assert dump_db_json(v2_to_db_json(_v2())) == _db_text()


def test_db_json_import_keeps_base_entries_only() -> None:
    records = db_json_to_v2(_db())
    assert len(records) == 719
    assert list(records) == list(_v2())
    assert not any(has_backend_prefix(name) for name in records)
    marx = records["acrastt/Marx-3B-V3"]
    assert marx["version"] == "1" and marx["tags"] == ["3B"] and "model_name" not in marx


def test_db_json_import_round_trips_to_the_same_db_json() -> None:
    assert v2_to_db_json(db_json_to_v2(_db())) == _db()


def test_db_json_import_then_csv_matches_the_source_values() -> None:
    """The CSV regenerated from db.json means the same as the source CSV (same db.json)."""
    rows = v2_to_csv_rows(db_json_to_v2(_db()))
    assert build_db_json(parse_models_csv(dump_models_csv(rows))) == _db()


def test_db_json_entry_without_parameters_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        db_json_to_v2({"a/b": {"name": "a/b", "model_name": "b", "parameters": None}})
