"""One object holding every service of a deployment, wired once from :class:`Settings`.

The wiring that must hold on every edge lives here: the commit listeners (refresh this
process's read cache, republish files) are registered on the database, so an apply or an
import from the API, the reviewer UI, the CLI or the library gets them alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from modelref.domain.clock import Clock, system_clock
from modelref.service.apply import ApplyEngine
from modelref.service.audit import AuditService
from modelref.service.auth import Authenticator, LocalKeys, build_authenticator
from modelref.service.backlog import Backlog
from modelref.service.catalog import CatalogService
from modelref.service.catalog_io import CatalogFiles
from modelref.service.checks.runner import CheckRunner
from modelref.service.checks.service import ReviewChecks
from modelref.service.checks.steps import JOB_KIND as CHECK_JOB
from modelref.service.feed import CatalogFeed
from modelref.service.gitpublish import GitPublisher
from modelref.service.governance import Governance, load_policy
from modelref.service.history import HistoryService
from modelref.service.outbox import Handler, Outbox, Worker, WorkerPool
from modelref.service.publish import Publisher
from modelref.service.read_cache import ReadCache
from modelref.service.reservations import Reservations
from modelref.service.revert import Reverts
from modelref.service.review import ReviewService
from modelref.service.versions import ensure_baseline
from modelref.service.webhooks import Webhooks
from modelref.settings import Settings
from modelref.store import migrate
from modelref.store.database import Database
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref")


@dataclass
class Services:
    """The wired-up use cases the API, web UI and CLI call."""

    settings: Settings
    db: Database
    clock: Clock
    review: ReviewService
    reservations: Reservations
    apply: ApplyEngine
    catalog: CatalogService
    files: CatalogFiles
    audit: AuditService
    history: HistoryService
    auth: Authenticator
    keys: LocalKeys
    read_cache: ReadCache
    publisher: Publisher | None
    outbox: Outbox
    #: Outbox job kind -> handler; the features that queue jobs register theirs in build().
    handlers: dict[str, Handler]
    #: This process's outbox worker threads (started by whoever serves: see ``background``).
    workers: WorkerPool
    #: Review checks of changes (findings, re-runs); their jobs run as ``check`` outbox jobs.
    checks: ReviewChecks
    #: Catalog versions and the change feed; webhooks; git publication (when configured).
    feed: CatalogFeed
    webhooks: Webhooks
    git: GitPublisher | None
    #: The approval policy's read side (who approved, what a change still needs).
    governance: Governance
    reverts: Reverts
    #: Proposal expiry (run by the reaper) and queue statistics.
    backlog: Backlog

    @classmethod
    def open(
        cls, settings: Settings | None = None, *, recover: bool = False, clock: Clock | None = None
    ) -> Services:
        """Connect, migrate and (with ``recover``) run start-up crash recovery."""
        settings = settings or Settings()
        db = Database(
            settings.database_url,
            timeout=settings.db_timeout,
            connect_timeout=settings.db_connect_timeout,
            # Under the upstream policy no approval is recorded, so reads do not look for any.
            approvals=load_policy(settings).quorum,
        )
        migrate.upgrade(db)
        services = cls.build(db, settings, clock or system_clock)
        ensure_baseline(db, services.clock)
        if recover:
            services.recover()
        return services

    @classmethod
    def build(cls, db: Database, settings: Settings, clock: Clock) -> Services:
        """Wire the services on an open, migrated database."""
        catalog = CatalogService(db)
        publisher = Publisher(catalog, settings.publish_dir) if settings.publish_dir else None
        read_cache = ReadCache(catalog, interval=settings.cache_interval)
        keys = LocalKeys(db, clock)
        db.on_commit(read_cache.on_commit)
        if publisher is not None:
            db.on_commit(publisher.on_commit)
        handlers: dict[str, Handler] = {}
        handlers[CHECK_JOB] = CheckRunner(db, settings, clock)  # review checks
        lease = settings.outbox_lease_seconds
        policy = load_policy(settings)  # a bad policy file stops the start here
        review = ReviewService(db, settings, clock, policy)
        workers = WorkerPool(
            lambda _i: Worker(db, clock, handlers, lease_seconds=lease),
            settings.outbox_workers,
            poll=settings.outbox_poll_seconds,
        )
        feed = CatalogFeed(db)
        webhooks = Webhooks(db, settings, clock)
        db.before_commit(webhooks.queue_events)
        handlers["webhook"] = webhooks.deliver
        git = GitPublisher(db, feed, settings, clock) if settings.git_publish_dir else None
        if git is not None:
            db.before_commit(git.queue)
            handlers["git_publish"] = git.handle
        services = cls(
            settings=settings,
            db=db,
            clock=clock,
            review=review,
            reservations=Reservations(db, settings, clock),
            apply=ApplyEngine(db, settings, clock, policy),
            catalog=catalog,
            files=CatalogFiles(db, catalog, clock),
            audit=AuditService(db),
            history=HistoryService(db),
            auth=build_authenticator(settings, keys),
            keys=keys,
            read_cache=read_cache,
            publisher=publisher,
            outbox=Outbox(db, clock),
            handlers=handlers,
            workers=workers,
            checks=ReviewChecks(db, settings, clock),
            feed=feed,
            webhooks=webhooks,
            git=git,
            governance=Governance(db, policy),
            reverts=Reverts(db, review),
            backlog=Backlog(db, settings, clock),
        )
        db.on_commit(services._jobs_queued)
        return services

    def _jobs_queued(self, tx: Transaction) -> None:
        """Commit listener: jobs were queued, so this process's idle workers look now."""
        if tx.queued_jobs:
            self.workers.wake()

    def check_ready(self) -> None:
        """Readiness: the database answers (raises :class:`StorageError` when it does not)."""
        self.db.ping()

    def recover(self) -> dict[str, list[str]]:
        """Start-up recovery: revert reservations whose lease ran out, republish lagging files.

        Only expired leases: another live instance may be applying right now, and its
        reservations are not ours to take. This process's own reservations from before a crash
        expire and are recovered by its reaper (or any instance's).
        """
        reverted = self.reservations.scan_stuck_applying(only_expired=True)
        republished = self.publisher.catch_up() if self.publisher else []
        git_queued = self.git.catch_up() if self.git else None
        return {
            "reverted": [str(r.change_id) for r in reverted],
            "republished": [c.value for c in republished],
            "git_queued": [str(git_queued)] if git_queued else [],
        }
