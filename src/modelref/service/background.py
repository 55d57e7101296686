"""What a serving process runs beside its requests: the read-cache refresher, the reaper
(expired leases, expired proposals), the outbox workers and (on PostgreSQL) the catalog watcher
that refreshes the read cache on other instances' writes.

Whoever serves the app starts it (the ASGI lifespan of :func:`modelref.api.app.create_app`),
so every serving process recovers expired reservations and works the outbox; ``modelref
worker`` runs outbox workers alone, in a process of their own.
"""

from __future__ import annotations

from modelref.service.container import Services
from modelref.service.invalidation import CatalogWatcher
from modelref.service.recovery import LeaseReaper


class Background:
    """The reaper thread and the outbox worker threads, started and stopped together."""

    def __init__(self, services: Services) -> None:
        self.services = services
        settings = services.settings
        # Sweep often enough that an expired lease is recovered within about a quarter of it.
        interval = min(settings.reaper_interval, max(0.5, settings.apply_lease_seconds / 4))
        self.reaper = LeaseReaper(
            services.reservations, interval=interval, backlog=services.backlog
        )
        #: PostgreSQL: refresh the read cache the moment another instance writes the catalog.
        self.watcher = (
            CatalogWatcher(services.db.url, services.read_cache)
            if services.db.dialect == "postgresql"
            else None
        )

    def start(self) -> None:
        self.services.read_cache.start()
        self.reaper.start()
        self.services.workers.start()
        if self.watcher is not None:
            self.watcher.start()

    def stop(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
        self.services.workers.stop()
        self.reaper.stop()
        self.services.read_cache.stop()
