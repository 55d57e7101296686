"""Several real OS processes on one database (SQLite file or PostgreSQL schema).

Children are started with the ``spawn`` context (fresh interpreters, nothing inherited but
arguments) and released together by a barrier, so their transactions really overlap.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelref import PendingChangeStatus
from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from tests.integration import _workers


@pytest.fixture
def svc(db_url: str) -> Iterator[PendingQueueService]:
    service = PendingQueueService.from_url(db_url)
    yield service
    service.db.dispose()


pytestmark = pytest.mark.slow

CTX = mp.get_context("spawn")
TIMEOUT = 120


def run_workers(
    target: Callable[..., None], per_worker: list[tuple[Any, ...]], url: str
) -> list[Any]:
    """Run ``target(url, worker, *args, barrier, results)`` in one process per entry and return
    what each reported, ordered by worker number. Children still alive at the end are killed."""
    barrier = CTX.Barrier(len(per_worker))
    results = CTX.Queue()
    procs = [
        CTX.Process(target=target, args=(url, worker, *args, barrier, results), daemon=True)
        for worker, args in enumerate(per_worker)
    ]
    for proc in procs:
        proc.start()
    try:
        got = []
        for _ in procs:
            try:
                got.append(results.get(timeout=TIMEOUT))
            except queue.Empty:
                codes = [p.exitcode for p in procs]
                pytest.fail(f"a worker did not report within {TIMEOUT}s (exit codes {codes})")
        for proc in procs:
            proc.join(timeout=TIMEOUT)
            assert proc.exitcode == 0, f"worker pid {proc.pid} exited with {proc.exitcode}"
        return [payload for _, payload in sorted(got, key=lambda item: item[0])]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=10)


def assert_audit_matches_store(svc: PendingQueueService, events: int) -> None:
    audit = AuditService(svc.db)
    report = audit.verify()
    assert report.ok, report
    assert report.events == events
    assert audit.replay() == {r.change_id: r for r in svc.list_changes().items}


def test_four_processes_enqueue_1000_changes_with_ids_1_to_1000(
    svc: PendingQueueService, db_url: str
) -> None:
    workers, each = 4, 250
    per_worker = run_workers(_workers.enqueue_many, [(each,)] * workers, db_url)
    all_ids = [cid for ids in per_worker for cid in ids]
    assert len(all_ids) == workers * each
    assert sorted(all_ids) == list(range(1, workers * each + 1)), "duplicate or missing ids"
    for ids in per_worker:
        assert ids == sorted(ids) and len(set(ids)) == each
    # The ids each worker got really are its own records: no lost or crossed writes.
    stored = {r.change_id: r for r in svc.list_changes().items}
    assert sorted(stored) == list(range(1, workers * each + 1))
    for worker, ids in enumerate(per_worker):
        for i, cid in enumerate(ids):
            assert stored[cid].model_name == f"w{worker}-{i}"
            assert stored[cid].status is PendingChangeStatus.PENDING
    # The writers overlapped (not four sequential blocks), so the test exercised concurrency.
    owner = {cid: worker for worker, ids in enumerate(per_worker) for cid in ids}
    switches = sum(owner[cid] != owner[cid + 1] for cid in range(1, workers * each))
    assert switches > workers - 1, "the workers ran one after another; no overlap was tested"
    assert_audit_matches_store(svc, workers * each)


def test_two_concurrent_approvers_share_one_open_batch(
    svc: PendingQueueService, db_url: str
) -> None:
    rounds, per_round = 8, 4
    ids = [_workers.enqueue(svc, f"m{i}") for i in range(2 * rounds * per_round)]
    plan = [
        [ids[(r * 2 + w) * per_round : (r * 2 + w + 1) * per_round] for r in range(rounds)]
        for w in range(2)
    ]
    seen = run_workers(_workers.approve_rounds, [(plan[0],), (plan[1],)], db_url)
    stored = {r.change_id: r for r in svc.list_changes().items}
    for r in range(rounds):
        returned = set(seen[0][r]) | set(seen[1][r])
        in_store = {stored[cid].batch_id for w in range(2) for cid in plan[w][r]}
        assert returned == in_store, f"round {r}: responses and store disagree"
        assert len(in_store) == 1, f"round {r}: concurrent approvals opened batches {in_store}"
        # Each round starts with nothing approved, so exactly one new id is allocated per round
        # (no id burnt by a lost race).
        assert in_store == {r + 1}
    assert all(rec.status is PendingChangeStatus.REJECTED for rec in stored.values())
    events = len(ids) * 3  # enqueue, approve, reject (the reset) per change
    assert_audit_matches_store(svc, events)


def test_concurrent_reservations_of_one_change_have_one_winner(
    svc: PendingQueueService, db_url: str
) -> None:
    ids = [_workers.enqueue(svc, f"m{i}") for i in range(20)]
    svc.process_batch(
        approver_id=_workers.APPROVERS[0][0],
        approver_username=_workers.APPROVERS[0][1],
        batch_title="to apply",
        approved_ids=ids,
        rejected_ids=None,
    )
    outcomes = run_workers(_workers.reserve_race, [(ids,), (ids,)], db_url)
    by_change: dict[int, list[tuple[str, str]]] = {cid: [] for cid in ids}
    for worker_outcomes in outcomes:
        for cid, job, outcome in worker_outcomes:
            by_change[cid].append((job, outcome))
    for cid, attempts in by_change.items():
        winners = [(job, out) for job, out in attempts if out.startswith("won:")]
        losers = [out for _, out in attempts if out.startswith("lost:")]
        assert len(winners) == 1, f"change {cid}: {attempts}"
        job, out = winners[0]
        assert out == f"won:{job}"
        assert losers in (["lost:ReservationConflict"], ["lost:InvalidTransition"]), attempts
        rec = svc.get_change(cid)
        assert rec.status is PendingChangeStatus.APPLYING
        assert rec.applied_job_id == job, f"change {cid} holds {rec.applied_job_id}, not {job}"
    reserve_events = Counter(
        e.change_id for e in AuditService(svc.db).events() if e.action == "reserve"
    )
    assert reserve_events == dict.fromkeys(ids, 1)
    assert_audit_matches_store(svc, len(ids) * 3)
