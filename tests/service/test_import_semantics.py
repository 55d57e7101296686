"""Import never drops data silently (issue 12, trap 1), on SQLite and PostgreSQL.

The corpus under ``tests/ops_data`` is a handful of fictional records written for these tests:
legacy files with md5sums, ``download_all``, ``available`` and a ``.yaml`` config entry, and
the v2 files of the same records. The real reference runs the same sequence when
``MODELREF_REFERENCE_DIR`` points at a folder holding ``legacy/`` and ``v2/``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.categories import Category
from modelref.domain.errors import ValidationFailed
from modelref.service import catalog_io
from modelref.service.catalog_io import ImportReport
from modelref.service.container import Services
from tests.catalog.helpers import IMPORTER, open_services, snapshot

OPS = Path(__file__).resolve().parents[1] / "ops_data"


@pytest.fixture
def svc(db_url: str) -> Iterator[Services]:
    services = open_services(db_url)
    yield services
    services.db.dispose()


def run_import(svc: Services, path: Path, *, replace: bool = False) -> ImportReport:
    return svc.files.import_path(path, IMPORTER, replace=replace)


def legacy_export(svc: Services, out: Path) -> dict[str, str]:
    catalog_io.export(svc.catalog, out, "legacy")
    return {
        p.relative_to(out).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def by_category(report: ImportReport) -> dict[str, catalog_io.CategoryImport]:
    return {c.category: c for c in report.categories}


def test_legacy_then_v2_keeps_legacy_only_fields(svc: Services, tmp_path: Path) -> None:
    run_import(svc, OPS / "legacy")
    after_legacy = legacy_export(svc, tmp_path / "one")
    report = run_import(svc, OPS / "v2")
    assert report.changed == []
    items = by_category(report)
    image = items["image_generation"]
    assert (image.added, image.updated, image.removed) == (0, 0, 0)
    assert image.kept_fields["config.files.md5sum"] == 1
    assert image.kept_fields["download_all"] == 2
    assert items["blip"].kept_fields["config.files.md5sum"] == 1
    assert image.dropped_fields == {}
    after_v2 = legacy_export(svc, tmp_path / "two")
    assert after_v2 == after_legacy
    sd = json.loads(after_v2["legacy/image/stable_diffusion.json"])
    lantern = sd["Ops Lantern"]
    assert lantern["config"]["files"][0]["md5sum"] == "0f343b0931126a20f133d67c2b018a3b"
    assert lantern["config"]["files"][1] == {"path": "v1-inference.yaml"}
    assert lantern["download_all"] is True and lantern["available"] is False


def test_v2_with_replace_drops_and_reports_the_fields(svc: Services, tmp_path: Path) -> None:
    run_import(svc, OPS / "legacy")
    events = len(svc.audit.events())
    report = run_import(svc, OPS / "v2", replace=True)
    image = by_category(report)["image_generation"]
    assert image.changed and sorted(image.updated_models) == ["Ops Harbor XL", "Ops Lantern"]
    assert image.dropped_fields["config.files.md5sum"] == 1
    assert image.dropped_fields["available"] == 1
    assert image.kept_fields == {}
    assert len(svc.audit.events()) > events
    sd = json.loads(legacy_export(svc, tmp_path / "x")["legacy/image/stable_diffusion.json"])
    assert all("md5sum" not in f for r in sd.values() for f in r["config"]["files"])


def _v2_copy_with_slow_download(tmp_path: Path) -> Path:
    target = tmp_path / "v2"
    shutil.copytree(OPS / "v2", target)
    path = target / "stable_diffusion.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["Ops Harbor XL"]["config"]["download"][0]["known_slow_download"] = True
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    return target


def test_legacy_over_values_it_cannot_carry_is_refused(svc: Services, tmp_path: Path) -> None:
    run_import(svc, _v2_copy_with_slow_download(tmp_path))
    before = snapshot(svc)
    with pytest.raises(ValidationFailed) as caught:
        run_import(svc, OPS / "legacy")
    message = caught.value.message
    assert "config.download[].known_slow_download" in message and "Ops Harbor XL" in message
    assert "--replace" in message and "Nothing was imported" in message
    assert snapshot(svc) == before
    report = run_import(svc, OPS / "legacy", replace=True)
    image = by_category(report)["image_generation"]
    assert image.dropped_fields == {"config.download[].known_slow_download": 1}
    assert "Ops Harbor XL" in image.updated_models
    record = svc.catalog.record(Category.image_generation, "Ops Harbor XL")
    assert record["config"]["download"][0]["known_slow_download"] is False


def test_report_names_added_updated_and_removed_models(svc: Services, tmp_path: Path) -> None:
    run_import(svc, OPS / "v2")
    target = tmp_path / "v2"
    shutil.copytree(OPS / "v2", target)
    path = target / "stable_diffusion.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["Ops Lantern"]["description"] = "edited"
    new = dict(data.pop("Ops Harbor XL"), name="Ops Beacon")
    data["Ops Beacon"] = new
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    image = by_category(run_import(svc, target))["image_generation"]
    assert image.added_models == ["Ops Beacon"]
    assert image.updated_models == ["Ops Lantern"]
    assert image.removed_models == ["Ops Harbor XL"]
    assert (image.added, image.updated, image.removed) == (1, 1, 0 + 1)


def test_both_formats_together_then_v2_alone_changes_nothing(svc: Services) -> None:
    run_import(svc, OPS)
    before = snapshot(svc)
    assert run_import(svc, OPS / "v2").changed == []
    assert snapshot(svc) == before


def test_real_reference_legacy_then_v2_keeps_md5sums(
    svc: Services, tmp_path: Path, reference_dir: Path
) -> None:
    root = reference_dir
    run_import(svc, root / "legacy")
    after_legacy = legacy_export(svc, tmp_path / "one")
    report = run_import(svc, root / "v2")
    assert report.changed == []
    assert by_category(report)["image_generation"].kept_fields["config.files.md5sum"] == 66
    after_v2 = legacy_export(svc, tmp_path / "two")
    assert after_v2 == after_legacy
    assert after_v2["legacy/image/stable_diffusion.json"].count('"md5sum"') == 66


def test_an_import_logs_one_event_line_per_changed_category(
    svc: Services, caplog: pytest.LogCaptureFixture
) -> None:
    from modelref.logs import FIELDS, JsonFormatter

    with caplog.at_level("INFO", logger="modelref.catalog"):
        run_import(svc, OPS / "legacy")
        run_import(svc, OPS / "v2")  # unchanged: no line
    lines = [r for r in caplog.records if r.name == "modelref.catalog"]
    assert sorted(r.__dict__[FIELDS]["category"] for r in lines) == [
        "blip",
        "image_generation",
        "text_generation",
    ]
    image = next(r for r in lines if r.__dict__[FIELDS]["category"] == "image_generation")
    assert "import image_generation from legacy: 2 added" in image.getMessage()
    as_json = json.loads(JsonFormatter().format(image))
    assert as_json["event"] == "import" and as_json["added"] == 2
    assert as_json["user_id"] == IMPORTER.user_id and as_json["logger"] == "modelref.catalog"
