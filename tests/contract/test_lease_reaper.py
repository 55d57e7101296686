"""A live instance reverts reservations whose lease ran out, and only those."""

from __future__ import annotations

import time

from modelref import PendingChangeStatus
from modelref.service.queue import PendingQueueService
from modelref.service.recovery import LeaseReaper
from modelref.settings import Settings
from tests.factories import BOB, enqueue_create


def test_expired_reservations_are_reverted_live_ones_kept(db_url: str) -> None:
    short = PendingQueueService.from_url(
        db_url, Settings(database_url=db_url, apply_lease_seconds=0)
    )
    try:
        _check(short, PendingQueueService(short.db, Settings(database_url=db_url)))
    finally:
        short.db.dispose()


def _check(short: PendingQueueService, long: PendingQueueService) -> None:
    a, b = enqueue_create(short, "a"), enqueue_create(short, "b")
    short.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="t",
        approved_ids=[a, b],
        rejected_ids=None,
    )
    short.reserve_for_apply(a, "crashed-instance")  # lease already over
    long.reserve_for_apply(b, "live-instance")
    time.sleep(1.1)  # leases are in whole seconds

    reaper = LeaseReaper(long, interval=0.05)
    assert reaper.run_once() == 1
    assert long.get_change(a).status is PendingChangeStatus.APPROVED
    assert long.get_change(b).status is PendingChangeStatus.APPLYING
    assert long.get_change(b).applied_job_id == "live-instance"

    reaper.start()  # the thread keeps sweeping without errors and stops on request
    time.sleep(0.2)
    reaper.stop()
    assert long.get_change(b).status is PendingChangeStatus.APPLYING
