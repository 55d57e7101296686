"""Derived files: write category files atomically after commit, and catch up at start-up.

The container registers :meth:`Publisher.on_commit` on the database, so every write that
changed catalog rows (an apply or an import, from the API, the UI, the CLI or the library)
republishes those categories once it has committed. Each published category has a marker
``.<category>.version`` holding the catalog version its files were written from, so a restart
can tell which files are behind the database (a crash between commit and publish).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from modelref.domain.categories import Category
from modelref.service.catalog import CatalogService
from modelref.service.files import atomic_write
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.publish")


class Publisher:
    """Keeps ``publish_dir`` in step with the catalog (v2 files, plus legacy where it exists)."""

    def __init__(self, catalog: CatalogService, publish_dir: Path) -> None:
        self.catalog = catalog
        self.dir = publish_dir

    def marker(self, category: Category) -> Path:
        return self.dir / f".{category.value}.version"

    def published_version(self, category: Category) -> int:
        try:
            return int(self.marker(category).read_text().strip())
        except (FileNotFoundError, ValueError):
            return 0

    def on_commit(self, tx: Transaction) -> None:
        """After-commit listener: republish the categories ``tx`` wrote."""
        changed = [Category(c) for c in sorted(tx.changed_categories)]
        if changed:
            self.publish(changed)

    def publish(self, categories: Iterable[Category]) -> list[Category]:
        """Write the given categories' files, each from one consistent snapshot."""
        written = []
        for category in categories:
            files, version = self.catalog.render_files(category)
            for rel, data in files.items():
                atomic_write(self.dir / rel, data)
            atomic_write(self.marker(category), f"{version}\n".encode())
            written.append(category)
        return written

    def catch_up(self) -> list[Category]:
        """Republish every category whose files are behind the database (start-up)."""
        behind = [
            c
            for c, version in self.catalog.versions().items()
            if self.published_version(c) < version
        ]
        for category in behind:
            log.warning("published %s is behind the database; republishing", category.value)
        return self.publish(behind)
