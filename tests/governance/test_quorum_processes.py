"""Four processes approve the same changes at once: every quorum is met exactly once."""

from __future__ import annotations

from collections import Counter

import pytest

from modelref.domain.queue_models import PendingChangeStatus
from tests.governance import _workers
from tests.governance.helpers import image_record, open_services, propose, seed_image
from tests.integration.test_multiprocess import run_workers

pytestmark = pytest.mark.slow

BOB, CAROL, DAVE = ("2002", "bob#2002"), ("3003", "carol#3003"), ("4004", "dave#4004")


def test_concurrent_approvers_meet_each_quorum_once(db_url: str) -> None:
    svc = open_services(db_url, approval_policy="critical-two")
    ids = []
    for n in range(12):
        seed_image(svc, f"m{n}")
        ids.append(propose(svc, f"m{n}", payload=image_record(f"m{n}", nsfw=True)).change_id)
    people = [BOB, BOB, CAROL, DAVE]  # bob twice, from two processes
    outcomes = run_workers(_workers.approve_all, [(who, ids) for who in people], db_url)

    for cid in ids:
        rec = svc.review.get_change(cid)
        assert rec.status is PendingChangeStatus.APPROVED
        approvals = rec.approvals or []
        assert len(approvals) == 2 and len({a.approved_by for a in approvals}) == 2
        assert not any(a.stale for a in approvals)
        recorded = [w for w, o in enumerate(outcomes) if cid in o["recorded"]]
        moved = [w for w, o in enumerate(outcomes) if cid in o["approved"]]
        assert len(recorded) == 1 and len(moved) == 1, (cid, outcomes)
        # A process refused as a duplicate is the other bob, after bob's first approval.
        for w, o in enumerate(outcomes):
            if cid in o["duplicate"]:
                assert people[w] == BOB
    events = Counter((e.change_id, e.action) for e in svc.audit.events())
    for cid in ids:
        assert (events[(cid, "endorse")], events[(cid, "approve")]) == (1, 1)
    assert svc.audit.verify().ok
    assert svc.audit.replay() == {r.change_id: r for r in svc.review.list_changes().items}
