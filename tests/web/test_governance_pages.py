"""Governance in the reviewer UI (in-process): approvals panel, age and order, revert buttons."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.actors import Actor
from modelref.domain.categories import Category
from modelref.service.container import Services
from modelref.settings import Settings
from tests.corpus import CORPUS
from tests.web.ui_client import PEOPLE, Deployment, unlabeled_controls

MODEL = "Orchard Fantasy"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    tmp = tmp_path_factory.mktemp("ui-governance")
    settings = Settings(
        database_url=f"sqlite:///{tmp / 'modelref.db'}", approval_policy="critical-two"
    )
    services = Services.open(settings)
    services.files.import_path(CORPUS / "v2", Actor("0", "admin"))
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    deployment = Deployment(services, keys)
    yield deployment
    services.db.dispose()


def edit(site: Deployment, name: str, **fields: Any) -> int:
    record = dict(site.services.catalog.record(Category.image_generation, name))
    record.update(fields)
    actor = site.actor("alice")
    return site.services.review.enqueue_change(
        category="image_generation",
        model_name=name,
        operation="update",
        payload=record,
        requestor_id=actor.user_id,
        requestor_username=actor.username,
    ).change_id


def test_a_quorum_change_from_queue_to_revert(site: Deployment) -> None:
    change = edit(site, MODEL, nsfw=True)
    bob = site.client("bob")
    queue = bob.get("/ui/queue").text
    row = re.search(rf'<tr>\s*<td><input[^>]*value="{change}".*?</tr>', queue, re.S)
    assert row is not None and "0/2 approvals" in row.group(0)
    assert re.search(r'<td class="age">\d+s</td>', row.group(0))

    page = bob.get(f"/ui/changes/{change}").text
    assert "0 of 2 distinct approvers needed" in page and "critical fields" in page
    reply = bob.post(
        f"/ui/changes/{change}/review",
        {"change_ids": change, "decision": "approve", "batch_title": "nsfw"},
    )
    assert "Your approval is recorded" in reply.text
    page = bob.get(f"/ui/changes/{change}").text
    assert "1 of 2 distinct approvers needed" in page and "bob <span" in page
    again = bob.post(
        f"/ui/changes/{change}/review",
        {"change_ids": change, "decision": "approve", "batch_title": "nsfw"},
    )
    assert "bob already approved it" in again.text  # shown next to the buttons
    assert site.services.review.get_change(change).status.value == "pending"

    carol = site.client("carol")
    carol.get(f"/ui/changes/{change}")
    moved = carol.post(
        f"/ui/changes/{change}/review",
        {"change_ids": change, "decision": "approve", "batch_title": "nsfw"},
    )
    batch = int(re.search(r"Batch (\d+)", moved.text).group(1))  # type: ignore[union-attr]
    applied = carol.post(f"/ui/batches/{batch}/apply", {})
    assert "Batch applied" in applied.text

    # The requester proposes the revert from the batch page; it is hers to follow.
    alice = site.client("alice")
    batch_page = alice.get(f"/ui/batches/{batch}").text
    assert f"Propose a revert of batch {batch}" in batch_page
    reverted = alice.post(f"/ui/batches/{batch}/revert", {})
    assert "The revert is queued as your proposal" in reverted.text
    queued = [
        r
        for r in site.services.review.list_changes().items
        if r.notes == f"revert of change {change} (batch {batch})"
    ]
    assert len(queued) == 1 and queued[0].requested_by == PEOPLE["alice"][0]
    assert f'href="/ui/changes/{queued[0].change_id}"' in reverted.text

    # A reader sees no revert button and cannot post one.
    dave = site.client("dave")
    assert "Propose a revert" not in dave.get(f"/ui/changes/{change}").text
    refused = dave.post(f"/ui/changes/{change}/revert", {})
    assert refused.status_code == 403
    assert alice.get(f"/ui/changes/{change}").text.count("Propose a revert of change") == 1


def test_the_queue_orders_by_age(site: Deployment) -> None:
    first = edit(site, "Bramble Creatures", description="first")
    second = edit(site, "Bramble Creatures", description="second")
    ui = site.client("dave")
    newest = ui.get("/ui/queue?status=pending&sort=newest").text
    oldest = ui.get("/ui/queue?status=pending&sort=age").text
    assert newest.index(f'/ui/changes/{second}"') < newest.index(f'/ui/changes/{first}"')
    assert oldest.index(f'/ui/changes/{first}"') < oldest.index(f'/ui/changes/{second}"')
    assert 'aria-current="true">newest first' in newest
    for html in (newest, oldest):
        assert unlabeled_controls(html) == []


def test_pages_without_a_quorum_policy_show_no_approvals_panel(tmp_path: Path) -> None:
    services = Services.open(Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}"))
    services.files.import_path(CORPUS / "v2", Actor("0", "admin"))
    keys = {w: services.keys.create(uid, n, role) for w, (uid, n, role) in PEOPLE.items()}
    site = Deployment(services, keys)
    change = edit(site, MODEL, nsfw=True)
    page = site.client("bob").get(f"/ui/changes/{change}").text
    assert 'id="approvals"' not in page and "approvals</span>" not in page
    services.db.dispose()
