"""What a serving process runs beside its requests: the reaper (expired leases, expired
proposals) and the outbox workers.

Whoever serves the app starts it (the ASGI lifespan of :func:`modelref.api.app.create_app`),
so every serving process recovers expired reservations and works the outbox; ``modelref
worker`` runs outbox workers alone, in a process of their own.
"""

from __future__ import annotations

from modelref.service.container import Services
from modelref.service.recovery import LeaseReaper


class Background:
    """The reaper thread and the outbox worker threads, started and stopped together."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.reaper = LeaseReaper(
            services.reservations,
            interval=services.settings.reaper_interval,
            backlog=services.backlog,
        )

    def start(self) -> None:
        self.reaper.start()
        self.services.workers.start()

    def stop(self) -> None:
        self.services.workers.stop()
        self.reaper.stop()
