"""Webhook deliveries to a local HTTP receiver, from the outbox, on both engines.

Signatures verify with the subscription's secret; failures retry with backoff and a receiver
that recovers gets the event once; one that never does ends in the dead-letter list, from
which a replay delivers it; private addresses are refused unless allow-listed; redirects are
not followed; a delivery exists only if its event committed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from modelref.domain.actors import Actor
from modelref.domain.errors import PermissionDenied, ValidationFailed
from modelref.domain.jobs import JobState, backoff
from modelref.service.container import Services
from modelref.service.webhooks import KIND
from modelref.settings import Settings
from tests.catalog.helpers import APPLIER, APPROVER, REQUESTER, apply, approve, enqueue, misc_record
from tests.factories import ManualClock
from tests.receiver import Receiver, receiving

SECRET = "a-secret-of-some-length"
OPERATOR = Actor("2002", "bob#2002")


@dataclass
class Hooks:
    svc: Services
    clock: ManualClock
    receiver: Receiver

    def run(self) -> int:
        worker = self.svc.workers.workers[0]
        ran = 0
        while worker.run_once({"webhook"}):  # the changes' review-check jobs wait
            ran += 1
        return ran

    def jobs(self, state: JobState) -> list[Any]:
        with self.svc.db.read() as tx:
            return tx.outbox.list({state}, {KIND})


def open_hooks(url: str, receiver: Receiver, **settings: Any) -> Hooks:
    clock = ManualClock()
    base = {"check_allow_hosts": "127.0.0.1", "public_url": "https://modelref.example.org"}
    svc = Services.open(Settings(database_url=url, **(base | settings)), clock=clock)
    return Hooks(svc, clock, receiver)


@pytest.fixture
def hooks(db_url: str) -> Iterator[Hooks]:
    with receiving() as receiver:
        h = open_hooks(db_url, receiver)
        yield h
        h.svc.db.dispose()


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (written from the documented scheme, not from modelref's code)."""
    stamp = headers["x-modelref-timestamp"]
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-modelref-signature"], f"sha256={mac}")


def test_every_event_is_delivered_signed(hooks: Hooks) -> None:
    sub, generated = hooks.svc.webhooks.add(
        hooks.receiver.url(), "enqueue,approve,apply", "json", SECRET, OPERATOR
    )
    assert generated is None
    cid = enqueue(hooks.svc, "miscellaneous", "hooked", "create", misc_record("hooked"))
    approve(hooks.svc, [cid], "hook batch")
    apply(hooks.svc, [cid])
    assert hooks.receiver.requests == []  # nothing is delivered inside the use cases
    assert hooks.run() == 3
    got = hooks.receiver.requests
    assert [json.loads(r.body)["event"] for r in got] == ["enqueue", "approve", "apply"]
    for request in got:
        assert verify(SECRET, request.headers, request.body)
        assert not verify("another-secret-entirely", request.headers, request.body)
        assert not verify(SECRET, request.headers, request.body + b" ")
        assert request.headers["x-modelref-timestamp"] == str(hooks.clock())
        assert request.headers["content-type"] == "application/json"
    applied = json.loads(got[2].body)
    assert applied["change"] == {
        "change_id": cid,
        "category": "miscellaneous",
        "model_name": "hooked",
        "operation": "create",
        "status": "applied",
        "requested_by": REQUESTER.user_id,
        "requested_username": REQUESTER.username,
        "batch_id": 1,
        "batch_title": "hook batch",
    }
    assert applied["actor"] == {"user_id": APPLIER.user_id, "username": APPLIER.username}
    assert applied["catalog_version"] == hooks.svc.feed.latest_version()
    assert applied["url"] == f"https://modelref.example.org/ui/changes/{cid}"
    assert json.loads(got[1].body)["actor"]["username"] == APPROVER.username
    delivery_ids = {r.headers["x-modelref-delivery"] for r in got}
    assert len(delivery_ids) == 3
    assert [s.public() for s in hooks.svc.webhooks.subscriptions()] == [sub.public()]
    assert "secret" not in sub.public()


