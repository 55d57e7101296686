"""The three scenarios (corpus; the public ones in the real-reference tier) through the whole
review flow.

Each scenario is imported on top of its reference (v2 + legacy), enqueued by one person,
approved by a second and applied by a third; then the exported files (v2 and legacy) are
compared before/after: exactly the scenario's model keys changed, and nothing else in any file.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.queue_models import PendingChangeStatus
from modelref.service.container import Services
from tests.catalog.helpers import (
    IMPORTER,
    apply,
    approve,
    assert_consistent,
    assert_published,
    enqueue,
    open_services,
)
from tests.corpus import SCENARIOS, scenario

#: Fields apply may add to a v2 record beyond the payload: server metadata and category
#: defaults written out (the real image file omits defaults, spec data-model §5).
NORMALISED = {"record_type", "metadata", "model_classification", "inpainting"}


@pytest.fixture
def svc(sqlite_url: str, tmp_path: Path, data_dir: Path) -> Iterator[Services]:
    services = open_services(sqlite_url, tmp_path / "publish")
    services.files.import_path(data_dir, IMPORTER)
    yield services
    services.db.dispose()


def load_changes(root: Path, file_name: str) -> list[dict[str, Any]]:
    return scenario(file_name, root)


def export_tree(svc: Services, out: Path) -> dict[str, bytes]:
    svc.files.export(out, "both")
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def changed_files(before: dict[str, bytes], after: dict[str, bytes]) -> set[str]:
    assert before.keys() == after.keys()
    return {rel for rel in before if before[rel] != after[rel]}


def key_diff(before: bytes, after: bytes) -> tuple[set[str], set[str], set[str]]:
    """(added, removed, modified) top-level keys between two JSON object files."""
    old, new = json.loads(before), json.loads(after)
    modified = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    return set(new) - set(old), set(old) - set(new), modified


def run_scenario(svc: Services, changes: list[dict[str, Any]]) -> list[int]:
    ids = [
        enqueue(svc, c["category"], c["model_name"], c["operation"], c["payload"]) for c in changes
    ]
    approve(svc, ids, title="scenario")
    result = apply(svc, ids)
    assert [r.change_id for r in result.applied] == ids
    for cid in ids:
        assert svc.review.get_change(cid).status is PendingChangeStatus.APPLIED
    return ids


def test_scenario_01_create_adds_exactly_one_image_model(
    svc: Services, data_dir: Path, tmp_path: Path
) -> None:
    (change,) = load_changes(data_dir, "01_create_image_sdxl_finetune.json")
    name = change["model_name"]
    before = export_tree(svc, tmp_path / "before")

    (cid,) = run_scenario(svc, [change])

    after = export_tree(svc, tmp_path / "after")
    assert changed_files(before, after) == {
        "v2/stable_diffusion.json",
        "legacy/image/stable_diffusion.json",
    }
    for rel in ("v2/stable_diffusion.json", "legacy/image/stable_diffusion.json"):
        assert key_diff(before[rel], after[rel]) == ({name}, set(), set()), rel
    v2 = json.loads(after["v2/stable_diffusion.json"])[name]
    # Every field of the payload is stored as sent; apply only adds metadata and defaults.
    for key, value in change["payload"].items():
        assert v2[key] == value, key
    assert set(v2) - set(change["payload"]) <= NORMALISED
    assert v2["metadata"]["created_at"] == v2["metadata"]["updated_at"]
    legacy = json.loads(after["legacy/image/stable_diffusion.json"])[name]
    assert legacy["baseline"] == "stable_diffusion_xl"
    assert legacy["nsfw"] is False and legacy["type"] == "ckpt"
    download = change["payload"]["config"]["download"][0]
    assert legacy["config"]["files"] == [
        {"path": download["file_name"], "sha256sum": download["sha256sum"]}
    ]
    assert legacy["config"]["download"] == [
        {"file_name": download["file_name"], "file_path": "", "file_url": download["file_url"]}
    ]
    # The new model is last, after the ones already there.
    assert list(json.loads(after["v2/stable_diffusion.json"]))[-1] == name
    diff = svc.catalog.diff(cid)
    assert diff.net_operation == "modified"  # applied: it now exists
    assert_consistent(svc)
    assert_published(svc, tmp_path / "publish")


def test_scenario_02_update_changes_only_nsfw_and_description(
    svc: Services, data_dir: Path, tmp_path: Path
) -> None:
    (change,) = load_changes(data_dir, "02_update_image_nsfw_description.json")
    name = change["model_name"]
    live = svc.catalog.record(Category.image_generation, name)
    assert live["nsfw"] is False
    before = export_tree(svc, tmp_path / "before")

    ids = [enqueue(svc, change["category"], name, "update", change["payload"])]
    diff = svc.catalog.diff(ids[0])
    assert diff.fields_modified == ["description", "nsfw"]
    assert diff.is_critical  # nsfw is critical for image_generation
    approve(svc, ids)
    apply(svc, ids)

    after = export_tree(svc, tmp_path / "after")
    assert changed_files(before, after) == {
        "v2/stable_diffusion.json",
        "legacy/image/stable_diffusion.json",
    }
    for rel in ("v2/stable_diffusion.json", "legacy/image/stable_diffusion.json"):
        assert key_diff(before[rel], after[rel]) == (set(), set(), {name}), rel

    old_legacy = json.loads(before["legacy/image/stable_diffusion.json"])[name]
    new_legacy = json.loads(after["legacy/image/stable_diffusion.json"])[name]
    changed = {
        k for k in old_legacy.keys() | new_legacy.keys() if old_legacy.get(k) != new_legacy.get(k)
    }
    assert changed == {"nsfw", "description"}
    assert new_legacy["nsfw"] is True
    assert new_legacy["description"] == change["payload"]["description"]
    # Legacy-only fields survive an update made through the v2 payload.
    assert list(new_legacy) == list(old_legacy)

    old_v2 = json.loads(before["v2/stable_diffusion.json"])[name]
    new_v2 = json.loads(after["v2/stable_diffusion.json"])[name]
    changed_v2 = {k for k in old_v2.keys() | new_v2.keys() if old_v2.get(k) != new_v2.get(k)}
    assert changed_v2 - NORMALISED == {"nsfw", "description"}
    assert svc.catalog.record(Category.image_generation, name)["nsfw"] is True
    assert_consistent(svc)
    assert_published(svc, tmp_path / "publish")


def test_scenario_03_delete_removes_three_db_json_keys_and_one_csv_row(
    svc: Services, data_dir: Path, tmp_path: Path
) -> None:
    (change,) = load_changes(data_dir, "03_delete_text_model.json")
    name = change["model_name"]
    before = export_tree(svc, tmp_path / "before")

    ids = [enqueue(svc, "text_generation", name, "delete", None)]
    queued = svc.review.get_change(ids[0])
    koboldcpp = f"koboldcpp/{name.split('/', 1)[1]}"
    assert queued.related_models == [f"aphrodite/{name}", koboldcpp]
    diff = svc.catalog.diff(ids[0])
    assert diff.net_operation == "deleted" and diff.proposed_state is None
    assert "parameters" in diff.fields_removed
    approve(svc, ids)
    apply(svc, ids)

    after = export_tree(svc, tmp_path / "after")
    assert changed_files(before, after) == {
        "v2/text_generation.json",
        "legacy/text/db.json",
        "legacy/text/models.csv",
    }
    assert key_diff(before["v2/text_generation.json"], after["v2/text_generation.json"]) == (
        set(),
        {name},
        set(),
    )
    assert key_diff(before["legacy/text/db.json"], after["legacy/text/db.json"]) == (
        set(),
        {name, f"aphrodite/{name}", koboldcpp},
        set(),
    )
    assert (
        len(json.loads(after["legacy/text/db.json"]))
        == len(json.loads(before["legacy/text/db.json"])) - 3
    )

    old_rows = list(csv.reader(before["legacy/text/models.csv"].decode().splitlines()))
    new_rows = list(csv.reader(after["legacy/text/models.csv"].decode().splitlines()))
    removed = [r for r in old_rows if r not in new_rows]
    assert len(new_rows) == len(old_rows) - 1
    assert [r[0] for r in removed] == [name]
    assert [r for r in old_rows if r[0] != name] == new_rows
    assert_consistent(svc)
    assert_published(svc, tmp_path / "publish")


def test_all_three_scenarios_in_one_batch(svc: Services, data_dir: Path, tmp_path: Path) -> None:
    changes = [c for f in SCENARIOS for c in load_changes(data_dir, f)]
    before = export_tree(svc, tmp_path / "before")
    versions = svc.catalog.versions()

    ids = run_scenario(svc, changes)

    after = export_tree(svc, tmp_path / "after")
    assert changed_files(before, after) == {
        "v2/stable_diffusion.json",
        "legacy/image/stable_diffusion.json",
        "v2/text_generation.json",
        "legacy/text/db.json",
        "legacy/text/models.csv",
    }
    created, updated = (changes[0]["model_name"], changes[1]["model_name"])
    assert key_diff(before["v2/stable_diffusion.json"], after["v2/stable_diffusion.json"]) == (
        {created},
        set(),
        {updated},
    )
    assert svc.catalog.versions() == {
        **versions,
        Category.image_generation: versions[Category.image_generation] + 2,
        Category.text_generation: versions[Category.text_generation] + 1,
    }
    events = svc.audit.events()
    model_events = [e for e in events if e.change_id in ids and e.category != "pending_queue"]
    assert [(e.category, e.model_name, e.operation) for e in model_events] == [
        (c["category"], c["model_name"], c["operation"]) for c in changes
    ]
    assert not [e for e in events if e.action == "batch_split"]
    assert_consistent(svc)
    assert_published(svc, tmp_path / "publish")
