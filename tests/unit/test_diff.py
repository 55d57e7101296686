"""Diffs (spec queue-semantics §9), including where we deliberately do better than upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import V2_FILE_NAMES, AuditOperation, Category
from modelref.domain.diff import build_diff, field_diffs, is_critical, net_operation
from modelref.domain.queue_models import PendingChangeRecord

UPDATE = "02_update_image_nsfw_description.json"
CREATE = "01_create_image_sdxl_finetune.json"
DELETE = "03_delete_text_model.json"


def _scenario(root: Path, file_name: str) -> dict[str, Any]:
    change: dict[str, Any] = json.loads(
        (root / "scenarios" / file_name).read_text(encoding="utf-8")
    )[0]
    return change


def _live(root: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    """The v2 record the scenario's change is about, as the catalog files have it."""
    category = Category(scenario["category"])
    records = json.loads((root / "v2" / V2_FILE_NAMES[category]).read_text(encoding="utf-8"))
    record: dict[str, Any] = records[scenario["model_name"]]
    return record


def _change(scenario: dict[str, Any], payload: dict[str, Any] | None = None) -> PendingChangeRecord:
    return PendingChangeRecord(
        change_id=7,
        category=scenario["category"],
        model_name=scenario["model_name"],
        operation=scenario["operation"],
        payload=payload if payload is not None else scenario["payload"],
        requested_by="1001",
        requested_username="alice#1001",
    )


def _paths(diffs: list[dict[str, Any]]) -> list[str]:
    return [d["field_path"] for d in diffs]


# --- field_diffs ------------------------------------------------------------------------------


def test_no_states_no_diffs() -> None:
    assert field_diffs(None, None) == []


def test_creation_lists_every_key_in_its_order_recursing_into_objects() -> None:
    new = {"name": "m", "config": {"download": [1], "x": None}, "empty": None, "a": {"b": {"c": 1}}}
    assert field_diffs(None, new) == [
        {"field_path": "name", "old_value": None, "new_value": "m", "change_type": "added"},
        {
            "field_path": "config.download",
            "old_value": None,
            "new_value": [1],
            "change_type": "added",
        },
        {"field_path": "config.x", "old_value": None, "new_value": None, "change_type": "added"},
        {"field_path": "empty", "old_value": None, "new_value": None, "change_type": "added"},
        {"field_path": "a.b.c", "old_value": None, "new_value": 1, "change_type": "added"},
    ]


def test_removal_lists_every_key_as_removed() -> None:
    old = {"z": 1, "m": {"k": "v"}}
    assert field_diffs(old, None) == [
        {"field_path": "z", "old_value": 1, "new_value": None, "change_type": "removed"},
        {"field_path": "m.k", "old_value": "v", "new_value": None, "change_type": "removed"},
    ]


def test_both_sides_sorted_union_absent_equals_null() -> None:
    old = {"b": 1, "a": None, "same": [1, 2], "gone": "x", "nested": {"q": 1, "r": 2}}
    new = {"b": 2, "same": [1, 2], "new": None, "added": True, "nested": {"q": 1, "r": 3}}
    assert field_diffs(old, new) == [
        {"field_path": "added", "old_value": None, "new_value": True, "change_type": "added"},
        {"field_path": "b", "old_value": 1, "new_value": 2, "change_type": "modified"},
        {"field_path": "gone", "old_value": "x", "new_value": None, "change_type": "removed"},
        {"field_path": "nested.r", "old_value": 2, "new_value": 3, "change_type": "modified"},
    ]


def test_lists_and_type_changes_are_compared_whole() -> None:
    old = {"tags": ["a", "b"], "config": {"download": [{"file_name": "x", "sha256sum": "1"}]}}
    new = {"tags": ["b", "a"], "config": {"download": [{"file_name": "x", "sha256sum": "2"}]}}
    assert _paths(field_diffs(old, new)) == ["config.download", "tags"]
    changed_type = field_diffs({"v": {"a": 1}}, {"v": "text"})
    assert changed_type == [
        {"field_path": "v", "old_value": {"a": 1}, "new_value": "text", "change_type": "modified"}
    ]


def test_a_key_only_on_one_side_is_reported_whole() -> None:
    assert field_diffs({"x": 1}, {"x": 1, "obj": {"a": 1}}) == [
        {"field_path": "obj", "old_value": None, "new_value": {"a": 1}, "change_type": "added"}
    ]


def test_booleans_are_not_numbers() -> None:
    assert _paths(field_diffs({"nsfw": False}, {"nsfw": 0})) == ["nsfw"]
    assert field_diffs({"n": 1}, {"n": 1.0}) == []


def test_update_scenario_shows_exactly_the_two_edits(data_dir: Path) -> None:
    scenario = _scenario(data_dir, UPDATE)
    current = _live(data_dir, scenario)
    proposed = scenario["payload"]
    diffs = field_diffs(current, proposed)
    assert _paths(diffs) == ["description", "nsfw"]
    assert diffs[1] == {
        "field_path": "nsfw",
        "old_value": False,
        "new_value": True,
        "change_type": "modified",
    }


# --- net_operation ------------------------------------------------------------------------------

REC = {"name": "m", "v": 1}


