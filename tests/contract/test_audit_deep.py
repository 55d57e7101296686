"""``audit verify --deep``: direct edits of the tables, which leave the chain intact, are named.

The chain only proves the log itself; a row edited behind modelref's back (a download URL in
the catalog, a pending change set to approved) is served and acted on unless something
compares the tables with the log. The deep check replays the log and names each row.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from modelref.service.audit import report_json
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import ALICE, BOB, CAROL, misc_payload


@pytest.fixture
def svc(db_url: str) -> Iterator[Services]:
    services = Services.open(Settings(database_url=db_url))
    yield services
    services.db.dispose()


def history(svc: Services) -> tuple[int, int]:
    """One applied create (live record ``shipped``) and one pending change."""
    applied, pending = (
        svc.review.enqueue_change(
            category="miscellaneous",
            model_name=name,
            operation="create",
            payload=misc_payload(name),
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        ).change_id
        for name in ("shipped", "waiting")
    )
    svc.review.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title="ship",
        approved_ids=[applied],
        rejected_ids=None,
    )
    svc.apply.apply_changes([applied], *CAROL)
    return applied, pending


def test_an_untouched_database_agrees_with_its_log(svc: Services) -> None:
    history(svc)
    report = svc.audit.verify_deep()
    assert report.ok and report.divergences == []
    assert report.changes_checked == 2 and report.records_checked == 1


def test_edited_rows_are_named_while_the_chain_still_holds(svc: Services) -> None:
    _applied, pending = history(svc)
    with svc.db.write() as tx:
        row = tx.conn.execute(
            text("SELECT record FROM catalog_records WHERE name = 'shipped'")
        ).scalar_one()
        record = json.loads(row)
        record["config"]["download"][0]["file_url"] = "https://evil.invalid/shipped.safetensors"
        tx.conn.execute(
            text("UPDATE catalog_records SET record = :r WHERE name = 'shipped'"),
            {"r": json.dumps(record)},
        )
        tx.conn.execute(
            text("UPDATE pending_changes SET status = 'approved' WHERE change_id = :c"),
            {"c": pending},
        )
    assert svc.audit.verify().ok  # the log itself was not touched

    report = svc.audit.verify_deep()
    assert not report.ok and report.chain.ok
    problems: dict[tuple[str, str], list[str]] = {}
    for d in report.divergences:
        problems.setdefault((d.table, d.key), []).append(d.problem)
    shipped = problems[("catalog_records", "miscellaneous/shipped")]
    assert shipped == [
        "the record does not match its stored hash",
        "differs from the log at config.download",
    ]
    (change,) = problems[("pending_changes", f"change {pending}")]
    assert "status: table 'approved', log 'pending'" in change
    assert report_json(report.chain, report)["deep"]["divergence_count"] == report.divergence_count


def test_a_deleted_catalog_row_is_named(svc: Services) -> None:
    history(svc)
    with svc.db.write() as tx:
        tx.conn.execute(text("DELETE FROM catalog_records WHERE name = 'shipped'"))
    report = svc.audit.verify_deep()
    assert [(d.key, d.problem) for d in report.divergences] == [
        ("miscellaneous/shipped", "in the log, missing from the table")
    ]
