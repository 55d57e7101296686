"""``queue submit --set`` on the corpus' records (tests/data/v2): the diff shows only the edits."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import DATA, Env, ok


def live(file: str, name: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads((DATA / "v2" / file).read_text())[name]
    return record


CASES = [
    pytest.param(
        "text_generation",
        "Quillworks/Archivist-65b",
        ["description=An old 65B model", "nsfw=true", 'tags=["legacy"]'],
        {"description", "nsfw", "tags"},
        id="text",
    ),
    pytest.param(
        "blip",
        "BLIP-tiny",
        ["config.download.0.file_url=https://example.invalid/blip.pth"],
        {"config.download"},
        id="blip-nested-list-item",
    ),
    pytest.param(
        "controlnet",
        "control_lineart",
        ["description=Canny edges", "size_on_disk_bytes=1234"],
        {"description", "size_on_disk_bytes"},
        id="controlnet",
    ),
    pytest.param(
        "image_generation",
        "Lantern Anime",
        ["nsfw=true", "description=Semi-realistic anime characters. Mostly NSFW."],
        {"nsfw", "description"},
        id="image",
    ),
]


@pytest.mark.parametrize(("category", "name", "edits", "expected"), CASES)
def test_set_edits_only_the_named_fields(
    local_env: Env, category: str, name: str, edits: list[str], expected: set[str]
) -> None:
    sets = [arg for edit in edits for arg in ("--set", edit)]
    submitted = ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            category,
            "--model",
            name,
            "--update",
            *sets,
            "--notes",
            "cli test",
            "--json",
            key="alice",
        )
    ).json()
    assert submitted["operation"] == "update" and submitted["notes"] == "cli test"
    diff = ok(local_env.run("queue", "diff", str(submitted["change_id"]), "--json")).json()
    assert {d["field_path"] for d in diff["field_diffs"]} == expected
    assert diff["net_operation"] == "modified" and diff["is_stale"] is False
    before = live(
        "stable_diffusion.json" if category == "image_generation" else f"{category}.json", name
    )
    for item in diff["field_diffs"]:
        path = item["field_path"].split(".")
        old: Any = before
        for part in path:
            old = old.get(part) if isinstance(old, dict) else None
        assert item["old_value"] == old


def test_set_values_parse_as_json_when_they_can(local_env: Env) -> None:
    submitted = ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            "text_generation",
            "--model",
            "Quillworks/Archivist-65b",
            "--update",
            "--set",
            "nsfw=true",
            "--set",
            "parameters=65000000001",
            "--set",
            "description=true story",
            "--set",
            "settings.temperature=0.7",
            "--json",
            key="alice",
        )
    ).json()
    payload = submitted["payload"]
    assert payload["nsfw"] is True
    assert payload["parameters"] == 65000000001
    assert payload["description"] == "true story"
    assert payload["settings"] == {"temperature": 0.7}


def test_create_and_delete(local_env: Env) -> None:
    created = ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            "miscellaneous",
            "--model",
            "cli_helper",
            "--create",
            "--set",
            "description=made by the CLI",
            "--set",
            "config.download=[]",
            "--json",
            key="alice",
        )
    ).json()
    assert created["payload"]["name"] == "cli_helper"
    diff = ok(local_env.run("queue", "diff", str(created["change_id"]), "--json")).json()
    assert diff["net_operation"] == "added"
    deleted = ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            "blip",
            "--model",
            "BLIP-tiny",
            "--delete",
            "--json",
            key="alice",
        )
    ).json()
    assert deleted["operation"] == "delete"
    diff = ok(local_env.run("queue", "diff", str(deleted["change_id"]), "--json")).json()
    assert diff["net_operation"] == "deleted"


def test_file_from_stdin_with_set_on_top(local_env: Env) -> None:
    record = live("blip.json", "BLIP-tiny")
    result = local_env.run(
        "queue",
        "submit",
        "--category",
        "blip",
        "--model",
        "BLIP-tiny",
        "--update",
        "--file",
        "-",
        "--set",
        "description=from stdin",
        "--json",
        key="alice",
        stdin=json.dumps(record),
    )
    diff = ok(local_env.run("queue", "diff", str(ok(result).json()["change_id"]), "--json"))
    assert [d["field_path"] for d in diff.json()["field_diffs"]] == ["description"]
