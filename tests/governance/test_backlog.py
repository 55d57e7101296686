"""Backlog hygiene: overdue proposals expire through the reaper; stats; listing by age."""

from __future__ import annotations

import pytest

from modelref.domain import errors
from modelref.domain.queue_models import PendingChangeStatus, PendingQueueFilter
from modelref.service.background import Background
from tests.factories import ManualClock
from tests.governance.helpers import BOB, approve, image_record, open_services, propose, seed_image

S = PendingChangeStatus
DAY = 86_400


def test_the_reaper_rejects_pending_changes_older_than_the_ttl(db_url: str) -> None:
    clock = ManualClock()
    svc = open_services(db_url, clock, proposal_ttl_days=3)
    for name in ("a", "b", "c"):
        seed_image(svc, name)
    old = propose(svc, "a", payload=image_record("a", description="old")).change_id
    approved = propose(svc, "b", payload=image_record("b", description="approved")).change_id
    approve(svc, [approved], BOB)
    clock.advance(2 * DAY)
    young = propose(svc, "c", payload=image_record("c", description="young")).change_id
    reaper = Background(svc).reaper  # what every serving process runs

    clock.advance(DAY)  # ``old`` is exactly three days old: not older than the TTL yet
    reaper.run_once()
    assert svc.review.get_change(old).status is S.PENDING

    clock.advance(1)
    reaper.run_once()
    expired = svc.review.get_change(old)
    assert expired.status is S.REJECTED and expired.reject_reason == "expired"
    assert (expired.rejected_by, expired.rejected_at) == ("system", clock.now)
    assert svc.review.get_change(approved).status is S.APPROVED  # only pending changes expire
    assert svc.review.get_change(young).status is S.PENDING
    (event,) = [e for e in svc.audit.events() if e.change_id == old and e.action == "reject"]
    assert event.payload["after"]["reason"] == "expired" and event.logical_user_id == "system"
    assert svc.audit.replay()[old] == expired

    reaper.run_once()  # idempotent: nothing else is overdue
    assert len([e for e in svc.audit.events() if e.action == "reject"]) == 1


def test_expiry_is_off_by_default(db_url: str) -> None:
    clock = ManualClock()
    svc = open_services(db_url, clock)
    seed_image(svc, "a")
    change = propose(svc, "a", payload=image_record("a", description="x")).change_id
    clock.advance(3650 * DAY)
    assert Background(svc).reaper.expire_once() == 0
    assert svc.review.get_change(change).status is S.PENDING


def test_stats_count_statuses_and_age_the_pending_changes(db_url: str) -> None:
    clock = ManualClock()
    svc = open_services(db_url, clock, proposal_ttl_days=30)
    empty = svc.backlog.stats()
    assert empty.pending == 0 and empty.median_pending_age_seconds is None
    assert empty.oldest_pending is None and empty.counts_by_status["pending"] == 0
    for name in ("a", "b", "c", "d"):
        seed_image(svc, name)
    ids = []
    for name, wait in (("a", 100), ("b", 200), ("c", 300), ("d", 400)):
        ids.append(propose(svc, name, payload=image_record(name, description="x")).change_id)
        clock.advance(wait)
    approve(svc, [ids[3]], BOB)
    stats = svc.backlog.stats()
    assert stats.counts_by_status == {
        "pending": 3,
        "approved": 1,
        "applying": 0,
        "applied": 0,
        "rejected": 0,
    }
    assert stats.total == 4 and stats.pending == 3
    # Pending ages are 1000, 900 and 700 seconds: the median is 900; ``a`` is the oldest.
    assert stats.median_pending_age_seconds == 900
    assert stats.oldest_pending is not None
    assert (stats.oldest_pending.change_id, stats.oldest_pending.age_seconds) == (ids[0], 1000)
    assert stats.proposal_ttl_days == 30


def test_listing_sorts_by_age(db_url: str) -> None:
    clock = ManualClock()
    svc = open_services(db_url, clock)
    for name in ("a", "b", "c"):
        seed_image(svc, name)
    first = propose(svc, "a", payload=image_record("a", description="x")).change_id
    clock.advance(-50)  # a second instance whose clock runs behind proposes later
    second = propose(svc, "b", payload=image_record("b", description="x")).change_id
    clock.advance(100)
    third = propose(svc, "c", payload=image_record("c", description="x")).change_id
    flt = PendingQueueFilter(statuses={S.PENDING})
    by_id = [r.change_id for r in svc.review.list_changes(flt).items]
    oldest = [r.change_id for r in svc.review.list_changes(flt, sort="age").items]
    newest = [r.change_id for r in svc.review.list_changes(flt, sort="-age").items]
    assert by_id == [first, second, third]
    assert oldest == [second, first, third] and newest == [third, first, second]
    page = svc.review.list_changes(flt, offset=1, limit=1, sort="age")
    assert [r.change_id for r in page.items] == [first] and page.total == 3
    with pytest.raises(errors.ValidationFailed, match="sort: expected one of"):
        svc.review.list_changes(flt, sort="size")
