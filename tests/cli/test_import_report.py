"""``modelref import`` says what it did per category and which fields it kept or dropped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.cli.inproc import invoke

OPS = Path(__file__).resolve().parents[1] / "ops_data"


def test_legacy_then_v2_reports_kept_fields_and_exports_them(tmp_path: Path) -> None:
    env = {"MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    first = invoke("import", str(OPS / "legacy"), env=env)
    assert first.code == 0 and "image_generation: added Ops Lantern, Ops Harbor XL" in first.out
    second = invoke("import", str(OPS / "v2"), env=env)
    assert second.code == 0
    line = next(ln for ln in second.out.splitlines() if "image_generation" in ln and "│" in ln)
    assert line.split("│")[-2].strip() == "no"
    assert "image_generation: kept legacy-only fields" in second.out
    assert "config.files.md5sum (1)" in second.out and "download_all (2)" in second.out
    assert invoke("export", str(tmp_path / "out"), "--format", "legacy", "-q", env=env).code == 0
    sd = json.loads((tmp_path / "out/legacy/image/stable_diffusion.json").read_text())
    assert sd["Ops Lantern"]["config"]["files"][0]["md5sum"] == "0f343b0931126a20f133d67c2b018a3b"
    replaced = invoke("import", str(OPS / "v2"), "--replace", "--json", env=env).json()
    image = next(c for c in replaced["categories"] if c["category"] == "image_generation")
    assert image["changed"] and image["dropped_fields"]["config.files.md5sum"] == 1


def test_a_lossy_legacy_import_is_refused_naming_the_fields(tmp_path: Path) -> None:
    env = {"MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    v2 = tmp_path / "v2"
    shutil.copytree(OPS / "v2", v2)
    path = v2 / "text_generation.json"
    data = json.loads(path.read_text())
    data["opsorg/Ops-Mid-13B"]["nsfw"] = True
    path.write_text(json.dumps(data))
    assert invoke("import", str(v2), "-q", env=env).code == 0
    refused = invoke("import", str(OPS / "legacy"), env=env)
    assert refused.code == 1
    assert "text_generation: nsfw (1 record(s): opsorg/Ops-Mid-13B)" in refused.err
    assert "--replace" in refused.err
    shown = invoke("catalog", "show", "text_generation", "opsorg/Ops-Mid-13B", "--json", env=env)
    assert shown.json()["nsfw"] is True
    accepted = invoke("import", str(OPS / "legacy"), "--replace", env=env)
    assert accepted.code == 0 and "dropped fields nsfw (1)" in accepted.out
