"""A client-side deadline for PostgreSQL round trips, for when the network itself hangs.

``statement_timeout`` and ``lock_timeout`` make the *server* give up, but a black-holed
connection (a dead proxy, a half-open TCP path) never delivers the statement nor the server's
answer, and the driver would wait forever. While a statement, a commit or a rollback is in
flight its connection is armed with a deadline; a single thread shuts down the socket of any
connection whose deadline passed, so the blocked call fails at once with a disconnect error,
the pool discards that connection, and the request answers 503 instead of hanging.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any

log = logging.getLogger("modelref.store")


class Watchdog:
    """Deadlines per DBAPI connection; one scanning thread, started on first use."""

    def __init__(self, limit: float, scan_every: float = 0.25) -> None:
        self.limit = limit
        self.scan_every = scan_every
        self._armed: dict[int, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def arm(self, dbapi_conn: Any) -> None:
        """``dbapi_conn`` starts a round trip that must end within ``limit`` seconds."""
        with self._lock:
            self._armed[id(dbapi_conn)] = (time.monotonic() + self.limit, dbapi_conn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._scan, name="db-watchdog", daemon=True)
                self._thread.start()

    def disarm(self, dbapi_conn: Any) -> None:
        with self._lock:
            self._armed.pop(id(dbapi_conn), None)

    def _scan(self) -> None:
        while True:
            time.sleep(self.scan_every)
            now = time.monotonic()
            with self._lock:
                overdue = [
                    (key, conn) for key, (deadline, conn) in self._armed.items() if deadline < now
                ]
                for key, conn in overdue:
                    del self._armed[key]
                    _break(conn)


def _break(dbapi_conn: Any) -> None:
    """Shut the connection's socket down (the fd stays open: the driver closes it)."""
    if getattr(dbapi_conn, "closed", True):
        return
    try:
        fd = dbapi_conn.fileno()
        with socket.socket(fileno=socket.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
        log.error("a database round trip passed its deadline; the connection was broken off")
    except OSError:
        pass  # already gone
