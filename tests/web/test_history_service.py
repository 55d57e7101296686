"""HistoryService on SQLite and PostgreSQL: batch paging, net changes, model timelines."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelref.domain.errors import ValidationFailed
from modelref.service.container import Services
from modelref.service.history import HistoryService
from modelref.settings import Settings
from tests.factories import ALICE, BOB, CAROL, misc_payload


@pytest.fixture
def services(db_url: str) -> Iterator[Services]:
    svc = Services.open(Settings(database_url=db_url))
    yield svc
    svc.db.dispose()


def _propose(svc: Services, name: str, op: str, payload: dict[str, Any] | None) -> int:
    return svc.review.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation=op,
        payload=payload,
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
        notes=f"{op} {name}",
    ).change_id


def _approve_and_apply(svc: Services, ids: list[int], title: str) -> int:
    result = svc.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title=title,
        approved_ids=ids,
        rejected_ids=[],
    )
    assert result.batch_id is not None
    svc.apply.apply_batch(result.batch_id, CAROL[0], CAROL[1])
    return result.batch_id


def test_batches_newest_first_with_cursor_and_net_changes(services: Services) -> None:
    history = HistoryService(services.db)
    assert history.applied_batches().batches == []
    created = _approve_and_apply(
        services, [_propose(services, "helper-a", "create", misc_payload("helper-a"))], "create a"
    )
    edited = _approve_and_apply(
        services,
        [
            _propose(services, "helper-a", "update", misc_payload("helper-a", "better words")),
            _propose(services, "helper-b", "create", misc_payload("helper-b")),
        ],
        "edit a, add b",
    )
    removed = _approve_and_apply(
        services, [_propose(services, "helper-b", "delete", None)], "drop b"
    )

    page = history.applied_batches(limit=2)
    assert [b.batch_id for b in page.batches] == [removed, edited]
    assert page.next_cursor is not None
    rest = history.applied_batches(before=page.next_cursor, limit=2)
    assert [b.batch_id for b in rest.batches] == [created]
    assert rest.next_cursor is None

    batch = page.batches[1]
    assert batch.title == "edit a, add b" and batch.applied_by == CAROL[1]
    nets = {n.model_name: n for n in batch.changes}
    assert nets["helper-a"].operation == "update"
    assert "description" in [d["field_path"] for d in nets["helper-a"].field_diffs]
    assert nets["helper-b"].operation == "create" and nets["helper-b"].before is None
    assert page.batches[0].changes[0].operation == "delete"

    with pytest.raises(ValidationFailed):
        history.applied_batches(limit=0)


def test_timeline_has_every_proposal_decision_and_write(services: Services) -> None:
    history = HistoryService(services.db)
    first = _propose(services, "helper-t", "create", misc_payload("helper-t"))
    _approve_and_apply(services, [first], "add t")
    rejected = _propose(services, "helper-t", "update", misc_payload("helper-t", "nope"))
    services.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="no",
        approved_ids=[],
        rejected_ids=[rejected],
        reject_reason="not better",
    )
    _propose(services, "helper-other", "create", misc_payload("helper-other"))

    kinds = [(e.kind, e.change_id) for e in history.model_timeline("miscellaneous", "helper-t")]
    assert ("proposed", first) in kinds and ("approved", first) in kinds
    assert ("catalog create", first) in kinds and ("marked applied", first) in kinds
    assert ("rejected", rejected) in kinds
    assert all(cid in (first, rejected) for _kind, cid in kinds)
    entries = history.model_timeline("miscellaneous", "helper-t")
    assert [e.event_id for e in entries] == sorted(e.event_id for e in entries)
    reject = next(e for e in entries if e.kind == "rejected")
    assert reject.details["reason"] == "not better" and reject.username == BOB[1]
