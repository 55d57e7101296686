"""Per-file format detection over the legacy and v2 directories (corpus; reference tier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelref.domain.categories import Category
from modelref.domain.formats import detect_format
from tests.conftest import is_reference

EXPECTED_LEGACY = {
    "blip.json": Category.blip,
    "clip.json": Category.clip,
    "codeformer.json": Category.codeformer,
    "controlnet.json": Category.controlnet,
    "esrgan.json": Category.esrgan,
    "gfpgan.json": Category.gfpgan,
    "miscellaneous.json": Category.miscellaneous,
    "safety_checker.json": Category.safety_checker,
    "stable_diffusion.json": Category.image_generation,
    "db.json": Category.text_generation,  # text repo's db.json (image repo's is `{}`)
    "models.csv": Category.text_generation,
}


def _load(path: Path) -> object:
    if path.suffix == ".csv":
        return path.read_text(encoding="utf-8")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("folder", ["legacy/image", "legacy/text"])
def test_legacy_files(data_dir: Path, folder: str) -> None:
    files = sorted((data_dir / folder).iterdir())
    assert files
    for path in files:
        result = detect_format(path.name, _load(path))
        expected = EXPECTED_LEGACY.get(path.name)
        if expected is None or (folder == "legacy/image" and path.name == "db.json"):
            assert result is None, path.name
        else:
            assert result == (expected, "legacy"), path.name


def test_v2_files(data_dir: Path) -> None:
    files = sorted((data_dir / "v2").glob("*.json"))
    # upstream writes no file for the 5 categories without a legacy form; the corpus has them
    assert len(files) == (10 if is_reference(data_dir) else 15)
    for path in files:
        result = detect_format(path.name, _load(path))
        assert result is not None and result[1] == "v2", path.name
        expected = "image_generation" if path.stem == "stable_diffusion" else path.stem
        assert result[0].value == expected


@pytest.mark.parametrize(
    "name",
    [
        "aitemplate.json", "db_dep.json", "db_embeds.json", "model_mod_data.json", "models.json",
        "diffusers.json", "stable_diffusion.schema.json", "defaults.json",
        "generation_params.json", "image_generation.json", "README.md",
    ],
)  # fmt: skip
def test_non_catalog_names(name: str) -> None:
    assert detect_format(name, {}) is None


def test_paths_and_empty_files() -> None:
    assert detect_format("some/dir/blip.json", {}) == (Category.blip, "v2")
    assert detect_format("C:\\ref\\lora.json", {}) == (Category.lora, "v2")
    assert detect_format("lora.json", []) is None
    assert detect_format("db.json", {}) is None
    assert detect_format("text_generation.json", {}) == (Category.text_generation, "v2")


def test_models_csv_content_forms() -> None:
    header = b"name,parameters_bn,display_name\r\nx/y,7,\r\n"
    assert detect_format("models.csv", header) == (Category.text_generation, "legacy")
    assert detect_format("models.csv", [{"name": "x/y"}]) == (Category.text_generation, "legacy")
    assert detect_format("models.csv", "a,b\r\n1,2\r\n") is None
    assert detect_format("models.csv", 42) is None


def test_text_db_shape_under_the_v2_name_is_legacy() -> None:
    entry = {"name": "a/b", "model_name": "b", "parameters": 7}
    assert detect_format("text_generation.json", {"a/b": entry}) == (
        Category.text_generation,
        "legacy",
    )


def test_mixed_or_odd_content_is_not_trusted() -> None:
    legacy = {"name": "a", "type": "blip", "config": {"files": [], "download": []}}
    v2 = {"record_type": "blip", "name": "b", "config": {"download": []}}
    assert detect_format("blip.json", {"a": legacy}) == (Category.blip, "legacy")
    assert detect_format("blip.json", {"a": legacy, "b": v2}) is None
    assert detect_format("blip.json", {"a": {**legacy, "metadata": {}}}) is None
    assert detect_format("blip.json", {"a": "not an object"}) is None
    # categories without a legacy form have no legacy files
    assert detect_format("video_generation.json", {"a": legacy}) is None
    assert detect_format("video_generation.json", {"v": {"name": "v", "nsfw": False}}) == (
        Category.video_generation,
        "v2",
    )
