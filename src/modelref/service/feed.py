"""Reads of catalog versions: manifests, the change feed, and a category at an older version.

A reader that knows version N asks for ``changes(since=N)`` and applies each change to its
copy of the change's category (``after`` replaces the record, ``None`` removes it, an
``import`` replaces the whole category with ``after``), page after page until ``next`` is
None. Pages hold whole versions, so every ``version`` a page reports is a state the catalog
really had; ``limit`` is exceeded only by a single version larger than it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from modelref.domain.canonical import content_hash
from modelref.domain.errors import NotFound, ValidationFailed
from modelref.domain.releases import Release, Row, state_at
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class FeedPage:
    """Changes after ``since`` up to ``version``; ``next`` is the ``since`` of the next page."""

    since: int
    version: int
    latest: int
    changes: list[dict[str, Any]]
    next: int | None

    def wire(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "version": self.version,
            "latest": self.latest,
            "changes": self.changes,
            "next": self.next,
        }


class CatalogFeed:
    """Catalog versions as readers and the git publisher see them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def latest(self) -> Release:
        with self.db.read() as tx:
            release = tx.releases.latest()
        if release is None:
            raise NotFound("The catalog has no version yet")
        return release

    def latest_version(self) -> int:
        with self.db.read() as tx:
            return tx.releases.latest_version()

    def manifest(self, version: int) -> Release:
        with self.db.read() as tx:
            release = tx.releases.get(version)
        if release is None:
            raise NotFound(f"Catalog version {version} does not exist")
        return release

    def changes(self, since: int, limit: int = DEFAULT_LIMIT) -> FeedPage:
        """The applied changes after version ``since``, whole versions, about ``limit`` of them."""
        if since < 0:
            raise ValidationFailed("since: must be >= 0")
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationFailed(f"limit: must be between 1 and {MAX_LIMIT}")
        with self.db.read() as tx:
            latest = tx.releases.latest_version()
            if since > latest:
                raise NotFound(f"Catalog version {since} does not exist (latest is {latest})")
            upto, total = since, 0
            for version, size in tx.releases.sizes_after(since, limit):
                if upto > since and total + size > limit:
                    break
                upto, total = version, total + size
            entries = tx.releases.changes(since, upto) if upto > since else []
        latest = max(latest, upto)
        return FeedPage(
            since=since,
            version=upto,
            latest=latest,
            changes=[e.change() for e in entries],
            next=upto if upto < latest else None,
        )

    def state_at(self, version: int, categories: list[str]) -> dict[str, list[CatalogRow]]:
        """Each category's rows (with legacy extras) as they were at ``version``."""
        found: dict[str, list[CatalogRow]] = {}
        with self.db.read() as tx:
            for category in categories:
                rows = tx.catalog.rows(category)
                live = [(r.name, Row(r.record, r.extras, r.position)) for r in rows]
                state = state_at(live, tx.releases.undo_log(category, version))
                found[category] = [
                    CatalogRow(category, name, r.record, _hash(r.record), r.extras, r.position)
                    for name, r in state.ordered()
                ]
        return found


def _hash(record: dict[str, Any]) -> str:
    digest = content_hash(record)
    assert digest is not None
    return digest
