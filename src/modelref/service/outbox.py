"""Outbox workers: run after-commit jobs (review checks, publication, webhooks) to completion.

A use case queues a job with ``tx.outbox.add(kind, payload, ...)`` in its own transaction.
Workers (threads in ``modelref serve``, or ``modelref worker`` processes) claim due jobs with a
lease, run the handler registered for the job's kind *outside* any transaction, and record the
outcome in a short transaction that is a compare-and-set on the lease: a worker that died
leaves its job to be claimed again once the lease runs out, and a worker that lost its lease
records nothing. Failures retry with exponential backoff; after ``max_attempts`` a job is
buried (state ``dead``) for inspection and replay.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from modelref.domain.clock import Clock
from modelref.domain.errors import NotFound
from modelref.domain.jobs import JobState, backoff
from modelref.store.database import Database
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.outbox")

DEFAULT_LEASE_SECONDS = 120


class LeaseLost(Exception):
    """The job's lease ran out and another worker may hold it now; stop working on it."""


class PermanentFailure(Exception):
    """Retrying cannot help (bad payload, unknown subject): bury the job at once."""


@dataclass
class Outcome:
    """What a handler achieved: a result to store, and writes to make in the same transaction.

    ``write`` runs in the transaction that marks the job done, so its effects exist exactly
    once, and only if this worker still held the job.
    """

    result: dict[str, Any] | None = None
    write: Callable[[Transaction, int], None] | None = None


@dataclass
class JobContext:
    """Given to a handler: who runs the job, and a way to keep its lease while it works."""

    worker: Worker
    job: Job

    def heartbeat(self) -> None:
        """Extend the lease; raises :class:`LeaseLost` if it already ran out."""
        if not self.worker.extend(self.job):
            raise LeaseLost(f"job {self.job.job_id}: lease lost")


#: Runs one job (outside any transaction) and says what it achieved; raising means "retry".
Handler = Callable[[Job, JobContext], Outcome]


@dataclass
class Worker:
    """Claims and runs jobs of ``handlers``' kinds, one at a time."""

    db: Database
    clock: Clock
    handlers: Mapping[str, Handler]
    lease_seconds: int = DEFAULT_LEASE_SECONDS
    name: str = field(default_factory=lambda: _worker_name())

    def run_once(self, kinds: Collection[str] | None = None) -> bool:
        """Claim one due job and run it; False when nothing was due."""
        wanted = set(kinds or self.handlers) & set(self.handlers)
        if not wanted:
            return False
        now = self.clock()
        with self.db.write() as tx:
            claimed = tx.outbox.claim(wanted, self.name, now, now + self.lease_seconds)
        if not claimed:
            return False
        self._run(claimed[0])
        return True

    def extend(self, job: Job) -> bool:
        now = self.clock()
        with self.db.write() as tx:
            return tx.outbox.extend(job.job_id, self.name, now + self.lease_seconds, now)

    def _run(self, job: Job) -> None:
        if job.attempts > job.max_attempts:
            self._record(job, "bury", f"gave up after {job.max_attempts} attempts")
            return
        try:
            outcome = self.handlers[job.kind](job, JobContext(self, job))
        except LeaseLost:
            log.warning("job %s (%s): lease lost; another worker may run it", job.job_id, job.kind)
            return
        except PermanentFailure as exc:
            self._record(job, "bury", str(exc) or type(exc).__name__)
            return
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if job.attempts >= job.max_attempts:
                self._record(job, "bury", error)
            else:
                self._record(job, "retry", error)
            return
        self._finish(job, outcome)

    def _finish(self, job: Job, outcome: Outcome) -> None:
        now = self.clock()
        with self.db.write() as tx:
            if not tx.outbox.finish(job.job_id, self.name, outcome.result, now):
                log.warning("job %s: lease lost before it finished; result dropped", job.job_id)
                return
            if outcome.write is not None:
                outcome.write(tx, now)

    def _record(self, job: Job, how: str, error: str) -> None:
        now = self.clock()
        with self.db.write() as tx:
            if how == "bury":
                done = tx.outbox.bury(job.job_id, self.name, error, now)
                if done:
                    log.error("job %s (%s) is dead: %s", job.job_id, job.kind, error)
            else:
                retry_at = now + backoff(job.attempts)
                done = tx.outbox.retry(job.job_id, self.name, error, retry_at, now)
                if done:
                    log.warning(
                        "job %s (%s) failed (attempt %d), retrying at %d: %s",
                        job.job_id,
                        job.kind,
                        job.attempts,
                        retry_at,
                        error,
                    )


class WorkerPool:
    """``count`` worker threads; :meth:`wake` makes idle ones look for work at once."""

    def __init__(self, worker: Callable[[int], Worker], count: int, poll: float = 1.0) -> None:
        self.workers = [worker(i) for i in range(count)]
        self.poll = poll
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        """Start the threads (none while no handler is registered: nothing to work on)."""
        if self._threads or not any(w.handlers for w in self.workers):
            return
        self._stop.clear()
        for w in self.workers:
            thread = threading.Thread(target=self._loop, args=(w,), name=w.name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []

    def wake(self) -> None:
        self._wake.set()

    def _loop(self, worker: Worker) -> None:
        while not self._stop.is_set():
            try:
                busy = worker.run_once()
            except Exception:  # the database is down, say: keep the thread, try again
                log.exception("outbox worker %s: claiming failed; will retry", worker.name)
                busy = False
            if not busy:
                self._wake.wait(self.poll)
                self._wake.clear()


class Outbox:
    """Operator views of the outbox: jobs of a subject, dead jobs, replay, counts."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def for_subject(self, subject: str, kinds: Collection[str] | None = None) -> list[Job]:
        with self.db.read() as tx:
            return tx.outbox.for_subject(subject, kinds)

    def dead(self, kinds: Collection[str] | None = None, limit: int = 100) -> list[Job]:
        with self.db.read() as tx:
            return tx.outbox.list({JobState.dead}, kinds, limit)

    def replay(self, job_id: int) -> Job:
        """Give a dead job a fresh attempt budget."""
        with self.db.write() as tx:
            if not tx.outbox.replay(job_id, self.clock()):
                raise NotFound(f"No dead job {job_id}")
            job = tx.outbox.get(job_id)
        assert job is not None
        return job

    def counts(self) -> dict[tuple[str, JobState], int]:
        with self.db.read() as tx:
            return tx.outbox.counts()


def _worker_name() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
