"""The ``check`` outbox handler: run the model-file checks of one change, record them once.

It runs outside any transaction. Progress (the bytes hashed so far) is written with the
job's heartbeat, so the API and the UI show it live; the findings are written by the
outcome, in the transaction that marks the job done (a compare-and-set on the lease and on
the run's job id), so a result is recorded exactly once and never by a worker that lost its
job or whose run was superseded by a re-run.
"""

from __future__ import annotations

import logging
import time

from modelref.domain import checks
from modelref.domain.address_policy import AddressPolicy
from modelref.domain.checks import CheckState, Finding, Severity
from modelref.domain.clock import Clock
from modelref.service.checks import steps
from modelref.service.checks.fetch import Budget, Fetcher, Limits
from modelref.service.checks.probe import FileReport, Prober
from modelref.service.outbox import JobContext, Outcome, PermanentFailure
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.checks")


class NetworkTrouble(Exception):
    """Some downloads could not be reached; the job retries with backoff."""


class Superseded(Exception):
    """A re-run replaced this job's run: stop, record nothing."""


class Beat:
    """Keeps the job's lease and writes its progress, at most every ``interval`` seconds."""

    def __init__(self, runner: CheckRunner, job: Job, ctx: JobContext, change_id: int) -> None:
        self.runner = runner
        self.job = job
        self.ctx = ctx
        self.change_id = change_id
        self.interval = max(0.2, min(2.0, runner.settings.outbox_lease_seconds / 4))
        self.last = time.monotonic()

    def __call__(self, field: str, done: int, total: int | None) -> None:
        if time.monotonic() - self.last < self.interval:
            return
        self.last = time.monotonic()
        self.ctx.heartbeat()  # raises LeaseLost: the worker drops the job
        self.runner.write_progress(self.change_id, self.job.job_id, field, done, total)


class CheckRunner:
    """The handler registered for ``check`` jobs."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.fetcher = Fetcher(AddressPolicy.parse(settings.check_allow_hosts), Limits.of(settings))
        self.prober = Prober(self.fetcher, settings)

    def __call__(self, job: Job, ctx: JobContext) -> Outcome:
        try:
            change_id = int(job.payload["change_id"])
        except (KeyError, TypeError, ValueError):
            raise PermanentFailure(f"check job {job.job_id}: no change id in its payload") from None
        with self.db.write() as tx:
            started = tx.checks.start(change_id, job.job_id, job.attempts, self.clock())
            change = tx.queue.get(change_id) if started else None
        if not started:
            return Outcome(result={"superseded": True})
        if change is None:
            gone = checks.finding("checker", Severity.info, "config", "the change was purged")
            return self._outcome(job, change_id, CheckState.done, [gone])
        record = steps.proposed_record(change)
        budget = Budget(self.fetcher.limits)
        beat = Beat(self, job, ctx, change_id)
        try:
            reports = [self.prober.check(d, budget, beat) for d in checks.downloads(record)]
        except Superseded:
            return Outcome(result={"superseded": True})
        findings = [f for r in reports for f in r.findings] + _record_size(record, reports)
        trouble = [r.unreachable for r in reports if r.unreachable]
        if trouble and job.attempts < self.settings.check_attempts:
            raise NetworkTrouble("; ".join(trouble))
        state = CheckState.unchecked if trouble else CheckState.done
        return self._outcome(job, change_id, state, findings)

    def _outcome(
        self, job: Job, change_id: int, state: CheckState, findings: list[Finding]
    ) -> Outcome:
        def write(tx: Transaction, now: int) -> None:
            if not tx.checks.finish(change_id, job.job_id, state, findings, job.attempts, now):
                log.info("checks of change %s: job %s was superseded", change_id, job.job_id)

        errors = sum(1 for f in findings if f.severity is Severity.error)
        return Outcome(result={"state": state.value, "errors": errors}, write=write)

    def write_progress(
        self, change_id: int, job_id: int, field: str, done: int, total: int | None
    ) -> None:
        with self.db.write() as tx:
            current = tx.checks.progress(change_id, job_id, field, done, total, self.clock())
        if not current:
            raise Superseded(f"change {change_id}: job {job_id} was superseded")


def _record_size(record: dict[str, object] | None, reports: list[FileReport]) -> list[Finding]:
    """Compare the record's ``size_on_disk_bytes`` with the bytes its files are served with."""
    stated = checks.stated_size(record)
    if stated is None or not reports:
        return []
    sizes = [r.size for r in reports]
    if any(r.unreachable for r in reports):
        return []
    if None in sizes:
        text = "not compared: the server did not tell every file's size"
        return [checks.finding(checks.SIZE, Severity.info, "size_on_disk_bytes", text)]
    problem = checks.size_problem(sum(s for s in sizes if s is not None), stated)
    if problem is None:
        return []
    return [checks.finding(checks.SIZE, Severity.error, "size_on_disk_bytes", problem)]
