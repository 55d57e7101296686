"""The outbox on both engines: jobs exist iff their transaction committed, run once, retry, die.

Handlers here are the test's own; the effects they record go to a table the test creates next
to modelref's, written in the transaction that marks the job done.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from modelref.domain.jobs import JobState, backoff
from modelref.service.outbox import JobContext, Outcome, PermanentFailure, Worker
from modelref.store.database import Database
from modelref.store.migrate import upgrade
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction
from tests.factories import ManualClock


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    with database.write() as tx:
        tx.conn.execute(text("CREATE TABLE effects (job_id BIGINT NOT NULL, worker TEXT)"))
    yield database
    database.dispose()


def effects(db: Database) -> list[tuple[int, str]]:
    with db.read() as tx:
        rows = tx.conn.execute(text("SELECT job_id, worker FROM effects ORDER BY job_id"))
        return [(int(r[0]), str(r[1])) for r in rows]


def record(job: Job, worker: str) -> Outcome:
    def write(tx: Transaction, _now: int) -> None:
        tx.conn.execute(
            text("INSERT INTO effects (job_id, worker) VALUES (:j, :w)"),
            {"j": job.job_id, "w": worker},
        )

    return Outcome(result={"seen": job.payload}, write=write)


def queue(db: Database, clock: ManualClock, n: int = 1, kind: str = "test") -> list[int]:
    with db.write() as tx:
        return [tx.outbox.add(kind, {"n": i}, now=clock(), subject=f"s:{i}") for i in range(n)]


def test_a_job_exists_only_if_its_transaction_committed(db: Database) -> None:
    clock = ManualClock()
    with pytest.raises(RuntimeError), db.write() as tx:
        tx.outbox.add("test", {"lost": True}, now=clock())
        raise RuntimeError("the use case failed")
    (kept,) = queue(db, clock)
    with db.read() as tx:
        jobs = tx.outbox.list({JobState.pending})
    assert [j.job_id for j in jobs] == [kept]
    assert jobs[0].payload == {"n": 0} and jobs[0].subject == "s:0"


def test_a_worker_runs_a_job_once_and_records_its_effects_with_it(db: Database) -> None:
    clock = ManualClock()
    (job_id,) = queue(db, clock)
    worker = Worker(db, clock, {"test": lambda job, ctx: record(job, ctx.worker.name)})
    assert worker.run_once() is True
    assert worker.run_once() is False  # done jobs are never claimed again
    assert effects(db) == [(job_id, worker.name)]
    with db.read() as tx:
        job = tx.outbox.get(job_id)
    assert job is not None and job.state is JobState.done and job.attempts == 1
    assert job.result == {"seen": {"n": 0}} and job.lease_expires_at is None


def test_failures_back_off_then_the_job_dies_and_can_be_replayed(db: Database) -> None:
    clock = ManualClock()
    with db.write() as tx:
        job_id = tx.outbox.add("test", {}, now=clock(), max_attempts=3)
    calls: list[int] = []

    def flaky(job: Job, _ctx: JobContext) -> Outcome:
        calls.append(job.attempts)
        raise ConnectionError("receiver down")

    worker = Worker(db, clock, {"test": flaky})
    assert worker.run_once() is True
    for attempt in (1, 2):
        assert worker.run_once() is False  # not due before its backoff
        clock.advance(backoff(attempt) - 1)
        assert worker.run_once() is False
        clock.advance(1)
        assert worker.run_once() is True
    assert calls == [1, 2, 3]
    with db.read() as tx:
        dead = tx.outbox.get(job_id)
    assert dead is not None and dead.state is JobState.dead
    assert dead.last_error == "ConnectionError: receiver down"
    clock.advance(10**6)
    assert worker.run_once() is False  # the dead stay dead

    with db.write() as tx:
        assert tx.outbox.replay(job_id, clock()) is True
    ok = Worker(db, clock, {"test": lambda job, ctx: record(job, "second life")})
    assert ok.run_once() is True
    assert effects(db) == [(job_id, "second life")]


def test_a_permanent_failure_is_buried_at_once(db: Database) -> None:
    clock = ManualClock()
    (job_id,) = queue(db, clock)

    def hopeless(_job: Job, _ctx: JobContext) -> Outcome:
        raise PermanentFailure("the change it checks was purged")

    assert Worker(db, clock, {"test": hopeless}).run_once() is True
    with db.read() as tx:
        job = tx.outbox.get(job_id)
    assert job is not None and job.state is JobState.dead and job.attempts == 1


def test_an_expired_lease_is_claimed_again_and_the_late_worker_records_nothing(
    db: Database,
) -> None:
    clock = ManualClock()
    (job_id,) = queue(db, clock)
    now = clock()
    with db.write() as tx:  # worker A claims, then stops answering (it died, or hangs)
        (claimed,) = tx.outbox.claim({"test"}, "worker-a", now, now + 60)
    b = Worker(db, clock, {"test": lambda job, ctx: record(job, "worker-b")}, lease_seconds=60)
    assert b.run_once() is False  # A's lease still runs
    clock.advance(61)
    assert b.run_once() is True
    with db.write() as tx:  # A wakes up and tries to record its result
        assert tx.outbox.finish(claimed.job_id, "worker-a", {"late": True}, clock()) is False
        assert tx.outbox.extend(claimed.job_id, "worker-a", clock() + 60, clock()) is False
    assert effects(db) == [(job_id, "worker-b")]
    with db.read() as tx:
        job = tx.outbox.get(job_id)
    assert job is not None and job.state is JobState.done and job.attempts == 2


def test_a_heartbeat_keeps_a_long_job_and_reports_a_lost_lease(db: Database) -> None:
    clock = ManualClock()
    queue(db, clock, 2)
    seen: list[str] = []

    def long_job(job: Job, ctx: JobContext) -> Outcome:
        clock.advance(50)
        ctx.heartbeat()  # lease 60 s: extended in time
        clock.advance(50)
        if job.payload["n"] == 1:
            clock.advance(100)  # stalled past the lease; someone else took it meanwhile
            with db.write() as tx:
                tx.outbox.claim({"test"}, "thief", clock(), clock() + 60)
        ctx.heartbeat()
        seen.append(f"finished {job.payload['n']}")
        return record(job, "w")

    worker = Worker(db, clock, {"test": long_job}, lease_seconds=60)
    assert worker.run_once() and worker.run_once()
    assert seen == ["finished 0"]
    assert [j for j, _w in effects(db)] == [1]


def test_concurrent_workers_run_every_job_exactly_once(db: Database) -> None:
    clock = ManualClock()
    ids = queue(db, clock, 40)
    lock = threading.Lock()
    runs: list[int] = []

    def handler(job: Job, ctx: JobContext) -> Outcome:
        with lock:
            runs.append(job.job_id)
        return record(job, ctx.worker.name)

    workers = [Worker(db, clock, {"test": handler}) for _ in range(4)]
    errors: list[BaseException] = []

    def drain(w: Worker) -> None:
        try:
            while w.run_once():
                pass
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(runs) == ids
    assert [j for j, _w in effects(db)] == ids


def test_kinds_a_worker_has_no_handler_for_are_left_alone(db: Database) -> None:
    clock = ManualClock()
    queue(db, clock, 1, kind="webhook")
    worker = Worker(db, clock, {"test": lambda job, ctx: Outcome()})
    assert worker.run_once() is False
    with db.read() as tx:
        counts: dict[Any, int] = tx.outbox.counts()
    assert counts == {("webhook", JobState.pending): 1}