def test_a_receiver_failing_twice_then_succeeding_gets_the_event_once(hooks: Hooks) -> None:
    hooks.receiver.script = [500, 503]
    hooks.svc.webhooks.add(hooks.receiver.url(), "enqueue", "json", SECRET, OPERATOR)
    enqueue(hooks.svc, "miscellaneous", "retry", "create", misc_record("retry"))
    assert hooks.run() == 1
    (job,) = hooks.jobs(JobState.pending)
    assert job.attempts == 1 and "HTTP 500" in (job.last_error or "")
    assert hooks.run() == 0  # not due before its backoff
    hooks.clock.advance(backoff(1))
    assert hooks.run() == 1
    hooks.clock.advance(backoff(2))
    assert hooks.run() == 1
    hooks.clock.advance(3600)
    assert hooks.run() == 0
    assert len(hooks.receiver.requests) == 3
    (accepted,) = hooks.receiver.accepted()
    assert verify(SECRET, accepted.headers, accepted.body)
    (done,) = hooks.jobs(JobState.done)
    assert done.attempts == 3 and done.result == {"status": 200, "subscription_id": 1}


def test_a_receiver_that_always_fails_ends_in_the_dead_letter_list(db_url: str) -> None:
    with receiving(default=500) as receiver:
        hooks = open_hooks(db_url, receiver, webhook_max_attempts=3)
        try:
            hooks.svc.webhooks.add(receiver.url(), "enqueue", "discord", SECRET, OPERATOR)
            cid = enqueue(hooks.svc, "miscellaneous", "doomed", "create", misc_record("doomed"))
            for _ in range(5):
                hooks.run()
                hooks.clock.advance(3600)
            assert len(receiver.requests) == 3
            (dead,) = hooks.svc.webhooks.failures()
            assert dead.attempts == 3 and "HTTP 500" in (dead.last_error or "")
            assert dead.payload["event"]["change"]["change_id"] == cid
            receiver.default = 204  # the receiver is fixed; the operator replays
            replayed = hooks.svc.webhooks.replay(dead.job_id)
            assert replayed.state is JobState.pending and replayed.attempts == 0
            assert hooks.run() == 1
            assert hooks.svc.webhooks.failures() == []
            assert len(receiver.accepted()) == 1
            with pytest.raises(Exception, match=f"No failed webhook delivery {dead.job_id}"):
                hooks.svc.webhooks.replay(dead.job_id)  # done, not dead
        finally:
            hooks.svc.db.dispose()


def test_the_discord_format_is_a_readable_embed_that_pings_nobody(hooks: Hooks) -> None:
    hooks.svc.webhooks.add(hooks.receiver.url(), "enqueue", "discord", SECRET, OPERATOR)
    cid = enqueue(hooks.svc, "miscellaneous", "@everyone", "create", misc_record("@everyone"))
    hooks.run()
    message = json.loads(hooks.receiver.requests[0].body)
    assert message["allowed_mentions"] == {"parse": []}
    (embed,) = message["embeds"]
    assert embed["title"] == f"Change {cid} proposed"
    assert embed["url"] == f"https://modelref.example.org/ui/changes/{cid}"
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Model"] == "@everyone" and fields["Category"] == "miscellaneous"
    assert fields["Operation"] == "create" and fields["Requester"] == REQUESTER.username


