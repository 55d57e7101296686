"""Webhooks: subscriptions, one outbox job per (event, subscription), signed deliveries.

The container registers :meth:`Webhooks.queue_events` as a before-commit listener: every
queue event a transaction appended (enqueue, approve, reject, withdraw, apply) becomes one
``webhook`` job per subscription that asked for it, inserted in that same transaction, so a
delivery exists if and only if its event committed, and no delivery runs inside (or slows)
the use case. Outbox workers deliver (:meth:`Webhooks.deliver`), retrying with exponential
backoff; after ``MODELREF_WEBHOOK_MAX_ATTEMPTS`` failures the job is dead: the dead-letter
list is the dead ``webhook`` jobs, and a replay gives one a fresh attempt budget.
"""

from __future__ import annotations

import logging
import secrets
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

from modelref.domain import webhooks
from modelref.domain.actors import Actor
from modelref.domain.address_policy import AddressPolicy, parse_ip
from modelref.domain.audit import QUEUE_CATEGORY, AuditEvent
from modelref.domain.clock import Clock
from modelref.domain.errors import NotFound, ValidationFailed
from modelref.domain.jobs import JobState
from modelref.domain.queue_models import PendingChangeRecord
from modelref.domain.webhooks import Subscription
from modelref.service.outbox import JobContext, Outcome, PermanentFailure
from modelref.service.safe_http import AddressRefused, SafeClient
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.outbox import Job
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.webhooks")

KIND = "webhook"
USER_AGENT = f"modelref/{metadata.version('modelref')} (webhook)"


class DeliveryFailed(Exception):
    """The receiver did not answer 2xx (retried with backoff)."""


