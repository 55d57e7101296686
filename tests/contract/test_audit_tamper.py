"""Tamper evidence of the audit chain and the single-open-batch rule, on both engines."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from modelref import PendingChangeStatus as S
from modelref import PendingQueueFilter
from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from tests.factories import ALICE, BOB, CAROL, enqueue_create


@pytest.fixture
def svc(db_url: str) -> Iterator[PendingQueueService]:
    service = PendingQueueService.from_url(db_url)
    yield service
    service.db.dispose()


# ---------------------------------------------------------------------- tamper evidence
def _history(svc: PendingQueueService) -> None:
    """A short history touching every event kind the chain has to cover."""
    ids = [enqueue_create(svc, f"m{i}", ALICE if i % 2 else CAROL) for i in range(5)]
    svc.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="b",
        approved_ids=ids[:3],
        rejected_ids=[ids[3]],
        reject_reason="dup",
    )
    svc.reserve_for_apply(ids[0], "job-a")
    svc.mark_applied(ids[0], "job-a", applied_by=BOB[0], applied_username=BOB[1])
    svc.reserve_for_apply(ids[1], "job-b")
    svc.clear_apply_reservation(ids[1], "job-b")
    svc.withdraw_change(change_id=ids[4], requestor_id=CAROL[0], requestor_username=CAROL[1])
    svc.purge_changes(PendingQueueFilter(statuses={S.REJECTED}), BOB[0], BOB[1])


_TAMPER: list[tuple[str, Callable[[Any], Any]]] = [
    ("timestamp", lambda v: int(v) + 1),
    ("logical_user_id", lambda v: "mallory"),
    ("username", lambda v: "mallory#666"),
    ("action", lambda v: "approve" if v != "approve" else "reject"),
    ("change_id", lambda v: 999 if v is None else int(v) + 1),
    ("batch_id", lambda v: 7 if v is None else None),
    ("model_name", lambda v: v + "x"),
    ("payload", lambda v: json.dumps({**json.loads(v), "forged": True}, sort_keys=True)),
    ("prev_hash", lambda v: "f" * 64),
    ("hash", lambda v: "e" * 64),
]


def test_verify_names_exactly_the_altered_event(svc: PendingQueueService) -> None:
    """Every event and every column: altering one stored value breaks the chain right there."""
    _history(svc)
    audit = AuditService(svc.db)
    clean = audit.verify()
    assert clean.ok and clean.events >= 15
    last = clean.events
    cases = {(e, _TAMPER[e % len(_TAMPER)][0]) for e in range(1, last + 1)}
    cases |= {(e, column) for column, _ in _TAMPER for e in (1, last)}
    forgers = dict(_TAMPER)
    for event_id, column in sorted(cases):
        with svc.db.write() as tx:
            original = tx.conn.execute(
                text(f"SELECT {column} FROM audit_events WHERE event_id = :e"), {"e": event_id}
            ).scalar()
            tx.conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE event_id = :e"),
                {"v": forgers[column](original), "e": event_id},
            )
        report = audit.verify()
        assert not report.ok, f"altering {column} of event {event_id} went unnoticed"
        assert report.broken_event_id == event_id, (column, report)
        with svc.db.write() as tx:
            tx.conn.execute(
                text(f"UPDATE audit_events SET {column} = :v WHERE event_id = :e"),
                {"v": original, "e": event_id},
            )
    assert audit.verify() == clean


def test_verify_names_the_event_after_a_deleted_one(svc: PendingQueueService) -> None:
    _history(svc)
    audit = AuditService(svc.db)
    total = audit.verify().events
    victim = total // 2
    with svc.db.write() as tx:
        tx.conn.execute(text("DELETE FROM audit_events WHERE event_id = :e"), {"e": victim})
    report = audit.verify()
    assert not report.ok and report.broken_event_id == victim + 1


# ---------------------------------------------------------------------- single open batch
def test_single_open_batch_survives_a_released_reservation(svc: PendingQueueService) -> None:
    ids = [enqueue_create(svc, f"m{i}") for i in range(3)]

    def approve(cid: int) -> int | None:
        return svc.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="t",
            approved_ids=[cid],
            rejected_ids=None,
        ).batch_id

    approve(ids[0])
    svc.reserve_for_apply(ids[0], "job")
    approve(ids[1])  # nothing approved: a new batch opens
    svc.clear_apply_reservation(ids[0], "job")
    approve(ids[2])
    svc.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="revoke",
        approved_ids=None,
        rejected_ids=[ids[0]],
        reject_reason="revoked",
    )
    # No released record is approved any more, yet the approved changes sit in two batches.
    approved = svc.list_changes(PendingQueueFilter(statuses={S.APPROVED})).items
    assert [r.change_id for r in approved] == ids[1:]
    assert len({r.batch_id for r in approved}) == 1