def test_private_addresses_are_refused_unless_allow_listed(db_url: str) -> None:
    with receiving() as receiver:
        hooks = open_hooks(db_url, receiver, check_allow_hosts="")
        try:
            with pytest.raises(ValidationFailed, match=r"url: 127\.0\.0\.1 is a loopback address"):
                hooks.svc.webhooks.add(receiver.url(), "enqueue", "json", SECRET, OPERATOR)
            for url in ("http://169.254.169.254/latest", "http://[::1]:9/", "http://10.1.2.3/"):
                with pytest.raises(ValidationFailed, match="url: "):
                    hooks.svc.webhooks.add(url, "enqueue", "json", SECRET, OPERATOR)
            # A name is checked once resolved, at delivery: localhost is loopback.
            hooks.svc.webhooks.add(
                receiver.url(host="localhost"), "enqueue", "json", SECRET, OPERATOR
            )
            enqueue(hooks.svc, "miscellaneous", "inward", "create", misc_record("inward"))
            assert hooks.run() == 1
            (dead,) = hooks.svc.webhooks.failures()  # buried at once: retrying cannot help
            assert dead.attempts == 1 and "loopback" in (dead.last_error or "")
            assert receiver.requests == []
        finally:
            hooks.svc.db.dispose()


def test_redirects_are_not_followed_and_slow_receivers_time_out(db_url: str) -> None:
    with receiving(default=302) as receiver:
        hooks = open_hooks(db_url, receiver, webhook_timeout=0.5)
        try:
            hooks.svc.webhooks.add(receiver.url(), "enqueue", "json", SECRET, OPERATOR)
            enqueue(hooks.svc, "miscellaneous", "moved", "create", misc_record("moved"))
            hooks.run()
            assert [r.path for r in receiver.requests] == ["/hook"]  # never /elsewhere
            (job,) = hooks.jobs(JobState.pending)
            assert "HTTP 302" in (job.last_error or "")
            receiver.default, receiver.delay = 200, 2.0
            hooks.clock.advance(3600)
            hooks.run()
            (job,) = hooks.jobs(JobState.pending)
            assert "timed out" in (job.last_error or "")
        finally:
            hooks.svc.db.dispose()


def test_only_committed_events_that_a_subscription_asked_for_are_delivered(hooks: Hooks) -> None:
    hooks.svc.webhooks.add(hooks.receiver.url("/applies"), "apply", "json", SECRET, OPERATOR)
    removed, _ = hooks.svc.webhooks.add(
        hooks.receiver.url("/gone"), "enqueue", "json", SECRET, OPERATOR
    )
    cid = enqueue(hooks.svc, "miscellaneous", "mine", "create", misc_record("mine"))
    with pytest.raises(PermissionDenied):  # the requester may not approve her own change
        hooks.svc.review.process_batch(
            approver_id=REQUESTER.user_id,
            approver_username=REQUESTER.username,
            batch_title="self",
            approved_ids=[cid],
            rejected_ids=None,
        )
    hooks.svc.webhooks.remove(removed.subscription_id)
    assert hooks.run() == 1  # the enqueue delivery, skipped: its subscription is gone
    assert hooks.receiver.requests == []
    (skipped,) = hooks.jobs(JobState.done)
    assert skipped.result == {"skipped": "subscription 2 was removed"}


def test_bad_subscriptions_are_refused_naming_the_field(hooks: Hooks) -> None:
    add = hooks.svc.webhooks.add
    with pytest.raises(ValidationFailed, match="events: unknown event"):
        add(hooks.receiver.url(), "enqueue,explode", "json", SECRET, OPERATOR)
    with pytest.raises(ValidationFailed, match="format"):
        add(hooks.receiver.url(), "enqueue", "xml", SECRET, OPERATOR)
    with pytest.raises(ValidationFailed, match="url"):
        add("ftp://example.org/x", "enqueue", "json", SECRET, OPERATOR)
    with pytest.raises(ValidationFailed, match="url: must not carry"):
        add("https://user:pw@example.org/x", "enqueue", "json", SECRET, OPERATOR)
    with pytest.raises(ValidationFailed, match="secret"):
        add(hooks.receiver.url(), "enqueue", "json", "short", OPERATOR)
    assert hooks.svc.webhooks.subscriptions() == []
    _sub, generated = add(hooks.receiver.url(), "enqueue", "json", None, OPERATOR)
    assert generated is not None and len(generated) >= 32
