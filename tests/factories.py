"""Small builders for test data (payloads written for these tests, not copied from anywhere)."""

from __future__ import annotations

from typing import Any

from modelref.domain.canonical import content_hash
from modelref.domain.queue_models import now_ts
from modelref.service.queue import PendingQueueService
from modelref.store import catalog_store

ALICE = ("1001", "alice#1001")
BOB = ("2002", "bob#2002")
CAROL = ("3003", "carol#3003")


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


def seed_catalog(svc: PendingQueueService, category: str, record: dict[str, Any]) -> str:
    """Put a live record straight into the catalog (test set-up only)."""
    digest = content_hash(record)
    assert digest is not None
    with svc.db.write() as conn:
        catalog_store.put(conn, category, record["name"], record, digest, None, now_ts())
        catalog_store.bump_version(conn, category, now_ts(), "create", record["name"])
    return digest
