"""Lease expiry: a live instance recovers reservations that a crashed instance left behind.

Start-up recovery handles this process's own crash; with several instances on one database a
crash of one instance would otherwise leave its APPLYING records stuck until some instance
restarts. Each instance therefore re-checks every ``interval`` seconds and reverts the
reservations whose lease (``MODELREF_APPLY_LEASE_SECONDS``) has run out. Reverting is always
safe: an apply commits atomically, so an APPLYING record has no catalog write.
"""

from __future__ import annotations

import logging
import threading

from modelref import metrics
from modelref.domain.errors import ModelrefError
from modelref.service.reservations import Reservations

log = logging.getLogger("modelref.recovery")


class LeaseReaper:
    """A daemon thread calling ``scan_stuck_applying(only_expired=True)`` periodically."""

    def __init__(self, reservations: Reservations, interval: float = 30.0) -> None:
        self.reservations = reservations
        self.interval = interval
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
        """One sweep; returns how many reservations were reverted."""
        try:
            reverted = len(self.reservations.scan_stuck_applying(only_expired=True))
            metrics.RECOVERED.inc(reverted)
            return reverted
        except ModelrefError:
            log.exception("lease sweep failed; will retry")
            return 0

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()