class Webhooks:
    """Subscriptions and deliveries over one database."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, client: SafeClient | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.allow = AddressPolicy.parse(settings.check_allow_hosts)
        self.client = client or SafeClient(self.allow, timeout=settings.webhook_timeout)

    # ------------------------------------------------------------------ subscriptions
    def add(
        self,
        url: str,
        events: str | list[str],
        fmt: str,
        secret: str | None,
        actor: Actor,
    ) -> tuple[Subscription, str | None]:
        """Subscribe ``url``; returns the subscription and the secret if one was generated."""
        url = webhooks.check_url(url)
        names = webhooks.parse_events(events)
        fmt = webhooks.check_format(fmt)
        generated = None if secret else secrets.token_urlsafe(32)
        secret = webhooks.check_secret(secret or generated or "")
        literal = parse_ip(urlsplit(url).hostname or "")
        if literal is not None:
            reason = self.allow.check(str(literal), literal)
            if reason is not None:
                raise ValidationFailed(f"url: {reason}")
        with self.db.write() as tx:
            sub = tx.webhooks.add(
                url, names, fmt, secret, actor.user_id, actor.username, self.clock()
            )
        log.info("webhook %s added for %s (%s) by %s", sub.subscription_id, url, fmt, actor.user_id)
        return sub, generated

    def subscriptions(self) -> list[Subscription]:
        with self.db.read() as tx:
            return tx.webhooks.all()

    def remove(self, subscription_id: int) -> None:
        with self.db.write() as tx:
            if not tx.webhooks.remove(subscription_id):
                raise NotFound(f"No webhook subscription {subscription_id}")

    def failures(self, limit: int = 100) -> list[Job]:
        """The dead-letter list: deliveries that ran out of attempts."""
        with self.db.read() as tx:
            return tx.outbox.list({JobState.dead}, {KIND}, limit)

    def replay(self, job_id: int) -> Job:
        """Give a dead delivery a fresh attempt budget."""
        with self.db.write() as tx:
            job = tx.outbox.get(job_id)
            if job is None or job.kind != KIND or job.state is not JobState.dead:
                raise NotFound(f"No failed webhook delivery {job_id}")
            tx.outbox.replay(job_id, self.clock())
            replayed = tx.outbox.get(job_id)
        assert replayed is not None
        return replayed

    # ------------------------------------------------------------------ queueing
    def queue_events(self, tx: Transaction) -> None:
        """Before-commit listener: one delivery job per (queue event, subscription)."""
        events = [
            e
            for e in tx.audit.appended
            if e.category == QUEUE_CATEGORY and e.action in webhooks.EVENTS and e.change_id
        ]
        if not events:
            return
        subscribers = tx.webhooks.all()
        if not subscribers:
            return
        changes = tx.queue.get_many({e.change_id for e in events if e.change_id is not None})
        version = tx.releases.recorded[-1] if tx.releases.recorded else None
        jobs: list[tuple[dict[str, Any], str | None]] = []
        for event in events:
            assert event.change_id is not None
            body = self.event_body(event, changes.get(event.change_id), version)
            jobs += [
                (
                    {"subscription_id": s.subscription_id, "event": body},
                    f"webhook:{s.subscription_id}",
                )
                for s in subscribers
                if event.action in s.events
            ]
        tx.outbox.add_many(
            KIND, jobs, now=events[-1].timestamp, max_attempts=self.settings.webhook_max_attempts
        )

    def event_body(
        self, event: AuditEvent, change: PendingChangeRecord | None, version: int | None
    ) -> dict[str, Any]:
        after = event.payload.get("after") or {}
        if change is None and event.action == "enqueue":
            change = PendingChangeRecord.model_validate(after["record"])
        body: dict[str, Any] = {
            "event": event.action,
            "event_id": event.event_id,
            "timestamp": event.timestamp,
            "actor": {"user_id": event.logical_user_id, "username": event.username},
            "change": _change(change, event.change_id),
            "url": self._link(event.change_id),
        }
        if after.get("reason"):
            body["reason"] = after["reason"]
        if event.action == "apply":
            body["catalog_version"] = version
        return body

    def _link(self, change_id: int | None) -> str | None:
        base = (self.settings.public_url or "").rstrip("/")
        return f"{base}/ui/changes/{change_id}" if base and change_id else None

    # ------------------------------------------------------------------ delivery
    def deliver(self, job: Job, ctx: JobContext) -> Outcome:
        """Outbox handler: post one event to one subscription, signed."""
        sub_id = int(job.payload["subscription_id"])
        with self.db.read() as tx:
            sub = tx.webhooks.get(sub_id)
        if sub is None:  # removed since the event: nobody wants it any more
            return Outcome(result={"skipped": f"subscription {sub_id} was removed"})
        body = webhooks.render(sub.format, job.payload["event"])
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Modelref-Event": str(job.payload["event"].get("event")),
            "X-Modelref-Delivery": str(job.job_id),
            webhooks.TIMESTAMP_HEADER: str(now),
            webhooks.SIGNATURE_HEADER: webhooks.signature(sub.secret, now, body),
        }
        try:
            reply = self.client.post(sub.url, body, headers)
        except AddressRefused as exc:
            raise PermanentFailure(str(exc)) from exc
        if not 200 <= reply.status < 300:
            text = reply.body[:200].decode("utf-8", "replace")
            raise DeliveryFailed(f"HTTP {reply.status} from {sub.url}: {text}")
        return Outcome(result={"status": reply.status, "subscription_id": sub_id})


def _change(change: PendingChangeRecord | None, change_id: int | None) -> dict[str, Any]:
    if change is None:
        return {"change_id": change_id}
    return {
        "change_id": change.change_id,
        "category": change.category.value,
        "model_name": change.model_name,
        "operation": change.operation.value,
        "status": change.status.value,
        "requested_by": change.requested_by,
        "requested_username": change.requested_username,
        "batch_id": change.batch_id,
        "batch_title": change.batch_title,
    }


def failure_wire(job: Job) -> dict[str, Any]:
    """A dead delivery as the CLI and the API show it."""
    event = job.payload.get("event") or {}
    return {
        "job_id": job.job_id,
        "subscription_id": job.payload.get("subscription_id"),
        "event": event.get("event"),
        "event_id": event.get("event_id"),
        "change_id": (event.get("change") or {}).get("change_id"),
        "attempts": job.attempts,
        "last_error": job.last_error,
        "updated_at": job.updated_at,
        "state": job.state.value,
    }
