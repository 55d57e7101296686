"""Where the test corpus lives and what it holds (the files are described in tests/data/README.md).

Tests normally take the ``corpus_dir`` fixture; modules that need paths at import time (test
parameters) use :data:`CORPUS` directly. Both are read-only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from modelref.domain.categories import V2_FILE_NAMES, Category

CORPUS = Path(__file__).resolve().parent / "data"

#: Records per category in both the legacy and the v2 form.
LEGACY_COUNTS: dict[Category, int] = {
    Category.image_generation: 16,
    Category.text_generation: 15,
    Category.blip: 2,
    Category.clip: 2,
    Category.codeformer: 1,
    Category.controlnet: 4,
    Category.esrgan: 3,
    Category.gfpgan: 1,
    Category.safety_checker: 1,
    Category.miscellaneous: 2,
}
#: Categories upstream has no legacy form for: one record each, in ``v2/`` only.
V2_ONLY_COUNTS: dict[Category, int] = {
    Category.lora: 1,
    Category.ti: 1,
    Category.controlnet_annotator: 1,
    Category.video_generation: 1,
    Category.audio_generation: 1,
}
V2_COUNTS: dict[Category, int] = {**LEGACY_COUNTS, **V2_ONLY_COUNTS}

#: models.csv rows (two names repeat) and db.json keys (each name three times).
CSV_ROWS = 17
DB_JSON_KEYS = 3 * LEGACY_COUNTS[Category.text_generation]

#: Files of legacy/ that hold no category: an import skips them.
SKIPPED_LEGACY = {
    "aitemplate.json",
    "db_dep.json",
    "db_embeds.json",
    "model_mod_data.json",
    "stable_diffusion.schema.json",
    "defaults.json",
    "generation_params.json",
    "lora.json",
    "diffusers.json",
    "models.json",
}

#: Scenario file -> its operation.
SCENARIOS = {
    "01_create_image_sdxl_finetune.json": "create",
    "02_update_image_nsfw_description.json": "update",
    "03_delete_text_model.json": "delete",
}


def v2_records(category: Category, root: Path = CORPUS) -> dict[str, Any]:
    """The v2 file of ``category`` under ``root`` (the corpus unless told otherwise)."""
    result: dict[str, Any] = json.loads(
        (root / "v2" / V2_FILE_NAMES[category]).read_text(encoding="utf-8")
    )
    return result


def v2_record(category: Category, name: str, root: Path = CORPUS) -> dict[str, Any]:
    record: dict[str, Any] = v2_records(category, root)[name]
    return record


def scenario(file_name: str, root: Path = CORPUS) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = json.loads(
        (root / "scenarios" / file_name).read_text(encoding="utf-8")
    )
    assert isinstance(changes, list) and changes
    return changes
