"""How an import's rows meet the rows already in the catalog (no I/O).

An import names, per category, the records it holds; records missing from the files are
removed, new ones added, changed ones updated. What the files' format cannot express is never
lost silently:

* **v2 files only** over rows that hold legacy-only data (md5sum, ``download_all``,
  ``available``, ``.yaml`` config entries...): the rows keep it (extras are guarded patches that
  stop applying once the record changes); with ``replace`` it is dropped and reported.
* **legacy files only** over rows with values the legacy format cannot hold (e.g.
  ``known_slow_download: true``, a text model's ``nsfw``): the import is refused naming those
  fields; with ``replace`` it goes ahead and reports them dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from dataclasses import replace as with_fields

from modelref.domain import format_loss
from modelref.domain.categories import Category
from modelref.store.catalog import CatalogRow


@dataclass
class Merge:
    """The rows a category will hold and what that does to the catalog."""

    rows: list[CatalogRow]
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: legacy-only field -> number of records that keep it from the catalog
    kept_fields: dict[str, int] = field(default_factory=dict)
    #: field -> number of records that lose it (``replace`` only)
    dropped_fields: dict[str, int] = field(default_factory=dict)
    #: field -> names of records that would lose it (refused unless ``replace``)
    would_lose: dict[str, list[str]] = field(default_factory=dict)
    changed: bool = False


def merge(
    category: Category,
    existing: list[CatalogRow],
    rows: list[CatalogRow],
    formats: set[str],
    *,
    replace: bool,
) -> Merge:
    """Combine ``rows`` (read from files of ``formats``) with the ``existing`` catalog rows."""
    before = {r.name: r for r in existing}
    kept: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    lose: dict[str, list[str]] = {}
    merged: list[CatalogRow] = []
    for row in rows:
        name, extras = row.name, row.extras
        old = before.get(name)
        if old is not None and "legacy" not in formats and old.extras and not extras:
            fields = format_loss.legacy_only_fields(old.extras)
            if replace:
                dropped.update(fields)
            else:
                kept.update(fields)
                extras = old.extras
        elif old is not None and "v2" not in formats:
            lost = format_loss.fields_legacy_cannot_carry(category, name, old.record, old.extras)
            if replace:
                dropped.update(lost)
            for path in [] if replace else lost:
                lose.setdefault(path, []).append(name)
        merged.append(with_fields(row, extras=extras))

    after = {r.name: (r.content_hash, r.extras) for r in merged}
    result = Merge(
        rows=merged,
        added=[n for n in after if n not in before],
        removed=[n for n in before if n not in after],
        updated=[
            n
            for n, (digest, extras) in after.items()
            if n in before
            and (before[n].content_hash != digest or (before[n].extras or None) != extras)
        ],
        kept_fields=dict(sorted(kept.items())),
        dropped_fields=dict(sorted(dropped.items())),
        would_lose=dict(sorted(lose.items())),
    )
    same_order = [r.name for r in existing] == list(after)
    result.changed = bool(result.added or result.removed or result.updated or not same_order)
    return result


def describe_losses(losses: dict[str, dict[str, list[str]]]) -> str:
    """``image_generation: config.download[].known_slow_download (2 records: A, B)``."""
    parts = []
    for category, fields in losses.items():
        for path, names in fields.items():
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            parts.append(f"{category}: {path} ({len(names)} record(s): {shown})")
    return "; ".join(parts)
