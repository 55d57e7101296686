"""One input policy on both engines: what PostgreSQL cannot store is refused before any SQL.

Each case was found stored on SQLite and answered 500 on PostgreSQL (or 500 on both); now the
service refuses it with a message naming the field, on both, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from modelref import PendingQueueFilter
from modelref.domain.errors import NotFound, ValidationFailed
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import ALICE, BOB, misc_payload


@pytest.fixture
def svc(db_url: str) -> Iterator[Services]:
    services = Services.open(Settings(database_url=db_url))
    yield services
    services.db.dispose()


def untouched(svc: Services) -> tuple[int, int]:
    return svc.review.list_changes().total, len(svc.audit.events())


def propose(svc: Services, name: str, **extra: Any) -> int:
    return svc.review.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation="create",
        payload=misc_payload(name),
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
        **extra,
    ).change_id


def refused(svc: Services, call: Callable[[], Any], field: str) -> None:
    before = untouched(svc)
    with pytest.raises(ValidationFailed) as caught:
        call()
    assert field in caught.value.message, caught.value.message
    assert untouched(svc) == before


def test_names_over_the_column_width_are_refused(svc: Services) -> None:
    long = "m" * 513
    refused(svc, lambda: propose(svc, long), "at most 512")
    assert svc.review.get_change(propose(svc, "m" * 512)).model_name == "m" * 512


@pytest.mark.parametrize(
    "name",
    ["evil\u202egnp.safetensors", "zero\u200bwidth", "bom\ufeff", "iso\u2066late"],
)
def test_names_with_invisible_or_reordering_characters_are_refused(
    svc: Services, name: str
) -> None:
    refused(svc, lambda: propose(svc, name), "invisible or text-direction")


def test_nul_and_lone_surrogates_are_refused_in_every_text(svc: Services) -> None:
    cid = propose(svc, "plain")
    refused(svc, lambda: propose(svc, "n1", notes="a\x00b"), "notes")
    refused(svc, lambda: propose(svc, "n2", notes="\ud800"), "notes")
    bad_payload = misc_payload("n3") | {"description": "x\x00y"}
    refused(
        svc,
        lambda: svc.review.enqueue_change(
            category="miscellaneous",
            model_name="n3",
            operation="create",
            payload=bad_payload,
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        ),
        "payload",
    )

    def decide(**kw: Any) -> Any:
        return svc.review.process_batch(
            approver_id=BOB[0], approver_username=BOB[1], approved_ids=None, **kw
        )

    refused(
        svc,
        lambda: decide(batch_title="t\x00", rejected_ids=[cid], reject_reason="r"),
        "batch_title",
    )
    refused(
        svc,
        lambda: decide(batch_title="t", rejected_ids=[cid], reject_reason="r\x00"),
        "reject_reason",
    )
    refused(
        svc, lambda: svc.review.list_changes(PendingQueueFilter(model_name="\x00")), "model_name"
    )


def test_notes_are_capped_as_the_api_caps_them(svc: Services) -> None:
    refused(svc, lambda: propose(svc, "wordy", notes="n" * 2001), "notes: at most 2000")
    assert svc.review.get_change(propose(svc, "ok", notes="n" * 2000)).notes == "n" * 2000


def test_deeply_nested_payloads_are_refused_without_recursion(svc: Services) -> None:
    deep: Any = "leaf"
    for _ in range(10_000):
        deep = [deep]
    payload = misc_payload("deep") | {"config": {"download": [], "extra": deep}}
    refused(
        svc,
        lambda: svc.review.enqueue_change(
            category="miscellaneous",
            model_name="deep",
            operation="create",
            payload=payload,
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        ),
        "nests deeper than 32 levels",
    )


def test_ids_beyond_any_that_can_exist_are_not_found_not_errors(svc: Services) -> None:
    huge = 9_223_372_036_854_775_808
    with pytest.raises(NotFound):
        svc.review.get_change(huge)
    with pytest.raises(NotFound):
        svc.review.withdraw_change(
            change_id=huge, requestor_id=ALICE[0], requestor_username=ALICE[1]
        )
    assert svc.review.list_changes(PendingQueueFilter(batch_id=huge)).total == 0
    assert svc.catalog.diffs([huge]).errors[0]["error"] == "Change not found"
    refused(
        svc,
        lambda: svc.review.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="t",
            approved_ids=[huge],
            rejected_ids=None,
        ),
        "approved_ids",
    )
    refused(svc, lambda: svc.review.list_changes(offset=10**19), "offset")


def test_long_filter_lists_are_refused_with_the_cap_in_the_message(svc: Services) -> None:
    many = {f"user-{i}" for i in range(70_000)}
    refused(
        svc,
        lambda: svc.review.purge_changes(
            PendingQueueFilter(requested_by=many), BOB[0], BOB[1], dry_run=True
        ),
        "requested_by: at most 100 values",
    )
    flood = list(range(1, 10_002))
    refused(
        svc,
        lambda: svc.review.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="flood",
            approved_ids=flood,
            rejected_ids=None,
        ),
        "at most 10000 change ids",
    )