@pytest.mark.parametrize(
    ("operation", "current", "proposed", "expected"),
    [
        ("create", None, REC, "added"),
        ("create", REC, REC, "modified"),
        ("update", None, REC, "added"),
        ("update", REC, dict(REC), "unchanged"),
        ("update", {**REC, "x": None}, REC, "unchanged"),
        ("update", REC, {**REC, "v": 2}, "modified"),
        ("delete", None, None, "unchanged"),
        ("delete", REC, None, "deleted"),
        ("delete", REC, REC, "deleted"),
    ],
)
def test_net_operation_table(
    operation: str, current: dict[str, Any] | None, proposed: dict[str, Any] | None, expected: str
) -> None:
    assert net_operation(operation, current, proposed) == expected


# --- is_critical ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "paths", "expected"),
    [
        (Category.image_generation, ["nsfw"], True),
        (Category.image_generation, ["trigger"], True),
        (Category.image_generation, ["description", "tags", "style"], False),
        (Category.image_generation, ["requirements.clip_skip"], False),
        (Category.image_generation, ["nsfw_note"], False),
        (Category.text_generation, ["parameters"], True),
        (Category.text_generation, ["url"], True),
        (Category.text_generation, ["style", "tags"], False),
        (Category.clip, ["style"], True),
        (Category.esrgan, ["nsfw"], True),
        (Category.esrgan, ["description"], False),
        (Category.lora, ["nsfw", "baseline"], False),
        (Category.miscellaneous, ["description"], False),
        (Category.image_generation, ["config.download"], True),
        (Category.lora, ["config.download"], True),
        (Category.ti, ["config.download.0"], True),
        (Category.miscellaneous, ["config.download"], True),
        (Category.controlnet_annotator, ["config.download"], True),
        (Category.video_generation, ["config"], True),
        (Category.clip, ["config.embedded_component_hashes.vae"], False),
        (Category.image_generation, [], False),
    ],
)
def test_is_critical(category: Category, paths: list[str], expected: bool) -> None:
    assert is_critical(category, paths) is expected


# --- build_diff -------------------------------------------------------------------------------


def test_build_diff_for_the_update_scenario(data_dir: Path) -> None:
    scenario = _scenario(data_dir, UPDATE)
    current = _live(data_dir, scenario)
    diff = build_diff(_change(scenario), current)
    assert diff.change_id == 7
    assert diff.category is Category.image_generation
    assert diff.model_name == scenario["model_name"]
    assert diff.operation is AuditOperation.UPDATE
    assert diff.current_state == current
    assert diff.proposed_state == scenario["payload"]
    assert diff.net_operation == "modified"
    assert diff.fields_modified == ["description", "nsfw"]
    assert diff.fields_added == []
    assert diff.fields_removed == []
    assert diff.is_critical is True
    assert diff.is_stale is False
    assert diff.conflicts == []


def test_build_diff_for_the_create_scenario(data_dir: Path) -> None:
    scenario = _scenario(data_dir, CREATE)
    diff = build_diff(_change(scenario), None)
    assert diff.net_operation == "added"
    assert diff.current_state is None
    assert diff.fields_added == _paths(field_diffs(None, scenario["payload"]))
    assert "config.download" in diff.fields_added
    assert diff.is_critical is True


def test_build_diff_for_the_delete_scenario_lists_every_removed_field(data_dir: Path) -> None:
    scenario = _scenario(data_dir, DELETE)
    current = _live(data_dir, scenario)
    # The queue stores the live record as the delete's payload (a snapshot).
    diff = build_diff(_change(scenario, payload=current), current)
    assert diff.proposed_state is None
    assert diff.net_operation == "deleted"
    assert diff.fields_added == []
    assert diff.fields_modified == []
    assert diff.fields_removed[:4] == ["record_type", "name", "description", "version"]
    assert "model_classification.domain" in diff.fields_removed
    assert "parameters" in diff.fields_removed
    assert all(d["new_value"] is None for d in diff.field_diffs)
    assert diff.is_critical is True


def test_build_diff_for_a_delete_of_a_missing_model(corpus_dir: Path) -> None:
    scenario = _scenario(corpus_dir, DELETE)
    diff = build_diff(_change(scenario), None)
    assert diff.net_operation == "unchanged"
    assert diff.field_diffs == []
    assert diff.is_critical is False


def test_build_diff_unchanged_update_and_extensions() -> None:
    record = {"name": "m", "description": "d"}
    change = _change(
        {"category": "miscellaneous", "model_name": "m", "operation": "update"}, payload=record
    )
    diff = build_diff(change, dict(record), is_stale=True, conflicts=[3, 9])
    assert diff.net_operation == "unchanged"
    assert diff.field_diffs == []
    assert diff.is_critical is False
    assert diff.is_stale is True
    assert diff.conflicts == [3, 9]


def test_build_diff_serializes_with_the_wire_keys(corpus_dir: Path) -> None:
    scenario = _scenario(corpus_dir, UPDATE)
    current = _live(corpus_dir, scenario)
    body = build_diff(_change(scenario), current).model_dump(mode="json")
    assert set(body) >= {
        "change_id",
        "category",
        "model_name",
        "operation",
        "current_state",
        "proposed_state",
        "net_operation",
        "field_diffs",
        "is_critical",
        "fields_added",
        "fields_removed",
        "fields_modified",
    }
    assert body["operation"] == "update"
    assert body["category"] == "image_generation"
