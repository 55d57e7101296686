"""Code that runs in child processes of the multi-process and crash tests.

Kept apart from the test modules so a spawned child imports only modelref and this file (not
pytest or the conftest). ``python -m tests.integration._workers enqueue-loop URL`` is the crash
test's victim: it enqueues forever and prints each committed change id, flushed, after the call
returned.
"""

from __future__ import annotations

import sys
from typing import Any

from modelref.domain.clock import system_clock
from modelref.domain.errors import ModelrefError
from modelref.service.container import Services
from modelref.service.queue import PendingQueueService
from modelref.settings import Settings
from modelref.store.database import Database

REQUESTER = ("1001", "alice#1001")
APPROVERS = [("2002", "bob#2002"), ("3003", "carol#3003")]


def misc_payload(name: str) -> dict[str, Any]:
    """Same shape as ``tests.factories.misc_payload`` (duplicated to keep children light)."""
    return {
        "name": name,
        "description": "a helper model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": "0" * 64,
                }
            ]
        },
    }


def service(url: str) -> PendingQueueService:
    """The service on an already migrated database (the parent migrates first)."""
    db = Database(url)
    return PendingQueueService(Services.build(db, Settings(database_url=url), system_clock))


def enqueue(svc: PendingQueueService, name: str) -> int:
    return svc.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation="create",
        payload=misc_payload(name),
        requestor_id=REQUESTER[0],
        requestor_username=REQUESTER[1],
    ).change_id


def enqueue_many(url: str, worker: int, count: int, barrier: Any, results: Any) -> None:
    """Enqueue ``count`` changes as fast as possible once every worker is ready."""
    svc = service(url)
    barrier.wait(timeout=60)
    ids = [enqueue(svc, f"w{worker}-{i}") for i in range(count)]
    results.put((worker, ids))
    svc.db.dispose()


def approve_rounds(
    url: str, worker: int, rounds: list[list[int]], barrier: Any, results: Any
) -> None:
    """Per round: wait for the other approver, approve own changes one call per change, report
    the batch ids seen; worker 0 then revokes the round so the next one starts with no open
    batch."""
    svc = service(url)
    approver = APPROVERS[worker]
    seen: list[list[int | None]] = []
    for round_no, ids in enumerate(rounds):
        barrier.wait(timeout=60)
        batch_ids = [
            svc.process_batch(
                approver_id=approver[0],
                approver_username=approver[1],
                batch_title=f"round {round_no} by {approver[1]}",
                approved_ids=[cid],
                rejected_ids=None,
            ).batch_id
            for cid in ids
        ]
        seen.append(batch_ids)
        barrier.wait(timeout=60)
        if worker == 0:
            svc.process_batch(
                approver_id=approver[0],
                approver_username=approver[1],
                batch_title=f"reset after round {round_no}",
                approved_ids=None,
                rejected_ids=[
                    r.change_id for r in svc.list_changes().items if r.status.value == "approved"
                ],
                reject_reason="round over",
            )
        barrier.wait(timeout=60)
    results.put((worker, seen))
    svc.db.dispose()


def reserve_race(url: str, worker: int, change_ids: list[int], barrier: Any, results: Any) -> None:
    """For each change, both workers try to reserve it at the same moment with their own job."""
    svc = service(url)
    outcomes: list[tuple[int, str, str]] = []
    for cid in change_ids:
        job = f"job-{worker}-{cid}"
        barrier.wait(timeout=60)
        try:
            rec = svc.reserve_for_apply(cid, job)
            outcomes.append((cid, job, f"won:{rec.applied_job_id}"))
        except ModelrefError as exc:
            outcomes.append((cid, job, f"lost:{type(exc).__name__}"))
    results.put((worker, outcomes))
    svc.db.dispose()


def enqueue_loop(url: str, prefix: str) -> None:
    """Wait for a line on stdin (so the parent can start children ahead of time), then enqueue
    until killed, printing each id once ``enqueue_change`` has returned (committed)."""
    if not sys.stdin.readline():
        return
    svc = service(url)
    i = 0
    while True:
        cid = enqueue(svc, f"{prefix}-{i}")
        sys.stdout.write(f"{cid}\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    if sys.argv[1] == "enqueue-loop":
        enqueue_loop(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
