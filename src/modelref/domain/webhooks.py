"""Webhook subscriptions, event bodies (JSON and Discord) and their signature (pure rules).

Every delivery carries ``X-Modelref-Timestamp: <unix seconds>`` and
``X-Modelref-Signature: sha256=<hex>``, the HMAC-SHA256 with the subscription's secret over
``<timestamp>.<body>``. A receiver recomputes it, compares in constant time, and refuses
timestamps far from its clock, so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from modelref.domain.errors import ValidationFailed

#: Queue actions a subscription can ask for (audit ``action`` names).
EVENTS = ("enqueue", "approve", "reject", "withdraw", "apply")
FORMATS = ("json", "discord")
SIGNATURE_HEADER = "X-Modelref-Signature"
TIMESTAMP_HEADER = "X-Modelref-Timestamp"
MAX_URL = 2000
MIN_SECRET = 16

_VERBS = {
    "enqueue": "proposed",
    "approve": "approved",
    "reject": "rejected",
    "withdraw": "withdrawn",
    "apply": "applied",
}
#: Discord embed colours per event.
_COLOURS = {
    "enqueue": 0x3498DB,
    "approve": 0x2ECC71,
    "reject": 0xE74C3C,
    "withdraw": 0x95A5A6,
    "apply": 0x9B59B6,
}


@dataclass(frozen=True)
class Subscription:
    """Where to send which events, in which format, signed with which secret."""

    subscription_id: int
    url: str
    events: tuple[str, ...]
    format: str
    secret: str
    created_by: str
    created_username: str
    created_at: int

    def public(self) -> dict[str, Any]:
        """The wire form: everything but the secret."""
        return {
            "subscription_id": self.subscription_id,
            "url": self.url,
            "events": list(self.events),
            "format": self.format,
            "created_by": self.created_by,
            "created_username": self.created_username,
            "created_at": self.created_at,
        }


def parse_events(raw: str | list[str]) -> tuple[str, ...]:
    """``"enqueue,approve"`` or a list -> the known events in canonical order."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    names = {item.strip().lower() for item in items if item and item.strip()}
    unknown = sorted(names - set(EVENTS))
    if unknown:
        raise ValidationFailed(
            f"events: unknown event(s) {', '.join(unknown)}; expected some of {', '.join(EVENTS)}"
        )
    if not names:
        raise ValidationFailed(f"events: name at least one of {', '.join(EVENTS)}")
    return tuple(e for e in EVENTS if e in names)


def check_format(value: str) -> str:
    if value not in FORMATS:
        raise ValidationFailed(f"format: expected json or discord, got {value!r}")
    return value


def check_url(url: str) -> str:
    """An absolute http(s) URL with a host and no credentials (addresses are checked later)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        raise ValidationFailed(f"url: give an http:// or https:// URL of at most {MAX_URL} chars")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValidationFailed(f"url: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed(f"url: expected an http:// or https:// URL with a host, got {url!r}")
    if parts.username or parts.password:
        raise ValidationFailed("url: must not carry a user name or password")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValidationFailed(f"url: bad port in {url!r}") from None
    return url


def check_secret(secret: str) -> str:
    if len(secret) < MIN_SECRET:
        raise ValidationFailed(f"secret: at least {MIN_SECRET} characters")
    if len(secret) > 256:
        raise ValidationFailed("secret: at most 256 characters")
    return secret


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Modelref-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def render(fmt: str, event: dict[str, Any]) -> bytes:
    """The request body of one event in a subscription's format."""
    if fmt == "discord":
        return json.dumps(discord(event), ensure_ascii=False).encode("utf-8")
    return json.dumps(event, ensure_ascii=False, sort_keys=True).encode("utf-8")


def discord(event: dict[str, Any]) -> dict[str, Any]:
    """A Discord webhook message: one readable embed; mentions in names never ping anyone."""
    change = event.get("change") or {}
    kind = str(event.get("event", ""))
    title = f"Change {change.get('change_id')} {_VERBS.get(kind, kind)}"
    fields = [
        ("Model", change.get("model_name")),
        ("Category", change.get("category")),
        ("Operation", change.get("operation")),
        ("Requester", change.get("requested_username")),
        ("By", (event.get("actor") or {}).get("username")),
    ]
    if change.get("batch_title"):
        fields.append(("Batch", f"{change['batch_title']} (#{change.get('batch_id')})"))
    if event.get("reason"):
        fields.append(("Reason", event["reason"]))
    if event.get("catalog_version") is not None:
        fields.append(("Catalog version", event["catalog_version"]))
    embed: dict[str, Any] = {
        "title": title[:256],
        "color": _COLOURS.get(kind, 0),
        "fields": [
            {"name": name, "value": str(value)[:1024], "inline": name != "Reason"}
            for name, value in fields
            if value not in (None, "")
        ],
        "timestamp": datetime.fromtimestamp(int(event.get("timestamp", 0)), UTC).isoformat(),
    }
    if event.get("url"):
        embed["url"] = event["url"]
    return {"username": "modelref", "embeds": [embed], "allowed_mentions": {"parse": []}}
