"""``modelref import`` and ``modelref export``: the catalog to and from reference files.

Import is an audited bootstrap: for each category whose content differs from the catalog it
replaces the category in one transaction (all categories together) and writes one audit event
holding the source files' sha256 and the imported records, so catalog history can be rebuilt
from the log. Unchanged files change nothing: no write, no event, no version bump.

What one format cannot carry is not lost silently (:mod:`modelref.service.import_merge`): v2
files keep the legacy-only fields of the records they name, legacy files that would lose v2
values are refused, and ``replace=True`` accepts the loss, which the report lists.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from modelref.domain import legacy_image, legacy_text, records
from modelref.domain.actors import Actor
from modelref.domain.audit import NewEvent
from modelref.domain.canonical import content_hash
from modelref.domain.categories import V2_FILE_NAMES, Category
from modelref.domain.clock import Clock
from modelref.domain.errors import ValidationFailed
from modelref.domain.formats import detect_format
from modelref.logs import event
from modelref.service import import_merge, versions
from modelref.service.catalog import CatalogService
from modelref.service.files import atomic_write
from modelref.service.rendering import Format
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database

Progress = Callable[[str], None]

log = logging.getLogger("modelref.catalog")

#: File name -> category for the catalog's JSON files (v2 and image-repo names).
_CATEGORY_FILES = {name: cat.value for cat, name in V2_FILE_NAMES.items()}


@dataclass
class SourceFile:
    path: Path
    category: Category
    fmt: str
    data: Any
    sha256: str


@dataclass
class CategoryImport:
    """What importing one category did."""

    category: str
    source: str
    files: list[str]
    records: int
    added: int = 0
    updated: int = 0
    removed: int = 0
    changed: bool = False
    added_models: list[str] = field(default_factory=list)
    updated_models: list[str] = field(default_factory=list)
    removed_models: list[str] = field(default_factory=list)
    #: legacy-only field -> records that kept it (v2 files cannot carry it)
    kept_fields: dict[str, int] = field(default_factory=dict)
    #: field -> records that lost it (only with ``replace``)
    dropped_fields: dict[str, int] = field(default_factory=dict)


@dataclass
class ImportReport:
    categories: list[CategoryImport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        return [c.category for c in self.categories if c.changed]


def scan(path: Path) -> tuple[list[SourceFile], list[str]]:
    """Read every file under ``path`` and classify it; non-catalog files are skipped."""
    if not path.exists():
        raise ValidationFailed(f"path: {path} does not exist")
    candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    found: list[SourceFile] = []
    skipped: list[str] = []
    for file in candidates:
        if file.suffix not in (".json", ".csv"):
            skipped.append(str(file))
            continue
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8")
            data: Any = text if file.suffix == ".csv" else json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValidationFailed(f"{file}: not valid UTF-8 JSON/CSV ({exc})") from None
        kind = detect_format(file.name, data)
        if kind is None:
            if file.name in _CATEGORY_FILES and isinstance(data, dict) and data:
                # A category file we cannot read must not be skipped silently: the import
                # would then quietly keep (or take from another file) stale content.
                raise ValidationFailed(
                    f"{file}: not a v2 or legacy {_CATEGORY_FILES[file.name]} file "
                    "(entries of mixed or unknown shape)"
                )
            skipped.append(str(file))
            continue
        found.append(SourceFile(file, kind[0], kind[1], data, hashlib.sha256(raw).hexdigest()))
    return found, skipped


def _convert_legacy(src: SourceFile) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    if src.category is Category.text_generation:
        if src.path.suffix == ".csv":
            rows = legacy_text.parse_models_csv(src.data)
            return legacy_text.csv_rows_to_v2_with_extras(rows)
        return {k: (v, {}) for k, v in legacy_text.db_json_to_v2(src.data).items()}
    return legacy_image.legacy_image_to_v2(src.category, src.data)


def _source_name(root: Path, file: Path) -> str:
    """The file's path relative to the import root (v2/blip.json vs legacy/image/blip.json)."""
    try:
        rel = file.relative_to(root)
    except ValueError:
        return file.name
    return rel.as_posix() if rel.parts else file.name


def _pick(sources: list[SourceFile], fmt: str) -> SourceFile | None:
    chosen = [s for s in sources if s.fmt == fmt]
    if fmt == "legacy" and len(chosen) > 1:
        csvs = [s for s in chosen if s.path.suffix == ".csv"]  # models.csv is the text source
        chosen = csvs or chosen
    if len(chosen) > 1:
        names = ", ".join(str(s.path) for s in chosen)
        raise ValidationFailed(f"several {fmt} files for {chosen[0].category.value}: {names}")
    return chosen[0] if chosen else None


def plan_category(
    category: Category, sources: list[SourceFile]
) -> tuple[list[CatalogRow], list[SourceFile]]:
    """The rows a category will hold: v2 content wins; legacy files contribute extras."""
    v2 = _pick(sources, "v2")
    legacy = _pick(sources, "legacy")
    try:
        converted = _convert_legacy(legacy) if legacy else {}
    except ValidationFailed as exc:
        assert legacy is not None
        raise ValidationFailed(f"{legacy.path}: {exc.message}") from None
    used = [s for s in (v2, legacy) if s is not None]
    if v2 is not None:
        content = {name: (rec, converted.get(name, ({}, {}))[1]) for name, rec in v2.data.items()}
    else:
        content = converted
    rows = []
    for name, (record, extras) in content.items():
        if not isinstance(record, dict):
            raise ValidationFailed(f"{category.value}/{name}: record must be a JSON object")
        try:
            records.validate_record(category, record)
        except ValidationFailed as exc:
            src = used[0].path if used else category.value
            raise ValidationFailed(f"{src}: model {name!r}: {exc.message}") from None
        digest = content_hash(record)
        assert digest is not None
        rows.append(CatalogRow(category.value, name, record, digest, extras or None))
    return rows, used


