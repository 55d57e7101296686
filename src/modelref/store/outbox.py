"""SQL for the outbox: jobs inserted with the change that causes them, claimed under a lease.

Claiming is ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers never wait on each other's
rows) and runs under the write lock on SQLite. Every state change after the claim is a
compare-and-set on (job, worker, running), so a worker whose lease ran out and whose job was
claimed again cannot record a result.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, or_, select, update

from modelref.domain.jobs import DEFAULT_MAX_ATTEMPTS, JobState
from modelref.store.counters import Counters
from modelref.store.prepared import Prepared
from modelref.store.tables import outbox_jobs

J = outbox_jobs
JOB_COUNTER = "outbox_job"
_INSERT = Prepared(insert(J), [c.name for c in J.c])  # enqueues add a job each


@dataclass(frozen=True)
class Job:
    job_id: int
    kind: str
    subject: str | None
    payload: dict[str, Any]
    state: JobState
    attempts: int
    max_attempts: int
    run_after: int
    lease_expires_at: int | None
    worker: str | None
    last_error: str | None
    result: dict[str, Any] | None
    created_at: int
    updated_at: int


def _job(row: Row[Any]) -> Job:
    data = dict(row._mapping)
    data["payload"] = json.loads(data["payload"])
    data["result"] = json.loads(data["result"]) if data["result"] else None
    data["state"] = JobState(data["state"])
    return Job(**data)


class OutboxRepository:
    """Outbox jobs of one transaction; ``added`` collects the kinds this transaction queued."""

    def __init__(self, conn: Connection, counters: Counters, added: set[str]) -> None:
        self.conn = conn
        self.counters = counters
        self.added = added

    def add(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        now: int,
        subject: str | None = None,
        run_after: int | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> int:
        """Queue a job; it runs only if this transaction commits."""
        job_id = self.counters.next(JOB_COUNTER)
        _INSERT.run(
            self.conn,
            {
                "job_id": job_id,
                "kind": kind,
                "subject": subject,
                "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                "state": JobState.pending.value,
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_after": now if run_after is None else run_after,
                "lease_expires_at": None,
                "worker": None,
                "last_error": None,
                "result": None,
                "created_at": now,
                "updated_at": now,
            },
        )
        self.added.add(kind)
        return job_id

    def add_many(
        self,
        kind: str,
        jobs: list[tuple[dict[str, Any], str | None]],
        *,
        now: int,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> list[int]:
        """Queue several jobs of one kind, (payload, subject) each, in two statements."""
        if not jobs:
            return []
        ids = list(self.counters.take(JOB_COUNTER, len(jobs)))
        self.conn.execute(
            insert(J),
            [
                {
                    "job_id": job_id,
                    "kind": kind,
                    "subject": subject,
                    "payload": json.dumps(payload, ensure_ascii=False, sort_keys=True),
                    "state": JobState.pending.value,
                    "attempts": 0,
                    "max_attempts": max_attempts,
                    "run_after": now,
                    "created_at": now,
                    "updated_at": now,
                }
                for job_id, (payload, subject) in zip(ids, jobs, strict=True)
            ],
        )
        self.added.add(kind)
        return ids

    def claim(
        self, kinds: Collection[str], worker: str, now: int, lease_until: int, limit: int = 1
    ) -> list[Job]:
        """Take up to ``limit`` due jobs: pending ones whose time came, or expired leases."""
        due = or_(
            and_(J.c.state == JobState.pending.value, J.c.run_after <= now),
            and_(J.c.state == JobState.running.value, J.c.lease_expires_at < now),
        )
        q = (
            select(J.c.job_id)
            .where(J.c.kind.in_(sorted(kinds)), due)
            .order_by(J.c.run_after, J.c.job_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = [int(v) for v in self.conn.execute(q).scalars()]
        if not ids:
            return []
        self.conn.execute(
            update(J)
            .where(J.c.job_id.in_(ids))
            .values(
                state=JobState.running.value,
                worker=worker,
                lease_expires_at=lease_until,
                attempts=J.c.attempts + 1,
                updated_at=now,
            )
        )
        return self.get_many(ids)

    def _held(self, job_id: int, worker: str) -> Any:
        return and_(J.c.job_id == job_id, J.c.worker == worker, J.c.state == JobState.running.value)

    def extend(self, job_id: int, worker: str, lease_until: int, now: int) -> bool:
        """Keep a long job's lease; False when the lease was lost."""
        q = update(J).where(self._held(job_id, worker))
        result = self.conn.execute(q.values(lease_expires_at=lease_until, updated_at=now))
        return result.rowcount == 1

    def finish(self, job_id: int, worker: str, result: dict[str, Any] | None, now: int) -> bool:
        """running -> done with its result; False (nothing written) when the lease was lost."""
        values: dict[str, Any] = {
            "state": JobState.done.value,
            "result": json.dumps(result, ensure_ascii=False, sort_keys=True) if result else None,
            "lease_expires_at": None,
            "last_error": None,
            "updated_at": now,
        }
        return (
            self.conn.execute(update(J).where(self._held(job_id, worker)).values(**values)).rowcount
            == 1
        )

    def retry(self, job_id: int, worker: str, error: str, run_after: int, now: int) -> bool:
        """running -> pending again, not before ``run_after``."""
        values = {
            "state": JobState.pending.value,
            "run_after": run_after,
            "lease_expires_at": None,
            "last_error": error[:2000],
            "updated_at": now,
        }
        return (
            self.conn.execute(update(J).where(self._held(job_id, worker)).values(**values)).rowcount
            == 1
        )

    def bury(self, job_id: int, worker: str | None, error: str, now: int) -> bool:
        """running -> dead: kept for inspection and replay, never run again by itself."""
        cond = (
            self._held(job_id, worker)
            if worker is not None
            else and_(J.c.job_id == job_id, J.c.state == JobState.running.value)
        )
        values = {
            "state": JobState.dead.value,
            "lease_expires_at": None,
            "last_error": error[:2000],
            "updated_at": now,
        }
        return self.conn.execute(update(J).where(cond).values(**values)).rowcount == 1

    def replay(self, job_id: int, now: int) -> bool:
        """dead -> pending with a fresh attempt budget."""
        q = update(J).where(J.c.job_id == job_id, J.c.state == JobState.dead.value)
        values = {
            "state": JobState.pending.value,
            "attempts": 0,
            "run_after": now,
            "updated_at": now,
        }
        return self.conn.execute(q.values(**values)).rowcount == 1

    def get(self, job_id: int) -> Job | None:
        row = self.conn.execute(select(J).where(J.c.job_id == job_id)).first()
        return _job(row) if row is not None else None

    def get_many(self, job_ids: Iterable[int]) -> list[Job]:
        q = select(J).where(J.c.job_id.in_(sorted(set(job_ids)))).order_by(J.c.job_id)
        return [_job(r) for r in self.conn.execute(q)]

    def for_subject(self, subject: str, kinds: Collection[str] | None = None) -> list[Job]:
        q = select(J).where(J.c.subject == subject)
        if kinds:
            q = q.where(J.c.kind.in_(sorted(kinds)))
        return [_job(r) for r in self.conn.execute(q.order_by(J.c.job_id))]

    def list(
        self, states: Collection[JobState], kinds: Collection[str] | None = None, limit: int = 100
    ) -> list[Job]:
        q = select(J).where(J.c.state.in_(sorted(s.value for s in states)))
        if kinds:
            q = q.where(J.c.kind.in_(sorted(kinds)))
        return [_job(r) for r in self.conn.execute(q.order_by(J.c.job_id).limit(limit))]

    def counts(self) -> dict[tuple[str, JobState], int]:
        q = select(J.c.kind, J.c.state, func.count()).group_by(J.c.kind, J.c.state)
        return {(str(k), JobState(s)): int(n) for k, s, n in self.conn.execute(q)}
