"""Small builders for test data (payloads written for these tests, not copied from anywhere)."""

from __future__ import annotations

from typing import Any

from modelref.domain.canonical import content_hash
from modelref.domain.queue_models import now_ts
from modelref.service.queue import PendingQueueService
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database

ALICE = ("1001", "alice#1001")
BOB = ("2002", "bob#2002")
CAROL = ("3003", "carol#3003")


class ManualClock:
    """A service clock that moves only when a test says so (whole seconds)."""

    def __init__(self, now: int = 1_800_000_000) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: int) -> None:
        self.now += seconds


def misc_payload(name: str, description: str = "a helper model") -> dict[str, Any]:
    return {
        "name": name,
        "description": description,
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": "0" * 64,
                }
            ]
        },
    }


def enqueue_create(svc: PendingQueueService, name: str, who: tuple[str, str] = ALICE) -> int:
    rec = svc.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation="create",
        payload=misc_payload(name),
        requestor_id=who[0],
        requestor_username=who[1],
    )
    return rec.change_id


def seed_catalog(db: Database, category: str, record: dict[str, Any]) -> str:
    """Put a live record straight into the catalog (test set-up only)."""
    digest = content_hash(record)
    assert digest is not None
    row = CatalogRow(category, record["name"], record, digest)
    with db.write() as tx:
        tx.catalog.write(category, [row], [], now_ts(), {"create": 1}, ("create", record["name"]))
    return digest