class CatalogFiles:
    """``modelref import`` and ``modelref export`` over one database."""

    def __init__(self, db: Database, catalog: CatalogService, clock: Clock) -> None:
        self.db = db
        self.catalog = catalog
        self.clock = clock

    def import_path(
        self,
        path: Path,
        actor: Actor,
        progress: Progress | None = None,
        *,
        replace: bool = False,
    ) -> ImportReport:
        """Load a directory (or file) of v2 and/or legacy reference files into the catalog."""
        return import_path(self.db, path, actor, self.clock(), progress, replace=replace)

    def export(
        self, out_dir: Path, fmt: Format = "v2", progress: Progress | None = None
    ) -> list[Path]:
        """Write every category's files under ``out_dir`` atomically."""
        return export(self.catalog, out_dir, fmt, progress)


def import_path(
    db: Database,
    path: Path,
    actor: Actor,
    now: int,
    progress: Progress | None = None,
    *,
    replace: bool = False,
) -> ImportReport:
    """Load a directory (or file) of v2 and/or legacy reference files into the catalog.

    ``replace``: accept losing fields the files' format cannot carry (see the module doc).
    """
    sources, skipped = scan(path)
    by_category: dict[Category, list[SourceFile]] = {}
    for src in sources:
        by_category.setdefault(src.category, []).append(src)
    report = ImportReport(skipped=skipped)
    plans = []
    for category in Category:
        if category not in by_category:
            continue
        if progress:
            progress(category.value)
        rows, used = plan_category(category, by_category[category])
        plans.append((category, rows, used))
    with db.write() as tx:
        losses: dict[str, dict[str, list[str]]] = {}
        merges = []
        imported = []
        existing_rows = {}
        for category, rows, used in plans:
            existing = existing_rows[category.value] = tx.catalog.rows(category.value)
            formats = {s.fmt for s in used}
            merged = import_merge.merge(category, existing, rows, formats, replace=replace)
            if merged.would_lose:
                losses[category.value] = merged.would_lose
            merges.append((category, used, merged))
        if losses:
            raise ValidationFailed(
                f"{path}: importing these files would lose fields their format cannot carry: "
                f"{import_merge.describe_losses(losses)}. Nothing was imported; import the "
                "v2 and legacy files together, or pass --replace to accept the loss"
            )
        for category, used, merged in merges:
            item = CategoryImport(
                category=category.value,
                source="+".join(s.fmt for s in used),
                files=[str(s.path) for s in used],
                records=len(merged.rows),
                added=len(merged.added),
                updated=len(merged.updated),
                removed=len(merged.removed),
                changed=merged.changed,
                added_models=merged.added,
                updated_models=merged.updated,
                removed_models=merged.removed,
                kept_fields=merged.kept_fields,
                dropped_fields=merged.dropped_fields,
            )
            report.categories.append(item)
            if not item.changed:
                continue
            sha = hashlib.sha256("".join(s.sha256 for s in used).encode()).hexdigest()
            tx.catalog.replace(category.value, merged.rows, now, sha)
            imported.append((category.value, existing_rows[category.value], merged.rows))
            tx.audit.append(
                [
                    NewEvent(
                        timestamp=now,
                        domain="v2",
                        category=category.value,
                        model_name="*",
                        operation="import",
                        action="import",
                        change_id=None,
                        batch_id=None,
                        job_id=None,
                        logical_user_id=actor.user_id,
                        username=actor.username,
                        payload={
                            "files": {_source_name(path, s.path): s.sha256 for s in used},
                            "file_sha256": sha,
                            "added": item.added,
                            "updated": item.updated,
                            "removed": item.removed,
                            "records": {r.name: r.record for r in merged.rows},
                        },
                    )
                ]
            )
        if imported:
            versions.record_import(tx, actor, now, imported)  # an import is a version too
    for item in report.categories:
        if item.changed:
            event(
                log,
                "import",
                f"import {item.category} from {item.source}: {item.added} added, "
                f"{item.updated} updated, {item.removed} removed, {item.records} records "
                f"(by {actor.username})",
                category=item.category,
                source=item.source,
                added=item.added,
                updated=item.updated,
                removed=item.removed,
                records=item.records,
                dropped_fields=item.dropped_fields,
                user_id=actor.user_id,
            )
    return report


def export(
    catalog: CatalogService, out_dir: Path, fmt: Format, progress: Progress | None = None
) -> list[Path]:
    """Write every category's files under ``out_dir`` atomically; returns the paths written."""
    if fmt not in ("v2", "legacy", "both"):
        raise ValidationFailed(f"format: expected v2, legacy or both, got {fmt!r}")
    written: list[Path] = []
    for category in Category:
        if progress:
            progress(category.value)
        files, _version = catalog.render_files(category, fmt)
        for rel, data in files.items():
            target = out_dir / rel
            atomic_write(target, data)
            written.append(target)
    return written
