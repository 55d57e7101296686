"""Instant read-cache refresh across instances on PostgreSQL (``LISTEN modelref_catalog``).

Every write transaction that changed catalog rows notifies at its commit
(:mod:`modelref.store.notify`). Each serving process runs one :class:`CatalogWatcher` thread
with a dedicated connection; a notification makes it re-read the catalog versions at once, so
the next read serves the new records. If the connection drops, the watcher reconnects with
backoff and refreshes (it may have missed notifications meanwhile); the read cache's interval
check stays as the fallback, and is the only mechanism on SQLite.
"""

from __future__ import annotations

import logging
import threading

from modelref.service.read_cache import ReadCache
from modelref.store.notify import CatalogListener

log = logging.getLogger("modelref.cache")

#: Seconds between reconnection attempts: doubling from the first to the last.
BACKOFF = (0.5, 30.0)


class CatalogWatcher:
    """A thread refreshing ``cache`` whenever another process commits a catalog write."""

    def __init__(self, url: str, cache: ReadCache, wait: float = 0.25) -> None:
        # ``wait`` bounds how long :meth:`stop` waits for the thread (it checks between
        # waits); an idle wake-up is one poll of the socket.
        self.listener = CatalogListener(url)
        self.cache = cache
        self.wait = wait
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Set once the first LISTEN is in place (tests and probes wait on it).
        self.listening = threading.Event()
        self.refreshes = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="catalog-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.listener.close()

    def _run(self) -> None:
        delay = BACKOFF[0]
        while not self._stop.is_set():
            try:
                self.listener.connect()
                self.listening.set()
                self._refresh()  # whatever happened while we were not listening
                delay = BACKOFF[0]
                while not self._stop.is_set():
                    if self.listener.wait(self.wait):
                        self._refresh()
            except Exception as exc:
                self.listening.clear()
                if self._stop.is_set():
                    break
                log.warning("catalog watcher: %s; reconnecting in %.1f s", exc, delay)
                self.cache.invalidate()
                self._stop.wait(delay)
                delay = min(BACKOFF[1], delay * 2)
        self.listener.close()

    def _refresh(self) -> None:
        self.refreshes += 1
        try:
            self.cache.refresh()
        except Exception:
            self.cache.invalidate()  # the next read checks the versions itself
            raise
