"""The change lifecycle as steps on the caller's transaction: none of these opens one.

:func:`move` is the single chokepoint for status changes: it asks the state-machine table
(:mod:`modelref.domain.transitions`), compare-and-sets the rows and writes one audit event per
change. The use cases (review, reservations, apply) compose these steps inside the one
transaction they own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from modelref.domain import transitions
from modelref.domain.actors import SYSTEM, Actor
from modelref.domain.audit import QUEUE_CATEGORY, NewEvent
from modelref.domain.errors import (
    ApplyFailed,
    InvalidTransition,
    ModelrefError,
    NotFound,
    PermissionDenied,
    ReservationConflict,
)
from modelref.domain.queue_models import (
    BatchSplitInfo,
    PendingChangeRecord,
    PendingChangeStatus,
)
from modelref.domain.transitions import Action
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.queue")

S = PendingChangeStatus
Values = Callable[[PendingChangeRecord], dict[str, Any]]


@dataclass(frozen=True)
class Step:
    """Who moves changes, when, and in which audit domain, on which transaction."""

    tx: Transaction
    actor: Actor
    now: int
    domain: str


def event(
    step: Step,
    action: Action,
    body: dict[str, Any],
    *,
    change_id: int | None = None,
    batch_id: int | None = None,
    job_id: str | None = None,
) -> NewEvent:
    """One queue lifecycle event (upstream's shape: ``payload.after`` + ``action``)."""
    return NewEvent(
        timestamp=step.now,
        domain=step.domain,
        category=QUEUE_CATEGORY,
        model_name=str(change_id) if change_id is not None else "queue",
        operation="update",
        action=action.value,
        change_id=change_id,
        batch_id=batch_id,
        job_id=job_id,
        logical_user_id=step.actor.user_id,
        username=step.actor.username,
        payload={"after": {**body, "action": action.value}},
    )


def load(tx: Transaction, change_id: int) -> PendingChangeRecord:
    record = tx.queue.get(change_id)
    if record is None:
        raise NotFound(f"Change {change_id} not found.")
    return record


def insert(step: Step, record: PendingChangeRecord) -> PendingChangeRecord:
    """Allocate the change id, insert the record and audit it with its full content."""
    change_id = step.tx.counters.next("change_id")
    record = record.model_copy(update={"change_id": change_id})
    stored = step.tx.queue.insert(record)
    body = {
        "change_id": change_id,
        "operation": record.operation.value,
        "category": record.category.value,
        "model": record.model_name,
        "record": stored,
    }
    step.tx.audit.append([event(step, Action.enqueue, body, change_id=change_id)])
    return record


def move(
    step: Step,
    records: Sequence[PendingChangeRecord],
    action: Action,
    *,
    values: Values,
    body: Values,
    store_only: dict[str, Any] | None = None,
    emit: bool = True,
) -> tuple[list[PendingChangeRecord], list[NewEvent]]:
    """Move ``records`` along ``action``: check, compare-and-set, audit.

    One UPDATE per distinct (status, values) group. Returns the new records and their events;
    with ``emit`` the events are appended here, otherwise the caller appends them (to
    interleave them with others, as the apply does with its catalog events).
    """
    groups: dict[tuple[S, str], list[int]] = {}
    targets: dict[int, S] = {}
    changes: dict[int, dict[str, Any]] = {}
    for record in records:
        cid = record.change_id
        targets[cid] = transitions.check(action, record.status, cid)
        changes[cid] = {**values(record), "updated_at": step.now}
        groups.setdefault((record.status, repr(sorted(changes[cid].items()))), []).append(cid)
    for (status, _key), ids in groups.items():
        stored = {**changes[ids[0]], **(store_only or {})}
        if step.tx.queue.move(ids, status, targets[ids[0]], stored) != len(ids):
            current = step.tx.queue.get_many(ids)
            to = targets[ids[0]]
            stuck = next(i for i in ids if i not in current or current[i].status is not to)
            now_status = current[stuck].status.value if stuck in current else "purged"
            raise InvalidTransition(f"Change {stuck} changed concurrently (status={now_status}).")
    updated: list[PendingChangeRecord] = []
    events: list[NewEvent] = []
    for record in records:
        cid = record.change_id
        new = record.model_copy(update={**changes[cid], "status": targets[cid]})
        updated.append(new)
        events.append(
            event(
                step,
                action,
                {"change_id": cid, **body(record)},
                change_id=cid,
                batch_id=new.batch_id,
                job_id=new.applied_job_id,
            )
        )
    if emit:
        step.tx.audit.append(events)
    return updated, events


def move_one(
    step: Step,
    record: PendingChangeRecord,
    action: Action,
    values: dict[str, Any],
    body: dict[str, Any],
    store_only: dict[str, Any] | None = None,
) -> PendingChangeRecord:
    """:func:`move` for one record with fixed values."""
    moved, _events = move(
        step,
        [record],
        action,
        values=lambda _r: values,
        body=lambda _r: body,
        store_only=store_only,
    )
    return moved[0]


# ---------------------------------------------------------------------- reservations
def refusal(
    record: PendingChangeRecord | None,
    change_id: int,
    job: str,
    actor: Actor,
    two_person_rule: bool,
) -> ModelrefError | None:
    """Why ``change_id`` cannot be reserved for ``job`` (None: it can, or ``job`` holds it)."""
    if record is None:
        return NotFound(f"Change {change_id} not found.")
    if record.applied_job_id == job and record.status in (S.APPLYING, S.APPLIED):
        return None
    if record.status is S.APPLYING:
        return ReservationConflict(change_id, record.applied_job_id)
    if two_person_rule and actor is not SYSTEM and record.requested_by == actor.user_id:
        return PermissionDenied(
            f"Change {change_id}: you cannot apply your own change (two-person rule)."
        )
    if transitions.target(Action.reserve, record.status) is None:
        return InvalidTransition(transitions.refusal(Action.reserve, record.status, change_id))
    return None


def reserve(
    step: Step,
    change_ids: Sequence[int],
    job: str,
    *,
    lease_until: int,
    two_person_rule: bool,
) -> list[PendingChangeRecord]:
    """APPROVED -> APPLYING under ``job`` (changes ``job`` already holds are left as they are).

    Raises :class:`ApplyFailed` naming the first change that cannot be reserved.
    """
    found = step.tx.queue.get_many(change_ids)
    todo: list[PendingChangeRecord] = []
    for cid in change_ids:
        problem = refusal(found.get(cid), cid, job, step.actor, two_person_rule)
        if problem is not None:
            raise ApplyFailed(cid, problem)
        if found[cid].status is S.APPROVED:
            todo.append(found[cid])
    reserved, _events = move(
        step,
        todo,
        Action.reserve,
        values=lambda _r: {"applied_job_id": job},
        body=lambda _r: {"job_id": job},
        store_only={"lease_expires_at": lease_until},
    )
    result = {**found, **{r.change_id: r for r in reserved}}
    return [result[cid] for cid in change_ids]


def release(
    step: Step, records: Sequence[PendingChangeRecord], job: str | None, reason: str
) -> list[PendingChangeRecord]:
    """APPLYING -> APPROVED; each change rejoins the open batch if there is one."""
    open_batch = step.tx.queue.open_batch_id()

    def rejoin(record: PendingChangeRecord) -> int | None:
        # While a change was APPLYING a new batch may have opened; joining it keeps every
        # approved change in one open batch (the seed let two coexist).
        return open_batch if open_batch is not None else record.batch_id

    released, _events = move(
        step,
        records,
        Action.release,
        values=lambda r: {"applied_job_id": None, "batch_id": rejoin(r)},
        body=lambda r: {"job_id": job, "reason": reason, "batch_id": rejoin(r)},
        store_only={"lease_expires_at": None},
    )
    return released


def held_by(tx: Transaction, change_ids: Sequence[int], job: str) -> list[PendingChangeRecord]:
    """The changes among ``change_ids`` that ``job`` still holds."""
    found = tx.queue.get_many(change_ids)
    return [
        found[cid]
        for cid in change_ids
        if cid in found and found[cid].status is S.APPLYING and found[cid].applied_job_id == job
    ]


def recover(step: Step, *, expired_before: int | None) -> list[PendingChangeRecord]:
    """Revert APPLYING records (all, or those whose lease ran out) to APPROVED.

    Safe: an apply commits its catalog write and its APPLIED marks atomically, so an
    APPLYING record has no catalog write.
    """
    stuck = step.tx.queue.applying(expired_before)
    if not stuck:
        return []
    open_batch = step.tx.queue.open_batch_id()
    for record in stuck:
        log.warning(
            "change %s was stuck in applying (job_id=%s); reverting to approved",
            record.change_id,
            record.applied_job_id,
        )

    def rejoin(record: PendingChangeRecord) -> int | None:
        return open_batch if open_batch is not None else record.batch_id

    recovered, _events = move(
        step,
        stuck,
        Action.recover,
        values=lambda r: {"applied_job_id": None, "batch_id": rejoin(r)},
        body=lambda r: {
            "job_id": r.applied_job_id,
            "reason": "stuck_applying",
            "batch_id": rejoin(r),
        },
        store_only={"lease_expires_at": None},
    )
    return recovered


# ---------------------------------------------------------------------- apply bookkeeping
def mark_applied(
    step: Step, records: Sequence[PendingChangeRecord], forced: set[int], *, emit: bool
) -> tuple[list[PendingChangeRecord], list[NewEvent]]:
    """APPLYING -> APPLIED (after the catalog write, in the same transaction)."""
    actor = step.actor
    return move(
        step,
        records,
        Action.apply,
        values=lambda _r: {
            "applied_by": actor.user_id,
            "applied_username": actor.username,
            "applied_at": step.now,
        },
        body=lambda r: {
            "batch_id": r.batch_id,
            "job_id": r.applied_job_id,
            **({"forced": True} if r.change_id in forced else {}),
        },
        store_only={"lease_expires_at": None},
        emit=emit,
    )


def split(step: Step, batch_id: int) -> BatchSplitInfo | None:
    """Move approved leftovers of a partly applied batch to a fresh batch id (one event)."""
    remaining = [r.change_id for r in step.tx.queue.in_batch(batch_id) if r.status is S.APPROVED]
    if not remaining:
        return None
    new_batch = step.tx.counters.next("batch_id")
    step.tx.queue.reassign_batch(remaining, new_batch, step.now)
    body = {
        "original_batch_id": batch_id,
        "new_batch_id": new_batch,
        "reassigned_change_ids": remaining,
        "reason": "partial_apply",
    }
    step.tx.audit.append([event(step, Action.batch_split, body, batch_id=batch_id)])
    return BatchSplitInfo(
        original_batch_id=batch_id, new_batch_id=new_batch, reassigned_change_ids=remaining
    )
