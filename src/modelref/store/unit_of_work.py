"""One transaction as the services see it: repositories bound to it, and after-commit hooks.

A use case opens exactly one (``Database.write()`` or ``Database.read()``), composes its steps
through functions that take the transaction, and registers effects that must wait for the
commit (publish files, refresh a read cache, wake a worker) with :meth:`after_commit`.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from modelref.store.approvals import ApprovalRepository
from modelref.store.audit import AuditRepository
from modelref.store.catalog import CatalogRepository
from modelref.store.checks import ChecksRepository
from modelref.store.counters import Counters
from modelref.store.keys import KeyRepository
from modelref.store.outbox import OutboxRepository
from modelref.store.queue import QueueRepository
from modelref.store.releases import ReleaseRepository
from modelref.store.webhooks import WebhookRepository


class Transaction:
    """The unit of work: ``queue``, ``catalog``, ``audit``, ``outbox``, ``counters``, ``keys``,
    ``approvals``."""

    def __init__(self, conn: Connection, *, writable: bool, approvals: bool = True) -> None:
        self.conn = conn
        self.writable = writable
        #: Categories whose catalog rows this transaction wrote.
        self.changed_categories: set[str] = set()
        self.counters = Counters(conn)
        self.queue = QueueRepository(conn, attach_approvals=approvals)
        self.catalog = CatalogRepository(conn, self.changed_categories)
        self.audit = AuditRepository(conn, self.counters)
        self.keys = KeyRepository(conn)
        self.approvals = ApprovalRepository(conn, self.counters)
        #: Kinds of outbox jobs this transaction queued (workers are woken after commit).
        self.queued_jobs: set[str] = set()
        self.outbox = OutboxRepository(conn, self.counters, self.queued_jobs)
        self.checks = ChecksRepository(conn)  # review checks (service/checks)
        #: Catalog versions and their journal; ``releases.recorded`` lists those written here.
        self.releases = ReleaseRepository(conn, self.counters)
        self.webhooks = WebhookRepository(conn, self.counters)
        self._after: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` once this transaction has committed (never if it rolls back)."""
        self._after.append(fn)

    def committed_callbacks(self) -> list[Callable[[], None]]:
        return list(self._after)
