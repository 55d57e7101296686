"""Bad import files are refused with an error naming the file, and nothing is written: not the
bad file, not the good files beside it (all or nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.errors import ValidationFailed
from modelref.service.container import Services
from tests.catalog.helpers import IMPORTER, open_services, snapshot, writable_copy


@pytest.fixture
def svc(sqlite_url: str) -> Iterator[Services]:
    services = open_services(sqlite_url)
    yield services
    services.db.dispose()


def _break_json(root: Path) -> Path:
    target = root / "v2" / "blip.json"
    target.write_text('{"BLIP": ')
    return target


def _break_v2_record(root: Path) -> Path:
    target = root / "v2" / "stable_diffusion.json"
    data = json.loads(target.read_text())
    del data["Lantern Anime"]["nsfw"]
    target.write_text(json.dumps(data))
    return target


def _break_csv_encoding(root: Path) -> Path:
    target = root / "legacy" / "text" / "models.csv"
    target.write_bytes(target.read_bytes()[:300] + b"\xff\xfe broken\r\n")
    return target


def _break_csv_number(root: Path) -> Path:
    target = root / "legacy" / "text" / "models.csv"
    text = target.read_text(encoding="utf-8")
    broken = text.replace("Quillworks/Parchment-3B-V2,3,", "Quillworks/Parchment-3B-V2,three,", 1)
    assert broken != text
    target.write_text(broken)
    return target


def _break_legacy_download(root: Path) -> Path:
    target = root / "legacy" / "image" / "esrgan.json"
    data = json.loads(target.read_text())
    first = next(iter(data.values()))
    first["config"]["download"][0]["file_name"] = "no-such-file.pth"
    target.write_text(json.dumps(data))
    return target


def _mix_shapes(root: Path) -> Path:
    """A category file with v2 and legacy entries mixed: neither format, must not be skipped."""
    target = root / "v2" / "blip.json"
    data = json.loads(target.read_text())
    legacy = json.loads((root / "legacy" / "image" / "esrgan.json").read_text())
    data.update(legacy)
    target.write_text(json.dumps(data))
    return target


def _not_an_object(root: Path) -> Path:
    target = root / "v2" / "codeformer.json"
    target.write_text('{"CodeFormers": 5}')
    return target


BREAKERS = {
    "malformed-json": (_break_json, ("v2", "legacy")),
    "invalid-v2-record": (_break_v2_record, ("v2",)),
    "csv-not-utf8": (_break_csv_encoding, ("legacy",)),
    "csv-bad-number": (_break_csv_number, ("legacy",)),
    "legacy-download-without-file": (_break_legacy_download, ("legacy",)),
    "mixed-v2-and-legacy-entries": (_mix_shapes, ("v2", "legacy")),
    "record-not-an-object": (_not_an_object, ("v2",)),
}


@pytest.mark.parametrize("case", sorted(BREAKERS))
def test_bad_file_is_refused_naming_the_file(
    svc: Services, corpus_dir: Path, tmp_path: Path, case: str
) -> None:
    breaker, parts = BREAKERS[case]
    root = writable_copy(corpus_dir, tmp_path, *parts)
    bad = breaker(root)
    before = snapshot(svc)

    with pytest.raises(ValidationFailed) as caught:
        svc.files.import_path(root, IMPORTER)

    assert str(bad) in caught.value.message, caught.value.message
    # All or nothing: the good files were not imported either.
    assert snapshot(svc) == before


def test_missing_path_is_refused(svc: Services, tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="does not exist"):
        svc.files.import_path(tmp_path / "nowhere", IMPORTER)
