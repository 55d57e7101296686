"""Derived files: write category files atomically after commit, and catch up at start-up.

Each published category has a marker ``.<file>.version`` holding the catalog version the file
was written from, so a restart can tell which files are behind the database.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from modelref.domain.categories import Category
from modelref.service.catalog import CatalogService
from modelref.service.files import atomic_write

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

    def publish(self, categories: Iterable[Category]) -> list[Category]:
        """Write the given categories' files from one consistent snapshot."""
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


def read_json(path: Path) -> object:
    return json.loads(path.read_text(encoding="utf-8"))
