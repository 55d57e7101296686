"""The reviewer's whole job in a real browser: propose, review, approve, apply, read history."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.web.conftest import Server, screenshot, seed_edit, visit

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def propose(
    page: Any,
    server: Server,
    category: str,
    name: str,
    edit: Callable[[dict[str, Any]], None],
    notes: str = "",
) -> int:
    """Open the record page, edit the pre-filled JSON, submit; returns the new change id."""
    visit(page, f"{server.base_url}/ui/catalog/{category}/{quote(name)}")
    record = json.loads(page.input_value("#payload"))
    edit(record)
    page.fill("#payload", json.dumps(record, indent=2))
    page.fill("#notes", notes)
    page.get_by_role("button", name="Propose this edit").click()
    page.wait_for_url(re.compile(r"/ui/changes/\d+\?notice=proposed$"))
    return int(page.url.split("/ui/changes/")[1].split("?")[0])


def status_of(server: Server, change_id: int) -> str:
    services = server.services()
    try:
        return str(services.review.get_change(change_id).status.value)
    finally:
        services.db.dispose()


def test_propose_review_approve_apply_and_history(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    model = "Meadow 2"
    alice = signed_in("alice")

    # A requestor finds the model through the catalog browser and flips nsfw.
    visit(alice, server.base_url + "/ui/catalog")
    alice.get_by_role("link", name="image_generation").click()
    alice.get_by_role("link", name=model, exact=True).click()
    assert json.loads(alice.input_value("#payload"))["nsfw"] is False
    record = json.loads(alice.input_value("#payload"))
    record["nsfw"] = True
    alice.fill("#payload", json.dumps(record, indent=2))
    alice.fill("#notes", "Marked NSFW after a report from a worker.")
    alice.get_by_role("button", name="Propose this edit").click()
    alice.wait_for_url(re.compile(r"/ui/changes/\d+\?notice=proposed$"))
    change_id = int(alice.url.split("/ui/changes/")[1].split("?")[0])
    assert "queued for review" in alice.inner_text("main")

    # The requestor has no approve button, neither on the change nor in the queue.
    assert alice.get_by_role("button", name="Approve selected").count() == 0
    visit(alice, server.base_url + "/ui/queue")
    assert alice.get_by_role("button", name="Approve selected").count() == 0
    assert alice.locator("input[name=change_ids]").count() == 0

    # Other people's work in the queue: an ordinary edit and two conflicting ones.
    seed_edit(server, "Ember Portrait", "Inspired by Gorillaz art and FLCL.", "rita")
    first = seed_edit(server, "Orchard Fantasy", "D&D characters, more species.", "rita")
    seed_edit(server, "Orchard Fantasy", "D&D character art.", "carol")

    # The approver sees it in the queue with a critical badge ...
    bob = signed_in("bob")
    visit(bob, f"{server.base_url}/ui/queue")
    row = bob.locator("tbody tr", has=bob.locator(f"a[href='/ui/changes/{change_id}']")).first
    assert row.locator(".b-critical").inner_text() == "critical"
    other = bob.locator("tbody tr", has=bob.locator(f"a[href='/ui/changes/{first}']")).first
    assert other.locator(".b-conflict").count() == 1 and other.locator(".b-critical").count() == 0
    screenshot(bob, "queue")

    # ... opens the side-by-side diff: nsfw is flagged critical, old false, new true.
    row.get_by_role("link", name=model).click()
    bob.wait_for_url(f"**/ui/changes/{change_id}")
    nsfw = bob.locator("tr.critical", has=bob.locator("th", has_text="nsfw")).first
    assert "critical" in nsfw.inner_text()
    assert nsfw.locator("del").inner_text() == "false"
    assert nsfw.locator("ins").inner_text() == "true"
    assert "Marked NSFW after a report" in bob.inner_text("main")
    assert bob.locator(".sbs td.ins", has_text='"nsfw": true').count() == 1
    screenshot(bob, "change")

    # ... approves it in a titled batch ...
    bob.fill("#batch_title", "NSFW flag for SD 2.1")
    bob.get_by_role("button", name="Approve selected").click()
    bob.wait_for_url(re.compile(r"/ui/batches/\d+\?notice=approved$"))
    batch_id = int(bob.url.split("/ui/batches/")[1].split("?")[0])
    assert status_of(server, change_id) == "approved"

    # ... and applies the batch.
    bob.get_by_role("button", name=f"Apply batch {batch_id}").click()
    bob.wait_for_url(f"**/ui/batches/{batch_id}?notice=applied")
    assert "applied" in bob.locator("tbody").inner_text()
    assert status_of(server, change_id) == "applied"

    # The catalog shows the new value.
    visit(bob, f"{server.base_url}/ui/catalog/image_generation/{quote(model)}")
    assert json.loads(bob.inner_text("#record-json"))["nsfw"] is True

    # The history shows the batch with its net change; the model's timeline has every step.
    visit(bob, server.base_url + "/ui/history")
    section = bob.locator("section.batch", has_text="NSFW flag for SD 2.1").first
    assert f"Batch {batch_id}" in section.inner_text()
    assert "nsfw" in section.inner_text()
    screenshot(bob, "history")
    section.get_by_role("link", name=model).click()
    timeline = bob.inner_text("ol.timeline")
    for step in ("proposed", "approved", "catalog update"):
        assert step in timeline
    visit(bob, server.base_url + "/ui/history/audit")
    assert "Intact" in bob.inner_text("#chain-status")


def test_missing_reject_reason_is_an_inline_error_and_changes_nothing(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    alice = signed_in("alice")
    change_id = propose(
        alice,
        server,
        "image_generation",
        "Pewter Waifu",
        lambda r: r.update(description="Anime styled generations, refreshed."),
    )
    bob = signed_in("bob")
    visit(bob, f"{server.base_url}/ui/queue?model=waifu")
    bob.check(f"#sel-{change_id}")
    bob.get_by_role("button", name="Reject selected").click()
    error = bob.locator("#reject_reason-error")
    assert "required when rejecting" in error.inner_text()
    assert bob.get_attribute("#reject_reason", "aria-invalid") == "true"
    assert bob.is_checked(f"#sel-{change_id}")  # the selection survives the error
    assert status_of(server, change_id) == "pending"

    bob.fill("#reject_reason", "Description already says this.")
    bob.get_by_role("button", name="Reject selected").click()
    bob.wait_for_url(re.compile(r"notice=rejected"))
    assert status_of(server, change_id) == "rejected"


def test_two_person_rule_message_on_own_change(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    carol = signed_in("carol")  # approvers may also request
    change_id = propose(
        carol,
        server,
        "image_generation",
        "Bramble Creatures",
        lambda r: r.update(description="Furry styled generations (edited)."),
    )
    carol.fill("#batch_title", "My own change")
    carol.get_by_role("button", name="Approve selected").click()
    message = carol.locator("#review-error").inner_text()
    assert "cannot approve your own change (two-person rule)" in message
    assert status_of(server, change_id) == "pending"


def test_requestor_withdraws_own_change(server: Server, signed_in: Callable[..., Any]) -> None:
    rita = signed_in("rita")
    change_id = propose(
        rita,
        server,
        "image_generation",
        "Driftwood Sketch",
        lambda r: r.update(description="Western comic book style, bolder."),
    )
    rita.get_by_role("button", name="Withdraw my change").click()
    rita.wait_for_url(f"**/ui/changes/{change_id}?notice=withdrawn")
    assert "withdrawn" in rita.inner_text("main")
    assert status_of(server, change_id) == "rejected"


def test_forged_posts_are_refused_and_change_nothing(
    server: Server, signed_in: Callable[..., Any]
) -> None:
    alice = signed_in("alice")
    change_id = propose(
        alice,
        server,
        "image_generation",
        "Nimbus Flux",
        lambda r: r.update(description="Pixel art sprites and scenes, v2."),
    )
    bob = signed_in("bob")
    form = {"change_ids": str(change_id), "decision": "approve", "batch_title": "forged"}
    # Same browser, valid session cookie, but no token / a wrong token: 403, nothing changes.
    for extra in ({}, {"csrf_token": "not-the-token"}):
        reply = bob.request.post(server.base_url + "/ui/review", form={**form, **extra})
        assert reply.status == 403
        assert "security token" in reply.text()
    assert status_of(server, change_id) == "pending"
    # A page on another site posting the form: the SameSite=Strict cookie is not sent.
    evil = bob.context.new_page()
    evil.set_content(
        f'<form method="post" action="{server.base_url}/ui/review">'
        f'<input name="change_ids" value="{change_id}"><input name="decision" value="approve">'
        '<input name="batch_title" value="forged"><button>go</button></form>'
    )
    evil.click("button")
    evil.wait_for_url("**/ui/login**")
    assert status_of(server, change_id) == "pending"
