"""``import`` / ``export`` on real databases, on the corpus and (real-reference tier) on the
public AI Horde reference.

Proves: every category of the legacy and v2 files loads with the right counts (from each source
alone and from both together); a v2 export re-imported into a fresh database gives the same
content hash for every record; re-importing unchanged files writes nothing; the legacy exports
reproduce the text db.json (with its backend-prefixed keys) and every image-repo file field for
field; import writes one audit event per category carrying the source files' sha256; the audit
log replays to the catalog. Bad files: ``test_import_refusals.py``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modelref.domain.categories import LEGACY_CATEGORIES, V2_FILE_NAMES, Category
from modelref.domain.errors import ValidationFailed
from modelref.service.container import Services
from tests.catalog.helpers import (
    IMPORTER,
    assert_consistent,
    assert_published,
    open_services,
    snapshot,
    writable_copy,
)
from tests.conftest import copy_sqlite, is_reference
from tests.corpus import DB_JSON_KEYS, LEGACY_COUNTS, SKIPPED_LEGACY, V2_COUNTS

#: Records per category in the public reference (shared/data/README.md, category table).
REFERENCE_COUNTS = {
    Category.image_generation: 161,
    Category.text_generation: 719,
    Category.blip: 2,
    Category.clip: 2,
    Category.codeformer: 1,
    Category.controlnet: 18,
    Category.esrgan: 6,
    Category.gfpgan: 1,
    Category.safety_checker: 1,
    Category.miscellaneous: 2,
}

#: Image-repo files that hold a category (the rest of legacy/image is obsolete or empty).
IMAGE_REPO_FILES = {
    c: V2_FILE_NAMES[c] for c in LEGACY_CATEGORIES if c is not Category.text_generation
}

#: Names every import must bring in (one per kind of key: spaces, an org slash, a slash key).
SPOT_CHECKS = {
    "corpus": ("Lantern Anime", "Quillworks/Archivist-65b", "ViT-Q/16"),
    "reference": ("CyriousMix", "Aeala/Enterredaas-65b", "ViT-L/14"),
}

SOURCES = ["legacy", "v2", "both"]


def source_dir(root: Path, source: str) -> Path:
    return root if source == "both" else root / source


def expected_counts(root: Path, source: str) -> dict[Category, int]:
    """Records per category an import of ``source`` under ``root`` must load."""
    if is_reference(root):
        return REFERENCE_COUNTS  # upstream writes no v2 file for the v2-only categories
    return LEGACY_COUNTS if source == "legacy" else V2_COUNTS


@pytest.fixture
def svc(sqlite_url: str) -> Iterator[Services]:
    services = open_services(sqlite_url)
    yield services
    services.db.dispose()


@pytest.fixture
def any_db(db_url: str) -> Iterator[Services]:
    services = open_services(db_url)
    yield services
    services.db.dispose()


@pytest.fixture
def fresh(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[[str], Services]]:
    """``fresh(name)``: another empty database (disposed at the end of the test)."""
    opened: list[Services] = []

    def make(name: str) -> Services:
        target = copy_sqlite(sqlite_template, tmp_path / f"{name}.db")
        opened.append(open_services(f"sqlite:///{target}"))
        return opened[-1]

    yield make
    for services in opened:
        services.db.dispose()


def hashes(svc: Services) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for category in Category:
        rows, _version = svc.catalog.stored(category)
        out[category.value] = {r.name: r.content_hash for r in rows}
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------- counts


@pytest.mark.parametrize("source", SOURCES)
def test_every_category_loads_with_its_count(any_db: Services, data_dir: Path, source: str) -> None:
    report = any_db.files.import_path(source_dir(data_dir, source), IMPORTER)

    counts = expected_counts(data_dir, source)
    loaded = {Category(c.category): c.records for c in report.categories}
    assert loaded == counts
    for category in Category:
        records, version = any_db.catalog.records(category)
        assert len(records) == counts.get(category, 0), category.value
        assert version == (1 if category in counts else 0), category.value
    for item in report.categories:
        both = "v2+legacy" if Category(item.category) in LEGACY_CATEGORIES else "v2"
        assert item.source == {"legacy": "legacy", "v2": "v2", "both": both}[source], item
    # Spot checks of the names, including a slash in a utility key.
    image, text, clip = SPOT_CHECKS["reference" if is_reference(data_dir) else "corpus"]
    assert image in any_db.catalog.records(Category.image_generation)[0]
    assert text in any_db.catalog.records(Category.text_generation)[0]
    assert clip in any_db.catalog.records(Category.clip)[0]
    assert_consistent(any_db)


def test_obsolete_and_helper_files_are_skipped_not_imported(svc: Services, data_dir: Path) -> None:
    report = svc.files.import_path(data_dir / "legacy", IMPORTER)
    skipped = {Path(p).name for p in report.skipped}
    assert skipped >= SKIPPED_LEGACY
    # The text source is models.csv (db.json is generated from it), as upstream's converter.
    text = next(c for c in report.categories if c.category == "text_generation")
    assert [Path(f).name for f in text.files] == ["models.csv"]


def test_legacy_and_v2_sources_give_the_same_records(
    fresh: Callable[[str], Services], data_dir: Path
) -> None:
    """Our legacy converter reproduces the v2 files record for record (upstream's own output in
    the public reference)."""
    from_legacy = fresh("legacy")
    from_v2 = fresh("v2")
    from_legacy.files.import_path(data_dir / "legacy", IMPORTER)
    from_v2.files.import_path(data_dir / "v2", IMPORTER)
    legacy, v2 = hashes(from_legacy), hashes(from_v2)
    for category in Category:
        if category not in LEGACY_CATEGORIES:
            assert legacy[category.value] == {}
            v2[category.value] = {}
    assert legacy == v2


# ---------------------------------------------------------------------- round trips


@pytest.mark.parametrize("source", SOURCES)
def test_v2_export_reimported_into_fresh_db_has_identical_hashes(
    fresh: Callable[[str], Services], tmp_path: Path, data_dir: Path, source: str
) -> None:
    first = fresh("first")
    first.files.import_path(source_dir(data_dir, source), IMPORTER)
    out = tmp_path / "export"
    written = first.files.export(out, "v2")
    assert {p.relative_to(out).as_posix() for p in written} == {
        f"v2/{name}" for name in V2_FILE_NAMES.values()
    }

    second = fresh("second")
    second.files.import_path(out, IMPORTER)
    assert hashes(second) == hashes(first)
    total = sum(expected_counts(data_dir, source).values())
    assert sum(len(v) for v in hashes(second).values()) == total
    # Same order too: a second export is byte-identical.
    again = tmp_path / "again"
    second.files.export(again, "v2")
    for path in written:
        assert (again / path.relative_to(out)).read_bytes() == path.read_bytes(), path.name


def test_both_export_reimported_keeps_legacy_only_fields(
    fresh: Callable[[str], Services], tmp_path: Path, data_dir: Path
) -> None:
    """Exporting v2+legacy and importing that keeps what v2 has no place for (extras)."""
    first = fresh("first")
    first.files.import_path(data_dir, IMPORTER)
    out = tmp_path / "export"
    first.files.export(out, "both")
    second = fresh("second")
    second.files.import_path(out, IMPORTER)
    assert snapshot(second).catalog == snapshot(first).catalog
    exported = json.loads((out / "legacy/image/stable_diffusion.json").read_text())
    source = json.loads((data_dir / "legacy/image/stable_diffusion.json").read_text())
    with_fns = sum("features_not_supported" in e for e in source.values())
    assert with_fns == (36 if is_reference(data_dir) else 3)
    assert sum("features_not_supported" in e for e in exported.values()) == with_fns


@pytest.mark.parametrize("source", SOURCES)
def test_reimport_of_unchanged_files_changes_nothing(
    any_db: Services, corpus_dir: Path, source: str
) -> None:
    path = source_dir(corpus_dir, source)
    any_db.files.import_path(path, IMPORTER)
    before = snapshot(any_db)

    report = any_db.files.import_path(path, IMPORTER)

    assert report.changed == []
    assert all(c.added == c.removed == c.updated == 0 for c in report.categories)
    after = snapshot(any_db)
    assert after.events == before.events  # no audit event
    assert after.versions == before.versions  # no version bump
    assert after.catalog == before.catalog


def test_changed_file_reimports_only_that_category(
    svc: Services, corpus_dir: Path, tmp_path: Path
) -> None:
    root = writable_copy(corpus_dir, tmp_path, "v2")
    svc.files.import_path(root, IMPORTER)
    before = snapshot(svc)
    sd = root / "v2" / "stable_diffusion.json"
    data = json.loads(sd.read_text())
    data["Lantern Anime"]["nsfw"] = True
    del data["Saffron Realism"]
    sd.write_text(json.dumps(data, indent=4))

    report = svc.files.import_path(root, IMPORTER)

    assert report.changed == ["image_generation"]
    item = next(c for c in report.categories if c.category == "image_generation")
    total = V2_COUNTS[Category.image_generation] - 1
    assert (item.added, item.updated, item.removed, item.records) == (0, 1, 1, total)
    after = snapshot(svc)
    assert after.versions == {**before.versions, "image_generation": 2}
    new = after.events[len(before.events) :]
    assert [(e.category, e.action) for e in new] == [("image_generation", "import")]
    assert new[0].payload["files"] == {"v2/stable_diffusion.json": sha256_file(sd)}
    assert svc.catalog.records(Category.image_generation)[0]["Lantern Anime"]["nsfw"] is True
    assert_consistent(svc)


# ---------------------------------------------------------------------- legacy exports


@pytest.mark.parametrize("source", SOURCES)
def test_legacy_text_export_reproduces_the_db_json(
    svc: Services, data_dir: Path, tmp_path: Path, source: str
) -> None:
    svc.files.import_path(source_dir(data_dir, source), IMPORTER)
    out = tmp_path / "out"
    svc.files.export(out, "legacy")

    exported = json.loads((out / "legacy/text/db.json").read_text(encoding="utf-8"))
    real = json.loads((data_dir / "legacy/text/db.json").read_text(encoding="utf-8"))
    assert len(exported) == (2157 if is_reference(data_dir) else DB_JSON_KEYS)
    assert exported == real
    assert list(exported) == list(real)  # key order as convert.py writes it
    names = len(exported) // 3
    base = [k for k in exported if not k.startswith(("aphrodite/", "koboldcpp/"))]
    assert len(base) == names
    assert sum(k.startswith("aphrodite/") for k in exported) == names
    assert sum(k.startswith("koboldcpp/") for k in exported) == names
    # The view served to v1 readers is the same object.
    assert svc.catalog.legacy_view(Category.text_generation) == real


def test_legacy_text_export_keeps_every_csv_row_once(
    svc: Services, data_dir: Path, tmp_path: Path
) -> None:
    svc.files.import_path(data_dir / "legacy", IMPORTER)
    out = tmp_path / "out"
    svc.files.export(out, "legacy")

    rows = read_csv(out / "legacy/text/models.csv")
    real = read_csv(data_dir / "legacy/text/models.csv")
    assert len(rows) == len({r["name"] for r in real}) < len(real)  # repeated names: last wins
    last_real = {r["name"]: r for r in real}
    assert {r["name"]: r for r in rows} == last_real


def test_image_legacy_export_round_trips_every_field(
    svc: Services, data_dir: Path, tmp_path: Path
) -> None:
    svc.files.import_path(data_dir / "legacy", IMPORTER)
    out = tmp_path / "out"
    svc.files.export(out, "legacy")

    for category, file_name in sorted(IMAGE_REPO_FILES.items()):
        exported = json.loads((out / "legacy/image" / file_name).read_text(encoding="utf-8"))
        real = json.loads((data_dir / "legacy/image" / file_name).read_text(encoding="utf-8"))
        assert len(exported) == expected_counts(data_dir, "legacy")[category], file_name
        assert exported == real, file_name
        assert list(exported) == list(real), file_name
        for name, entry in real.items():
            assert list(exported[name]) == list(entry), f"{file_name}: key order of {name!r}"


def test_export_both_writes_every_file_atomically(
    svc: Services, corpus_dir: Path, tmp_path: Path
) -> None:
    svc.files.import_path(corpus_dir / "legacy", IMPORTER)  # no v2-only category yet
    empty = tmp_path / "empty"
    svc.files.export(empty, "v2")
    # Categories without records still get an (empty) v2 file, like upstream's start-up.
    assert json.loads((empty / "v2/lora.json").read_text()) == {}

    svc.files.import_path(corpus_dir, IMPORTER)
    out = tmp_path / "out"
    written = svc.files.export(out, "both")
    rel = {p.relative_to(out).as_posix() for p in written}
    assert {f"v2/{n}" for n in V2_FILE_NAMES.values()} <= rel
    assert {f"legacy/image/{n}" for n in IMAGE_REPO_FILES.values()} <= rel
    assert {"legacy/text/models.csv", "legacy/text/db.json"} <= rel
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    assert json.loads((out / "v2/lora.json").read_text()) == json.loads(
        (corpus_dir / "v2/lora.json").read_text()
    )
    with pytest.raises(ValidationFailed, match="format"):
        svc.files.export(out, "yaml")  # type: ignore[arg-type]


def test_import_publishes_the_changed_categories(
    sqlite_url: str, tmp_path: Path, corpus_dir: Path
) -> None:
    """Published files are derived from the database right after every commit, imports too."""
    publish = tmp_path / "publish"
    svc = open_services(sqlite_url, publish)
    root = writable_copy(corpus_dir, tmp_path, "v2")
    svc.files.import_path(root, IMPORTER)
    assert_published(svc, publish)
    stamps = {p: p.stat().st_mtime_ns for p in publish.rglob("*") if p.is_file()}

    esrgan = root / "v2" / "esrgan.json"
    data = json.loads(esrgan.read_text())
    data.popitem()
    esrgan.write_text(json.dumps(data))
    svc.files.import_path(root, IMPORTER)

    assert_published(svc, publish)
    rewritten = {
        p.relative_to(publish).as_posix()
        for p, stamp in stamps.items()
        if p.stat().st_mtime_ns != stamp
    }
    assert rewritten == {"v2/esrgan.json", "legacy/image/esrgan.json", ".esrgan.version"}
    assert len(json.loads((publish / "v2/esrgan.json").read_text())) == 2
    svc.db.dispose()


# ---------------------------------------------------------------------- audit


def test_one_import_event_per_category_with_the_files_sha256(
    any_db: Services, corpus_dir: Path
) -> None:
    report = any_db.files.import_path(corpus_dir, IMPORTER)
    events = [e for e in any_db.audit.events() if e.action == "import"]

    assert sorted(e.category for e in events) == sorted(c.value for c in V2_COUNTS)
    by_category = {e.category: e for e in events}
    for item in report.categories:
        event = by_category[item.category]
        used = [Path(f) for f in item.files]
        # the v2 file and the legacy file (only the v2 file for the v2-only categories)
        assert len(used) == (2 if Category(item.category) in LEGACY_CATEGORIES else 1)
        # Every source file is named once with its own sha256 (v2/blip.json and
        # legacy/image/blip.json share a base name, so a name alone would lose one of them).
        assert sorted(event.payload["files"].values()) == sorted(sha256_file(p) for p in used)
        assert len(event.payload["files"]) == len(used)
        assert event.logical_user_id == IMPORTER.user_id
        assert event.username == IMPORTER.username
        assert len(event.payload["records"]) == V2_COUNTS[Category(item.category)]
    assert_consistent(any_db)


def test_replay_catalog_follows_imports_and_reimports(
    svc: Services, corpus_dir: Path, tmp_path: Path
) -> None:
    svc.files.import_path(corpus_dir / "v2", IMPORTER)
    svc.files.import_path(corpus_dir / "legacy", IMPORTER)
    root = writable_copy(corpus_dir, tmp_path, "v2")
    blip = root / "v2" / "blip.json"
    data = json.loads(blip.read_text())
    first = next(iter(data))
    data[first]["description"] = "changed by the test"
    blip.write_text(json.dumps(data))
    svc.files.import_path(root, IMPORTER)

    replayed = svc.audit.replay_catalog()
    for category in Category:
        records, _version = svc.catalog.records(category)
        assert replayed.get(category.value, {}) == records
    assert replayed["blip"][first]["description"] == "changed by the test"
    assert svc.audit.verify().ok
