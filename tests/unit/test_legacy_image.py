"""Legacy image-repo files ↔ v2 records: on the corpus, and in the real-reference tier on the
public files (where ``v2/`` is upstream's own converter output)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import V2_FILE_NAMES, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.legacy_image import (
    LEGACY_IMAGE_CATEGORIES,
    LEGACY_INDENT,
    dump_legacy_json,
    legacy_baseline,
    legacy_entry_to_v2,
    legacy_image_to_v2,
    normalise_baseline,
    v2_to_legacy_image,
    v2_to_legacy_image_file,
)
from tests.conftest import is_reference
from tests.corpus import CORPUS

IMAGE_CATEGORIES = sorted(LEGACY_IMAGE_CATEGORIES, key=lambda c: c.value)
#: Public files whose indentation was edited by hand upstream (mixed tabs/spaces): JSON-equal only.
HAND_INDENTED = {Category.blip, Category.clip, Category.controlnet}


def _text(root: Path, category: Category, part: str) -> str:
    return (root / part / V2_FILE_NAMES[category]).read_text(encoding="utf-8")


def _legacy(category: Category, root: Path = CORPUS) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_text(root, category, "legacy/image"))
    return result


def _v2(category: Category, root: Path = CORPUS) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_text(root, category, "v2"))
    return result


def _ordered_json(value: Any) -> str:
    """JSON text without key sorting: equal strings mean equal values *and* key order."""
    return json.dumps(value)


@pytest.mark.parametrize("category", IMAGE_CATEGORIES, ids=lambda c: c.value)
def test_legacy_to_v2_equals_the_v2_file(data_dir: Path, category: Category) -> None:
    converted = legacy_image_to_v2(category, _legacy(category, data_dir))
    records = {key: record for key, (record, _extras) in converted.items()}
    expected = _v2(category, data_dir)
    assert records
    assert records == expected
    assert _ordered_json(records) == _ordered_json(expected)  # key order too


@pytest.mark.parametrize("category", IMAGE_CATEGORIES, ids=lambda c: c.value)
def test_legacy_v2_legacy_round_trip_reproduces_every_field(
    data_dir: Path, category: Category
) -> None:
    legacy = _legacy(category, data_dir)
    converted = legacy_image_to_v2(category, legacy)
    back = {key: v2_to_legacy_image(category, key, rec, ex) for key, (rec, ex) in converted.items()}
    assert back == legacy
    assert _ordered_json(back) == _ordered_json(legacy)
    records = {key: rec for key, (rec, _ex) in converted.items()}
    extras = {key: ex for key, (_rec, ex) in converted.items()}
    assert v2_to_legacy_image_file(category, records, extras) == legacy


@pytest.mark.parametrize("category", IMAGE_CATEGORIES, ids=lambda c: c.value)
def test_round_trip_works_from_the_v2_file_plus_extras(data_dir: Path, category: Category) -> None:
    """The stored record may be re-read from the v2 file: extras alone must complete it."""
    legacy = _legacy(category, data_dir)
    extras = {key: ex for key, (_rec, ex) in legacy_image_to_v2(category, legacy).items()}
    assert v2_to_legacy_image_file(category, _v2(category, data_dir), extras) == legacy


@pytest.mark.parametrize("category", IMAGE_CATEGORIES, ids=lambda c: c.value)
def test_structured_extras_cover_the_data_without_whole_config_snapshots(
    data_dir: Path, category: Category
) -> None:
    for _record, extras in legacy_image_to_v2(category, _legacy(category, data_dir)).values():
        assert "config" not in extras.get("overrides", {})
        assert "name" not in extras.get("overrides", {})
        json.dumps(extras)  # storable as JSON


@pytest.mark.parametrize("category", IMAGE_CATEGORIES, ids=lambda c: c.value)
def test_dump_matches_the_repository_formatting(data_dir: Path, category: Category) -> None:
    raw = _text(data_dir, category, "legacy/image")
    dumped = dump_legacy_json(_legacy(category, data_dir), LEGACY_INDENT[category])
    if is_reference(data_dir) and category in HAND_INDENTED:
        assert json.loads(dumped) == json.loads(raw)
        assert dumped.endswith("}\n")
    else:
        assert dumped == raw


def test_image_generation_extras_hold_the_fields_v2_drops() -> None:
    legacy = _legacy(Category.image_generation)
    converted = legacy_image_to_v2(Category.image_generation, legacy)
    _rec, extras = converted["Juniper Base 1"]
    assert extras["fields"] == {"type": "ckpt", "download_all": True, "available": False}
    assert extras["config"]["other_files"] == [[1, {"path": "v1-inference.yaml"}]]
    md5 = extras["config"]["files"]["juniper_base_1.ckpt"]["fields"]["md5sum"]
    assert md5 == legacy["Juniper Base 1"]["config"]["files"][0]["md5sum"]
    with_fns = [
        key for key, (_r, ex) in converted.items() if "features_not_supported" in ex["fields"]
    ]
    assert with_fns == [k for k, e in legacy.items() if "features_not_supported" in e]
    assert len(with_fns) == 3


def test_multi_file_model_keeps_file_type_as_file_purpose() -> None:
    legacy = _legacy(Category.image_generation)
    record, _ex = legacy_entry_to_v2(
        Category.image_generation, "Quartz Cascade", legacy["Quartz Cascade"]
    )
    purposes = [d.get("file_purpose") for d in record["config"]["download"]]
    assert purposes == ["stable_cascade_stage_b", "stable_cascade_stage_c"]


def test_civitai_in_the_file_name_marks_a_slow_download() -> None:
    """Upstream looks at the file *name*; a civitai.com URL alone does not set the flag."""
    records = _v2(Category.image_generation)
    assert records["Driftwood Sketch"]["config"]["download"][0]["known_slow_download"] is True
    lantern = records["Lantern Anime"]["config"]["download"][0]
    assert "civitai.com" in lantern["file_url"] and lantern["known_slow_download"] is False
    converted = legacy_image_to_v2(Category.image_generation, _legacy(Category.image_generation))
    assert converted["Driftwood Sketch"][0] == records["Driftwood Sketch"]


def test_controlnet_key_differs_from_name_and_type_becomes_style() -> None:
    legacy = _legacy(Category.controlnet)
    record, extras = legacy_entry_to_v2(
        Category.controlnet, "control_swirl_sdxl", legacy["control_swirl_sdxl"]
    )
    assert record["name"] == "control_swirl_xl"
    assert record["controlnet_style"] == "control_swirl_xl"
    assert extras["legacy_key"] == "control_swirl_sdxl"
    assert extras["fields"]["style"] == "control_swirl_xl"


def test_miscellaneous_baseline_kept_in_extras() -> None:
    converted = legacy_image_to_v2(Category.miscellaneous, _legacy(Category.miscellaneous))
    record, extras = converted["layer_corpus_sd15"]
    assert "baseline" not in record
    assert extras["fields"]["baseline"] == "stable diffusion 1"


def test_files_without_a_digest_become_fixme() -> None:
    converted = legacy_image_to_v2(Category.safety_checker, _legacy(Category.safety_checker))
    record, _extras = converted["safety_checker"]
    assert [d["sha256sum"] == "FIXME" for d in record["config"]["download"]] == [
        False,
        True,
        True,
    ]


# --------------------------------------------------------------------------- v2 → legacy, no extras


def _sd_record(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "record_type": "image_generation",
        "name": "Lumen Realism XL",
        "description": "A finetune.",
        "version": "1.0",
        "metadata": {"schema_version": "2.1.0", "created_at": 1},
        "model_classification": {"domain": "image", "purpose": "generation"},
        "finetune_series": {"name": "Lumen"},
        "config": {
            "download": [
                {
                    "file_name": "lumen.safetensors",
                    "file_url": "https://example.invalid/lumen.safetensors",
                    "sha256sum": "ab" * 32,
                    "known_slow_download": False,
                    "size_bytes": 10,
                },
                {
                    "file_name": "vae.safetensors",
                    "file_url": "https://example.invalid/vae.safetensors",
                    "sha256sum": "FIXME",
                    "file_purpose": "vae",
                    "content_hash": "c1",
                },
            ],
            "embedded_component_hashes": {"vae": "h"},
        },
        "baseline": "stable_diffusion_xl",
        "nsfw": False,
        "inpainting": None,
        "tags": ["anime"],
        "showcases": [],
        "trigger": [],
        "style": "realistic",
        "min_bridge_version": 30,
        "requirements": {"clip_skip": 2},
        "size_on_disk_bytes": 123,
    }
    record.update(changes)
    return record


def test_v2_only_image_record_becomes_a_legacy_entry() -> None:
    entry = v2_to_legacy_image(Category.image_generation, "Lumen Realism XL", _sd_record(), None)
    assert list(entry) == [
        "name", "baseline", "type", "inpainting", "description", "tags", "showcases",
        "min_bridge_version", "version", "style", "trigger", "nsfw", "requirements", "config",
        "size_on_disk_bytes",
    ]  # fmt: skip
    assert entry["type"] == "ckpt"
    assert entry["inpainting"] is False
    assert entry["config"] == {
        "files": [
            {"path": "lumen.safetensors", "sha256sum": "ab" * 32},
            {"path": "vae.safetensors", "file_type": "vae", "content_hash": "c1"},
        ],
        "download": [
            {
                "file_name": "lumen.safetensors",
                "file_path": "",
                "file_url": "https://example.invalid/lumen.safetensors",
            },
            {
                "file_name": "vae.safetensors",
                "file_path": "",
                "file_url": "https://example.invalid/vae.safetensors",
            },
        ],
        "embedded_component_hashes": {"vae": "h"},
    }
    for dropped in ("metadata", "model_classification", "finetune_series", "record_type"):
        assert dropped not in entry


@pytest.mark.parametrize(
    ("v2_value", "legacy_value"),
    [
        ("stable_diffusion_1", "stable diffusion 1"),
        ("stable_diffusion_2_768", "stable diffusion 2"),
        ("stable_diffusion_2_512", "stable diffusion 2 512"),
        ("stable_diffusion_xl", "stable_diffusion_xl"),
        ("SDXL", "stable_diffusion_xl"),
        ("SD1.5", "stable diffusion 1"),
        ("flux_1", "flux_1"),
        ("qwen", "qwen_image"),
    ],
)
def test_baseline_maps_back_to_legacy_spelling(v2_value: str, legacy_value: str) -> None:
    assert legacy_baseline(v2_value) == legacy_value
    entry = v2_to_legacy_image(Category.image_generation, "m", _sd_record(baseline=v2_value), None)
    assert entry["baseline"] == legacy_value


def test_baseline_normalisation() -> None:
    assert normalise_baseline("stable diffusion 2") == "stable_diffusion_2_768"
    assert normalise_baseline("stable diffusion 2 512") == "stable_diffusion_2_512"
    assert normalise_baseline("something new") == "something new"


@pytest.mark.parametrize(
    ("category", "record", "expected_type"),
    [
        (Category.blip, {"name": "b"}, "blip"),
        (Category.clip, {"name": "c", "pretrained_name": "p"}, "clip"),
        (Category.codeformer, {"name": "c"}, "CodeFormers"),
        (Category.esrgan, {"name": "e"}, "realesrgan"),
        (Category.gfpgan, {"name": "g"}, "gfpgan"),
        (Category.safety_checker, {"name": "s"}, "safety_checker"),
        (Category.miscellaneous, {"name": "m"}, "layer_diffuse"),
        (Category.controlnet, {"name": "x", "controlnet_style": "control_tile"}, "control_tile"),
    ],
)
def test_utility_record_gets_the_category_default_type(
    category: Category, record: dict[str, Any], expected_type: str
) -> None:
    entry = v2_to_legacy_image(category, record["name"], record, None)
    assert entry["type"] == expected_type
    assert entry["config"] == {"files": [], "download": []}
    if category is Category.clip:
        assert entry["pretrained_name"] == "p"


def test_controlnet_without_style_has_no_type() -> None:
    assert "type" not in v2_to_legacy_image(Category.controlnet, "x", {"name": "x"}, None)


# --------------------------------------------------------------------------- guarded extras


def _imported(name: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    legacy = _legacy(Category.image_generation)[name]
    record, extras = legacy_entry_to_v2(Category.image_generation, name, legacy)
    return legacy, record, extras


def test_edited_record_values_win_over_extras() -> None:
    legacy, record, extras = _imported("Juniper Base 1")
    assert "tags" not in legacy
    edited = copy.deepcopy(record)
    edited["tags"] = ["generalist"]
    edited["nsfw"] = True
    edited["config"]["download"][0]["file_url"] = "https://example.invalid/new.ckpt"
    entry = v2_to_legacy_image(Category.image_generation, "Juniper Base 1", edited, extras)
    assert entry["tags"] == ["generalist"]
    assert entry["nsfw"] is True
    assert entry["config"]["download"][0]["file_url"] == "https://example.invalid/new.ckpt"
    assert entry["config"]["files"][0]["md5sum"] == legacy["config"]["files"][0]["md5sum"]
    assert entry["config"]["files"][1] == {"path": "v1-inference.yaml"}
    assert entry["download_all"] is True  # v2-less fields survive edits
    keys = list(entry)
    assert keys.index("tags") == keys.index("description") + 1  # canonical legacy position


def test_md5_is_dropped_when_the_file_digest_changes() -> None:
    _legacy_entry, record, extras = _imported("Juniper Base 1")
    edited = copy.deepcopy(record)
    edited["config"]["download"][0]["sha256sum"] = "cd" * 32
    entry = v2_to_legacy_image(Category.image_generation, "Juniper Base 1", edited, extras)
    assert "md5sum" not in entry["config"]["files"][0]
    assert entry["config"]["files"][0]["sha256sum"] == "cd" * 32


def test_alias_spelling_survives_until_the_baseline_changes() -> None:
    legacy = {
        "name": "m",
        "baseline": "SDXL",
        "type": "ckpt",
        "inpainting": False,
        "version": "1",
        "nsfw": False,
        "download_all": False,
        "config": {"files": [], "download": []},
    }
    record, extras = legacy_entry_to_v2(Category.image_generation, "m", legacy)
    assert record["baseline"] == "stable_diffusion_xl"
    assert v2_to_legacy_image(Category.image_generation, "m", record, extras) == legacy
    record["baseline"] = "stable_diffusion_1"
    entry = v2_to_legacy_image(Category.image_generation, "m", record, extras)
    assert entry["baseline"] == "stable diffusion 1"


def test_odd_legacy_entries_still_round_trip_exactly() -> None:
    legacy = {
        "extra_top": {"x": 1},
        "name": "odd",
        "description": None,
        "type": "ckpt",
        "tags": None,
        "nsfw": 1,
        "config": {
            "download": [
                {"file_url": "u2", "file_name": "b.ckpt", "file_path": "sub/"},
                {"file_name": "a.ckpt", "file_path": "", "file_url": "u1"},
            ],
            "files": [
                {"path": ""},
                {"sha256sum": "", "path": "a.ckpt", "file_type": None},
                {"path": "b.ckpt", "sha256sum": "FIXME", "md5sum": "m", "x": [1]},
                {"path": "c.civitai.ckpt", "sha256sum": "S"},
            ],
            "other": True,
        },
        "baseline": "weird baseline",
    }
    record, extras = legacy_entry_to_v2(Category.image_generation, "key", legacy)
    downloads = record["config"]["download"]
    assert [d["file_name"] for d in downloads] == ["a.ckpt", "b.ckpt", "c.civitai.ckpt"]
    assert [d["sha256sum"] for d in downloads] == ["FIXME", "FIXME", "S"]
    assert downloads[2] == {
        "file_name": "c.civitai.ckpt",
        "file_url": "",
        "sha256sum": "S",
        "known_slow_download": True,
    }
    assert "config" not in extras.get("overrides", {})
    back = v2_to_legacy_image(Category.image_generation, "key", record, extras)
    assert json.dumps(back) == json.dumps(legacy)


def test_download_without_a_file_aborts_like_upstream() -> None:
    legacy = {
        "name": "m",
        "config": {"files": [], "download": [{"file_name": "x", "file_path": "", "file_url": "u"}]},
    }
    with pytest.raises(ValidationFailed, match="no matching config file"):
        legacy_image_to_v2(Category.esrgan, {"m": legacy})


def test_categories_without_image_legacy_form_are_refused() -> None:
    with pytest.raises(ValidationFailed):
        legacy_image_to_v2(Category.text_generation, {})
    with pytest.raises(ValidationFailed):
        v2_to_legacy_image(Category.lora, "x", {"name": "x"}, None)
