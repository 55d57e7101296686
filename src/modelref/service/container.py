"""One object holding every service of a deployment, built from :class:`Settings`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modelref.service.apply import ApplyEngine
from modelref.service.audit import AuditService
from modelref.service.auth import Authenticator, LocalKeys, build_authenticator
from modelref.service.catalog import CatalogService
from modelref.service.publish import Publisher
from modelref.service.queue import PendingQueueService
from modelref.settings import Settings
from modelref.store import migrate
from modelref.store.database import Database

log = logging.getLogger("modelref")


@dataclass
class Services:
    """The wired-up use cases the API, web UI and CLI call."""

    settings: Settings
    db: Database
    queue: PendingQueueService
    catalog: CatalogService
    apply: ApplyEngine
    audit: AuditService
    auth: Authenticator
    keys: LocalKeys
    publisher: Publisher | None

    @classmethod
    def open(cls, settings: Settings | None = None, *, recover: bool = False) -> Services:
        """Connect, migrate and (with ``recover``) run start-up crash recovery."""
        settings = settings or Settings()
        db = Database(settings.database_url)
        migrate.upgrade(db)
        queue = PendingQueueService(db, settings)
        catalog = CatalogService(db)
        publisher = Publisher(catalog, settings.publish_dir) if settings.publish_dir else None
        catalog.publisher = publisher
        services = cls(
            settings=settings,
            db=db,
            queue=queue,
            catalog=catalog,
            apply=ApplyEngine(queue, publisher),
            audit=AuditService(db),
            auth=build_authenticator(settings, db),
            keys=LocalKeys(db),
            publisher=publisher,
        )
        if recover:
            services.recover()
        return services

    def recover(self) -> dict[str, list[str]]:
        """Start-up recovery: revert stuck APPLYING records, republish lagging files."""
        reverted = self.queue.scan_stuck_applying()
        republished = self.publisher.catch_up() if self.publisher else []
        return {
            "reverted": [str(r.change_id) for r in reverted],
            "republished": [c.value for c in republished],
        }
