"""A live instance recovers reservations whose lease ran out, and only those."""

from __future__ import annotations

import time

from modelref import PendingChangeStatus
from modelref.service.queue import PendingQueueService
from modelref.service.recovery import LeaseReaper
from modelref.settings import Settings
from tests.factories import BOB, ManualClock, enqueue_create

LEASE = 60


def test_a_live_instance_recovers_an_expired_reservation_and_keeps_live_ones(
    db_url: str,
) -> None:
    clock = ManualClock()
    settings = Settings(database_url=db_url, apply_lease_seconds=LEASE)
    crashed = PendingQueueService.from_url(db_url, settings, clock=clock)
    live = PendingQueueService.from_url(db_url, settings, clock=clock)
    a, b = enqueue_create(crashed, "a"), enqueue_create(crashed, "b")
    crashed.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="t",
        approved_ids=[a, b],
        rejected_ids=None,
    )
    crashed.reserve_for_apply(a, "crashed-instance")  # never finished: its process died
    clock.advance(LEASE // 2)
    live.reserve_for_apply(b, "live-instance")
    reaper = LeaseReaper(live.services.reservations)

    assert reaper.run_once() == 0  # both leases still run
    assert live.get_change(a).status is PendingChangeStatus.APPLYING

    clock.advance(LEASE // 2 + 1)  # a's lease is over, b's is not
    assert reaper.run_once() == 1
    assert live.get_change(a).status is PendingChangeStatus.APPROVED
    assert live.get_change(a).applied_job_id is None
    assert live.get_change(b).status is PendingChangeStatus.APPLYING
    assert live.get_change(b).applied_job_id == "live-instance"
    crashed.db.dispose()
    live.db.dispose()


def test_the_reaper_thread_recovers_without_being_asked(db_url: str) -> None:
    clock = ManualClock()
    settings = Settings(database_url=db_url, apply_lease_seconds=LEASE)
    svc = PendingQueueService.from_url(db_url, settings, clock=clock)
    a = enqueue_create(svc, "a")
    svc.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="t",
        approved_ids=[a],
        rejected_ids=None,
    )
    svc.reserve_for_apply(a, "crashed-instance")
    clock.advance(LEASE + 1)
    reaper = LeaseReaper(svc.services.reservations, interval=0.01)
    reaper.start()
    try:
        deadline = time.monotonic() + 30
        while svc.get_change(a).status is not PendingChangeStatus.APPROVED:
            assert time.monotonic() < deadline, "the reaper thread never recovered the change"
            time.sleep(0.01)
    finally:
        reaper.stop()
        svc.db.dispose()


def test_start_up_recovery_leaves_a_live_instances_reservation_alone(db_url: str) -> None:
    from modelref.service.container import Services

    clock = ManualClock()
    settings = Settings(database_url=db_url, apply_lease_seconds=LEASE)
    live = PendingQueueService.from_url(db_url, settings, clock=clock)
    a = enqueue_create(live, "a")
    live.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="t",
        approved_ids=[a],
        rejected_ids=None,
    )
    live.reserve_for_apply(a, "applying-right-now")
    clock.advance(LEASE // 2)
    restarted = Services.open(settings, recover=True, clock=clock)  # another instance starts
    assert restarted.review.get_change(a).status is PendingChangeStatus.APPLYING
    clock.advance(LEASE)
    assert restarted.recover()["reverted"] == [str(a)]
    restarted.db.dispose()
    live.db.dispose()
