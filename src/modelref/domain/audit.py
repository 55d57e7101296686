"""Audit events, their hash chain and the pure fold that rebuilds queue state from them.

Each event's ``hash`` is ``sha256(prev_hash + canonical_json(event))`` where ``event`` is every
field except the two hashes, so altering any stored field, deleting or re-ordering rows breaks
the chain at the first altered event.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any

from modelref.domain.canonical import canonical_json
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action

GENESIS_HASH = "0" * 64
QUEUE_CATEGORY = "pending_queue"


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log."""

    event_id: int
    timestamp: int
    domain: str
    category: str
    model_name: str
    operation: str
    action: str | None
    change_id: int | None
    batch_id: int | None
    job_id: str | None
    logical_user_id: str | None
    username: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed content: everything except the chain fields (no deep copy: read-only)."""
        return {name: getattr(self, name) for name in _BODY_FIELDS}


_BODY_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.name not in ("prev_hash", "hash"))


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash an event must carry given its predecessor's hash."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(event.body()).encode("utf-8"))
    return digest.hexdigest()


def first_broken(events: list[AuditEvent]) -> tuple[int, str] | None:
    """Return ``(event_id, reason)`` of the first event that breaks the chain, else ``None``."""
    prev = GENESIS_HASH
    expected_id: int | None = None
    for ev in events:
        if expected_id is not None and ev.event_id != expected_id:
            return ev.event_id, f"event ids jump from {expected_id - 1} to {ev.event_id}"
        if ev.prev_hash != prev:
            return ev.event_id, "prev_hash does not match the previous event's hash"
        if chain_hash(prev, ev) != ev.hash:
            return ev.event_id, "content does not match its hash"
        prev = ev.hash
        expected_id = ev.event_id + 1
    return None


def replay_queue(events: list[AuditEvent]) -> dict[int, PendingChangeRecord]:
    """Rebuild every queue record from queue events alone (ordered by ``event_id``)."""
    records: dict[int, PendingChangeRecord] = {}
    for ev in events:
        if ev.category != QUEUE_CATEGORY or ev.action is None:
            continue
        _fold(records, ev)
    return records


def replay_catalog(events: list[AuditEvent]) -> dict[str, dict[str, dict[str, Any]]]:
    """Rebuild every category's live records from import and apply events alone."""
    catalog: dict[str, dict[str, dict[str, Any]]] = {}
    for ev in events:
        if ev.category == QUEUE_CATEGORY:
            continue
        records = catalog.setdefault(ev.category, {})
        if ev.action == "import":
            catalog[ev.category] = dict(ev.payload["records"])
        elif ev.operation == "delete":
            records.pop(ev.model_name, None)
        elif ev.operation in ("create", "update"):
            records[ev.model_name] = ev.payload["after"]
    return catalog


def _fold(records: dict[int, PendingChangeRecord], ev: AuditEvent) -> None:
    body = ev.payload.get("after", {})
    action = Action(ev.action or "")
    if action is Action.enqueue:
        rec = PendingChangeRecord.model_validate(body["record"])
        records[rec.change_id] = rec
        return
    if action is Action.batch_split:
        for cid in body["reassigned_change_ids"]:
            records[cid] = records[cid].model_copy(
                update={"batch_id": body["new_batch_id"], "updated_at": ev.timestamp}
            )
        return
    assert ev.change_id is not None
    if action is Action.purge:
        records.pop(ev.change_id, None)
        return
    rec = records[ev.change_id]
    update: dict[str, Any] = {"updated_at": ev.timestamp}
    if action is Action.approve:
        update |= {
            "status": PendingChangeStatus.APPROVED,
            "batch_id": body["batch_id"],
            "batch_title": body["batch_title"],
            "approved_by": ev.logical_user_id,
            "approved_username": ev.username,
            "approved_at": ev.timestamp,
        }
    elif action in (Action.reject, Action.withdraw):
        update |= {
            "status": PendingChangeStatus.REJECTED,
            "batch_id": body.get("batch_id", rec.batch_id),
            "batch_title": body.get("batch_title", rec.batch_title),
            "rejected_by": ev.logical_user_id,
            "rejected_username": ev.username,
            "rejected_at": ev.timestamp,
            "reject_reason": body["reason"],
        }
    elif action is Action.reserve:
        update |= {"status": PendingChangeStatus.APPLYING, "applied_job_id": body["job_id"]}
    elif action in (Action.release, Action.recover):
        update |= {
            "status": PendingChangeStatus.APPROVED,
            "applied_job_id": None,
            "batch_id": body.get("batch_id", rec.batch_id),
        }
    elif action is Action.apply:
        update |= {
            "status": PendingChangeStatus.APPLIED,
            "applied_by": ev.logical_user_id,
            "applied_username": ev.username,
            "applied_at": ev.timestamp,
            "applied_job_id": body["job_id"],
        }
    records[ev.change_id] = rec.model_copy(update=update)
