"""Shared set-up of the governance tests: a deployment with a policy, people, image records."""

from __future__ import annotations

from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.queue_models import PendingBatchResult, PendingChangeRecord
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import ManualClock, seed_catalog

ALICE = Actor("1001", "alice#1001")  # proposes
BOB = Actor("2002", "bob#2002")  # approves
CAROL = Actor("3003", "carol#3003")  # approves
DAVE = Actor("4004", "dave#4004")  # approves

IMAGE = "image_generation"


#: Every deployment a test opened; tests/governance/conftest.py closes them after each test.
OPENED: list[Services] = []


def open_services(url: str, clock: ManualClock | None = None, **settings: Any) -> Services:
    base = Settings(database_url=url, **settings)
    services = Services.open(base, clock=clock or ManualClock())
    OPENED.append(services)
    return services


def image_record(
    name: str, *, nsfw: bool = False, description: str = "a test checkpoint"
) -> dict[str, Any]:
    """A small valid ``image_generation`` v2 record (written for these tests)."""
    return {
        "record_type": IMAGE,
        "name": name,
        "description": description,
        "baseline": "stable_diffusion_xl",
        "nsfw": nsfw,
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": "a" * 64,
                    "known_slow_download": False,
                }
            ]
        },
    }


def seed_image(svc: Services, name: str, **fields: Any) -> str:
    return seed_catalog(svc.db, IMAGE, image_record(name, **fields))


def propose(
    svc: Services,
    name: str,
    operation: str = "update",
    payload: dict[str, Any] | None = None,
    who: Actor = ALICE,
    category: str = IMAGE,
) -> PendingChangeRecord:
    return svc.review.enqueue_change(
        category=category,
        model_name=name,
        operation=operation,
        payload=payload,
        requestor_id=who.user_id,
        requestor_username=who.username,
    )


def approve(svc: Services, ids: list[int], who: Actor, title: str = "review") -> PendingBatchResult:
    return svc.review.process_batch(
        approver_id=who.user_id,
        approver_username=who.username,
        batch_title=title,
        approved_ids=ids,
        rejected_ids=None,
    )


def reject(svc: Services, ids: list[int], who: Actor, reason: str = "no") -> PendingBatchResult:
    return svc.review.process_batch(
        approver_id=who.user_id,
        approver_username=who.username,
        batch_title="rejections",
        approved_ids=None,
        rejected_ids=ids,
        reject_reason=reason,
    )


def approvers(record: PendingChangeRecord) -> list[tuple[str, bool]]:
    """(approver id, stale) of every recorded approval, in order."""
    return [(a.approved_by, a.stale) for a in record.approvals or []]


def log_state(svc: Services) -> tuple[Any, ...]:
    """The queue, the audit event count and the catalog versions (what a refusal must keep)."""
    return (
        svc.review.list_changes().model_dump(mode="json"),
        len(svc.audit.events()),
        svc.catalog.versions(),
    )


def live_hash(svc: Services, name: str, category: str = IMAGE) -> str | None:
    """The content hash of the live record (None when absent)."""
    with svc.db.read() as tx:
        row = tx.catalog.get(category, name)
    return row.content_hash if row is not None else None
