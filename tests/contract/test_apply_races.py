"""The loser of an apply race gets one answer per situation, on both engines, never a 200.

Two instances (two service stacks on one database) race for the same batch:
held by the other job -> 409 naming the change and the job; already applied by the other ->
upstream's 400 ``Change <id> is not approved (status=applied).``; nothing approved -> 404.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelref.domain.actors import Actor
from modelref.domain.errors import (
    ApplyFailed,
    InvalidTransition,
    NotFound,
    ReservationConflict,
)
from modelref.http_status import status_of
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import ALICE, BOB, CAROL, misc_payload

DAVE = ("4004", "dave#4004")


@pytest.fixture
def instances(db_url: str) -> Iterator[tuple[Services, Services]]:
    a = Services.open(Settings(database_url=db_url))
    b = Services.open(Settings(database_url=db_url))
    yield a, b
    a.db.dispose()
    b.db.dispose()


def batch_of(svc: Services, names: list[str]) -> tuple[int, list[int]]:
    ids = [
        svc.review.enqueue_change(
            category="miscellaneous",
            model_name=n,
            operation="create",
            payload=misc_payload(n),
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        ).change_id
        for n in names
    ]
    result = svc.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="race",
        approved_ids=ids,
        rejected_ids=None,
    )
    assert result.batch_id is not None
    return result.batch_id, ids


def test_a_batch_held_by_another_applier_is_a_409_naming_the_change_and_job(
    instances: tuple[Services, Services],
) -> None:
    a, b = instances
    batch, ids = batch_of(a, ["h1", "h2"])
    for cid in ids:
        a.reservations.reserve_for_apply(cid, "job-of-a", actor=Actor(*CAROL))
    with pytest.raises(ApplyFailed) as caught:
        b.apply.apply_batch(batch, *DAVE)
    failure = caught.value
    assert isinstance(failure.cause, ReservationConflict)
    assert failure.change_id == ids[0] and failure.cause.job_id == "job-of-a"
    assert "job_id=job-of-a" in failure.message and str(ids[0]) in failure.message
    assert status_of(failure) == 409

    with pytest.raises(ApplyFailed) as single:
        b.apply.apply_changes([ids[1]], *DAVE)
    assert isinstance(single.value.cause, ReservationConflict) and status_of(single.value) == 409


def test_a_batch_the_other_applied_is_upstreams_400_not_an_empty_200(
    instances: tuple[Services, Services],
) -> None:
    a, b = instances
    batch, ids = batch_of(a, ["d1", "d2"])
    a.apply.apply_batch(batch, *CAROL, job_id="winner")
    with pytest.raises(ApplyFailed) as caught:
        b.apply.apply_batch(batch, *DAVE, job_id="loser")
    failure = caught.value
    assert isinstance(failure.cause, InvalidTransition)
    assert failure.message == f"Change {ids[0]} is not approved (status=applied)."
    assert status_of(failure) == 400
    with pytest.raises(ApplyFailed) as again:
        b.apply.apply_changes(ids, *DAVE, job_id="loser")
    assert again.value.message == f"Change {ids[0]} is not approved (status=applied)."

    # The winner retrying with its own job id gets its result back: idempotent, not an error.
    retry = a.apply.apply_batch(batch, *CAROL, job_id="winner")
    assert [r.change_id for r in retry.applied] == ids


def test_a_batch_with_nothing_approved_is_not_found(instances: tuple[Services, Services]) -> None:
    a, b = instances
    batch, ids = batch_of(a, ["r1"])
    a.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="revoke",
        approved_ids=None,
        rejected_ids=ids,
        reject_reason="changed our minds",
    )
    with pytest.raises(NotFound, match=f"No approved changes found in batch {batch}"):
        b.apply.apply_batch(batch, *DAVE)
