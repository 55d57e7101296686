"""SQL for webhook subscriptions (the deliveries themselves are outbox jobs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select

from modelref.domain.webhooks import Subscription
from modelref.store.counters import Counters
from modelref.store.prepared import Prepared
from modelref.store.tables import webhook_subscriptions

W = webhook_subscriptions
SUBSCRIPTION_COUNTER = "webhook_subscription"
#: Read by every write transaction that appends queue events (the before-commit listener).
_ALL = Prepared(select(W).order_by(W.c.subscription_id))


def _subscription(row: tuple[Any, ...]) -> Subscription:
    """A row of :data:`W` (its columns in table order)."""
    sid, url, events, fmt, secret, created_by, created_username, created_at = row
    return Subscription(
        subscription_id=int(sid),
        url=str(url),
        events=tuple(e for e in str(events).split(",") if e),
        format=str(fmt),
        secret=str(secret),
        created_by=str(created_by),
        created_username=str(created_username),
        created_at=int(created_at),
    )


class WebhookRepository:
    """Webhook subscriptions of one transaction."""

    def __init__(self, conn: Connection, counters: Counters) -> None:
        self.conn = conn
        self.counters = counters

    def add(
        self,
        url: str,
        events: tuple[str, ...],
        fmt: str,
        secret: str,
        created_by: str,
        created_username: str,
        now: int,
    ) -> Subscription:
        sub = Subscription(
            subscription_id=self.counters.next(SUBSCRIPTION_COUNTER),
            url=url,
            events=events,
            format=fmt,
            secret=secret,
            created_by=created_by,
            created_username=created_username,
            created_at=now,
        )
        self.conn.execute(
            insert(W).values(
                subscription_id=sub.subscription_id,
                url=url,
                events=",".join(events),
                format=fmt,
                secret=secret,
                created_by=created_by,
                created_username=created_username,
                created_at=now,
            )
        )
        return sub

    def remove(self, subscription_id: int) -> bool:
        q = delete(W).where(W.c.subscription_id == subscription_id)
        return self.conn.execute(q).rowcount == 1

    def get(self, subscription_id: int) -> Subscription | None:
        row = self.conn.execute(select(W).where(W.c.subscription_id == subscription_id)).first()
        return _subscription(tuple(row)) if row is not None else None

    def all(self) -> list[Subscription]:
        return [_subscription(r) for r in _ALL.rows(self.conn)]
