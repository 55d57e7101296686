"""Lease expiry: a live instance recovers reservations that a crashed instance left behind.

Start-up recovery handles this process's own crash; with several instances on one database a
crash of one instance would otherwise leave its APPLYING records stuck until some instance
restarts. Each instance therefore re-checks every ``interval`` seconds and reverts the
reservations whose lease (``MODELREF_APPLY_LEASE_SECONDS``) has run out. Reverting is always
safe: an apply commits atomically, so an APPLYING record has no catalog write.

Its second duty (with ``MODELREF_PROPOSAL_TTL_DAYS`` set) is backlog hygiene: pending changes
older than the TTL are rejected as ``expired`` (:meth:`Backlog.expire_overdue`). Both duties
are one transaction each and idempotent, so several instances sweeping at once are harmless.
"""

from __future__ import annotations

import logging
import threading

from modelref import metrics
from modelref.domain.errors import ModelrefError
from modelref.service.backlog import Backlog
from modelref.service.reservations import Reservations

log = logging.getLogger("modelref.recovery")


class LeaseReaper:
    """A daemon thread calling ``scan_stuck_applying(only_expired=True)`` periodically, and
    expiring overdue proposals when given a :class:`Backlog`."""

    def __init__(
        self, reservations: Reservations, interval: float = 30.0, backlog: Backlog | None = None
    ) -> None:
        self.reservations = reservations
        self.interval = interval
        self.backlog = backlog
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="lease-reaper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def run_once(self) -> int:
        """One sweep (leases, then expiry); returns how many reservations were reverted."""
        try:
            reverted = len(self.reservations.scan_stuck_applying(only_expired=True))
            metrics.RECOVERED.inc(reverted)
        except ModelrefError:
            log.exception("lease sweep failed; will retry")
            reverted = 0
        self.expire_once()
        return reverted

    def expire_once(self) -> int:
        """Reject pending changes older than the TTL; returns how many expired."""
        if self.backlog is None:
            return 0
        try:
            return len(self.backlog.expire_overdue())
        except ModelrefError:
            log.exception("expiry sweep failed; will retry")
            return 0

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
