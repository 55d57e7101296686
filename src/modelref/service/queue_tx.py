"""Queue steps that run inside a caller's write transaction.

:func:`transition` is the single chokepoint for status changes: it checks the state-machine
table, compare-and-sets the row and appends the audit event, all on the caller's connection, so
the apply engine can combine queue steps with catalog writes in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from modelref.domain import transitions
from modelref.domain.audit import QUEUE_CATEGORY
from modelref.domain.errors import InvalidTransition, NotFound
from modelref.domain.queue_models import (
    BatchSplitInfo,
    PendingChangeRecord,
    PendingChangeStatus,
)
from modelref.domain.transitions import Action
from modelref.store import audit_store, queue_store

log = logging.getLogger("modelref.queue")


@dataclass(frozen=True)
class Actor:
    """Who does something: an AI Horde style user id and display name."""

    user_id: str
    username: str


def queue_event(
    *,
    domain: str,
    action: Action,
    actor: Actor,
    now: int,
    body: dict[str, Any],
    change_id: int | None = None,
    batch_id: int | None = None,
    job_id: str | None = None,
) -> dict[str, Any]:
    """Fields of one queue lifecycle event (upstream shape: ``payload.after`` + ``action``)."""
    return {
        "timestamp": now,
        "domain": domain,
        "category": QUEUE_CATEGORY,
        "model_name": str(change_id) if change_id is not None else "queue",
        "operation": "update",
        "action": action.value,
        "change_id": change_id,
        "batch_id": batch_id,
        "job_id": job_id,
        "logical_user_id": actor.user_id,
        "username": actor.username,
        "payload": {"after": {**body, "action": action.value}},
    }


def audit_queue(conn: Connection, **kwargs: Any) -> None:
    """Append one queue lifecycle event."""
    audit_store.append(conn, **queue_event(**kwargs))


def insert_new(conn: Connection, record: PendingChangeRecord, domain: str) -> PendingChangeRecord:
    """Allocate the change id, insert the record and audit it with its full content."""
    change_id = queue_store.next_id(conn, "change_id")
    record = record.model_copy(update={"change_id": change_id})
    queue_store.insert_change(conn, record)
    audit_queue(
        conn,
        domain=domain,
        action=Action.enqueue,
        actor=Actor(record.requested_by, record.requested_username),
        now=record.requested_at,
        change_id=change_id,
        body={
            "change_id": change_id,
            "operation": record.operation.value,
            "category": record.category.value,
            "model": record.model_name,
            "record": record.model_dump(mode="json"),
        },
    )
    return record


def load(conn: Connection, change_id: int) -> PendingChangeRecord:
    record = queue_store.get(conn, change_id)
    if record is None:
        raise NotFound(f"Change {change_id} not found.")
    return record


def transition(
    conn: Connection,
    record: PendingChangeRecord,
    action: Action,
    *,
    actor: Actor,
    now: int,
    domain: str,
    values: dict[str, Any] | None = None,
    body: dict[str, Any] | None = None,
    store_only: dict[str, Any] | None = None,
) -> PendingChangeRecord:
    """Move ``record`` along ``action``: check, compare-and-set, audit. Returns the new record."""
    new_status = transitions.check(action, record.status, record.change_id)
    changes = {**(values or {}), "updated_at": now}
    if not queue_store.set_status(
        conn, record.change_id, record.status, new_status, {**changes, **(store_only or {})}
    ):
        current = load(conn, record.change_id)
        raise InvalidTransition(
            f"Change {record.change_id} changed concurrently (status={current.status.value})."
        )
    updated = record.model_copy(update={**changes, "status": new_status})
    audit_queue(
        conn,
        domain=domain,
        action=action,
        actor=actor,
        now=now,
        change_id=record.change_id,
        batch_id=updated.batch_id,
        job_id=updated.applied_job_id,
        body={"change_id": record.change_id, **(body or {})},
    )
    return updated


def transition_many(
    conn: Connection,
    records: list[PendingChangeRecord],
    action: Action,
    *,
    actor: Actor,
    now: int,
    domain: str,
    values: Callable[[PendingChangeRecord], dict[str, Any]],
    body: Callable[[PendingChangeRecord], dict[str, Any]],
    store_only: dict[str, Any] | None = None,
    emit: bool = True,
) -> tuple[list[PendingChangeRecord], list[dict[str, Any]]]:
    """:func:`transition` for many records: one compare-and-set per distinct (status, values).

    Returns the new records and their audit events' fields; with ``emit`` the events are
    appended here, otherwise the caller appends them (to interleave them with others).
    """
    groups: dict[tuple[PendingChangeStatus, str], list[PendingChangeRecord]] = {}
    targets: dict[int, PendingChangeStatus] = {}
    per_record: dict[int, dict[str, Any]] = {}
    for record in records:
        targets[record.change_id] = transitions.check(action, record.status, record.change_id)
        per_record[record.change_id] = {**values(record), "updated_at": now}
        key = (record.status, repr(sorted(per_record[record.change_id].items())))
        groups.setdefault(key, []).append(record)
    for (status, _key), group in groups.items():
        ids = [r.change_id for r in group]
        changes = {**per_record[ids[0]], **(store_only or {})}
        to = targets[ids[0]]
        if queue_store.set_status_many(conn, ids, status, to, changes) != len(ids):
            current = queue_store.get_many(conn, ids)
            moved = next(i for i in ids if current[i].status is not to)
            raise InvalidTransition(
                f"Change {moved} changed concurrently (status={current[moved].status.value})."
            )
    updated: list[PendingChangeRecord] = []
    events: list[dict[str, Any]] = []
    for record in records:
        new = record.model_copy(
            update={**per_record[record.change_id], "status": targets[record.change_id]}
        )
        updated.append(new)
        events.append(
            queue_event(
                domain=domain,
                action=action,
                actor=actor,
                now=now,
                change_id=record.change_id,
                batch_id=new.batch_id,
                job_id=new.applied_job_id,
                body={"change_id": record.change_id, **body(record)},
            )
        )
    if emit:
        audit_store.append_many(conn, events)
    return updated, events


def split_remaining(
    conn: Connection, batch_id: int, *, actor: Actor, now: int, domain: str
) -> BatchSplitInfo | None:
    """Move approved leftovers of a partly applied batch to a fresh batch id (one event)."""
    remaining = queue_store.approved_in_batch(conn, batch_id)
    if not remaining:
        return None
    new_batch = queue_store.next_id(conn, "batch_id")
    queue_store.reassign_batch(conn, remaining, new_batch, now)
    audit_queue(
        conn,
        domain=domain,
        action=Action.batch_split,
        actor=actor,
        now=now,
        batch_id=batch_id,
        body={
            "original_batch_id": batch_id,
            "new_batch_id": new_batch,
            "reassigned_change_ids": remaining,
            "reason": "partial_apply",
        },
    )
    return BatchSplitInfo(
        original_batch_id=batch_id, new_batch_id=new_batch, reassigned_change_ids=remaining
    )


def rejoin_batch(conn: Connection, record: PendingChangeRecord) -> int | None:
    """Batch a change returning to APPROVED belongs in: the open batch if there is one.

    While a change was APPLYING a new batch may have opened; joining it keeps the rule that
    all approved changes share one open batch (the seed let two coexist).
    """
    open_batch = queue_store.open_batch_id(conn)
    return open_batch if open_batch is not None else record.batch_id


def recover_stuck(
    conn: Connection, *, now: int, domain: str, lease_expired_before: int | None = None
) -> list[PendingChangeRecord]:
    """Revert APPLYING records to APPROVED (safe: an apply commits atomically or not at all)."""
    reverted = []
    system = Actor("system", "modelref")
    for record in queue_store.applying(conn, lease_expired_before):
        log.warning(
            "change %s was stuck in applying (job_id=%s); reverting to approved",
            record.change_id,
            record.applied_job_id,
        )
        rejoin = rejoin_batch(conn, record)
        reverted.append(
            transition(
                conn,
                record,
                Action.recover,
                actor=system,
                now=now,
                domain=domain,
                values={"applied_job_id": None, "batch_id": rejoin},
                body={
                    "job_id": record.applied_job_id,
                    "reason": "stuck_applying",
                    "batch_id": rejoin,
                },
                store_only={"lease_expires_at": None},
            )
        )
    return reverted


__all__ = [
    "Actor",
    "PendingChangeStatus",
    "audit_queue",
    "insert_new",
    "load",
    "recover_stuck",
    "split_remaining",
    "transition",
]
