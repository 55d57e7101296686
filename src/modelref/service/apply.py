"""The apply engine: approved changes become live catalog records, all or nothing.

The engine is the only owner of the apply transactions (design.md §2): reserve (APPROVED ->
APPLYING under one job id), then commit (validate against the *current* catalog, write the
catalog, mark applied, audit, at most one batch split per batch). A failure in the commit
transaction rolls it back whole and a third transaction releases the reservations, so a crash
anywhere leaves either the applied state with its catalog write, or an APPLYING record with no
write that recovery reverts. Published files and read caches follow through the commit
listeners the container wires on the database.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from modelref import faults, metrics
from modelref.domain import inputs, payloads, revert, transitions
from modelref.domain.actors import Actor
from modelref.domain.audit import NewEvent
from modelref.domain.canonical import content_hash
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.clock import Clock
from modelref.domain.errors import (
    ApplyFailed,
    Conflict,
    InvalidTransition,
    ModelrefError,
    NotFound,
    ReservationConflict,
    StaleChange,
    ValidationFailed,
)
from modelref.domain.policy import Policy
from modelref.domain.queue_models import BatchSplitInfo, PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action
from modelref.service import governance, lifecycle, staleness, versions
from modelref.service.lifecycle import Step
from modelref.service.reservations import normalize_job_id
from modelref.settings import Settings
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.apply")

S = PendingChangeStatus


@dataclass
class ApplyResult:
    """What one apply call did."""

    job_id: str
    applied: list[PendingChangeRecord] = field(default_factory=list)
    batch_split: BatchSplitInfo | None = None
    categories: list[Category] = field(default_factory=list)


class ApplyEngine:
    """Applies approved changes on one database."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, policy: Policy | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.policy = policy or governance.load_policy(settings)

    def _step(self, tx: Transaction, actor: Actor) -> Step:
        return Step(tx, actor, self.clock(), self.settings.canonical_format)

    # ------------------------------------------------------------------ entry points
    def apply_changes(
        self,
        change_ids: list[int],
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
        allow_mixed_batch: bool = False,
    ) -> ApplyResult:
        """Apply ``change_ids`` in the given order as one all-or-nothing unit."""
        ids = _ordered_ids(change_ids)
        job = normalize_job_id(job_id) or f"apply-{uuid.uuid4().hex}"
        actor = Actor(str(applied_by), applied_username)
        with self.db.read() as tx:
            found = tx.queue.get_many(ids)
        missing = next((cid for cid in ids if cid not in found), None)
        if missing is not None:
            raise NotFound(f"Change {missing} not found.")
        records = [found[cid] for cid in ids]
        if not allow_mixed_batch:
            _check_cohesion(records)
        if all(r.status is S.APPLIED and r.applied_job_id == job for r in records):
            return ApplyResult(job_id=job, applied=records)
        return self._run(ids, job, actor, force)

    def apply_batch(
        self,
        batch_id: int,
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
    ) -> ApplyResult:
        """Apply every approved change of ``batch_id`` (in change id order), no split cascade."""
        job = normalize_job_id(job_id) or f"apply-{uuid.uuid4().hex}"
        if not inputs.in_range(batch_id):
            raise NotFound(f"No changes found for batch {batch_id}")
        with self.db.read() as tx:
            members = tx.queue.in_batch(batch_id)
        if not members:
            raise NotFound(f"No changes found for batch {batch_id}")
        mine = [r for r in members if r.applied_job_id == job and r.status in _RESERVED_OR_DONE]
        done_by_me = mine and all(r.status is S.APPLIED for r in mine)
        if done_by_me and not any(r.status is S.APPROVED for r in members):
            return ApplyResult(job_id=job, applied=mine)  # a retry of our own apply
        todo = [
            r.change_id
            for r in members
            if r.status is S.APPROVED or (r.status is S.APPLYING and r.applied_job_id == job)
        ]
        if not todo:
            raise _nothing_to_apply(batch_id, members)
        return self._run(todo, job, Actor(str(applied_by), applied_username), force)

    # ------------------------------------------------------------------ transactions
    @metrics.timed_apply
    def _run(self, ids: list[int], job: str, actor: Actor, force: bool) -> ApplyResult:
        started = time.monotonic()
        lease = self.settings.apply_lease_seconds
        with self.db.write() as tx:
            step = self._step(tx, actor)
            lifecycle.reserve(
                step,
                ids,
                job,
                lease_until=step.now + lease,
                two_person_rule=self.settings.two_person_rule,
            )
        faults.point("after_reserve")
        try:
            with self.db.write() as tx:
                result = self._commit(self._step(tx, actor), ids, job, force)
        except Exception as exc:
            shown = _shown(ids)
            log.warning(
                "apply of changes %s (job %s) by %s failed: %s", shown, job, actor.user_id, exc
            )
            try:
                self._release(ids, job, actor, exc)
            except Exception as cut:
                log.error(
                    "job %s could not release changes %s (%s): they stay applying until their "
                    "lease ends (%s s), then the lease reaper returns them to approved",
                    job,
                    shown,
                    cut,
                    lease,
                )
                raise exc from cut
            log.info("job %s released changes %s: they are approved again", job, shown)
            raise
        log.info(
            "applied changes %s (job %s) by %s in %.0f ms",
            _shown([r.change_id for r in result.applied]),
            job,
            actor.user_id,
            (time.monotonic() - started) * 1000,
        )
        return result

    def _commit(self, step: Step, ids: list[int], job: str, force: bool) -> ApplyResult:
        """Validate every change against the current catalog, then write everything at once."""
        tx = step.tx
        found = tx.queue.get_many(ids)
        todo: list[PendingChangeRecord] = []
        for cid in ids:
            record = found[cid]
            if record.status is S.APPLIED and record.applied_job_id == job:
                continue
            if record.status is not S.APPLYING or record.applied_job_id != job:
                # The lease ran out and the reaper released it (or another job took it over).
                lost = ReservationConflict(
                    cid,
                    record.applied_job_id,
                    f"Change {cid} is no longer reserved by job {job} "
                    f"(status={record.status.value}, job_id={record.applied_job_id}).",
                )
                raise ApplyFailed(cid, lost)
            todo.append(record)
        plan = _CatalogPlan(tx.catalog.get_many({_key(r) for r in todo}), step)
        plan.forced |= staleness.check_fresh(self.policy, todo, force)
        writes = [plan.step(record, force) for record in todo]
        plan.flush()
        faults.point("mid_transaction")
        applied, apply_events = lifecycle.mark_applied(step, todo, plan.forced, emit=False)
        # Per change: its catalog event, then its queue "apply" event.
        tx.audit.append([e for pair in zip(writes, apply_events, strict=True) for e in pair])
        staleness.mark_stale(step, self.policy, plan.hashes(), {r.change_id for r in todo})
        done = {r.change_id: r for r in applied}
        result = ApplyResult(job_id=job, applied=[done.get(cid) or found[cid] for cid in ids])
        for batch_id in dict.fromkeys(r.batch_id for r in todo if r.batch_id is not None):
            split = lifecycle.split(step, batch_id)
            if split is not None:
                result.batch_split = split
        result.categories = list(dict.fromkeys(r.category for r in todo))
        if todo:
            versions.record_apply(step, applied, writes, plan.live)  # catalog version N
        return result

    def _release(self, ids: list[int], job: str, actor: Actor, exc: BaseException) -> None:
        reason = f"apply_failed: {exc}"[:500]
        with self.db.write() as tx:
            lifecycle.release(self._step(tx, actor), lifecycle.held_by(tx, ids, job), job, reason)


def _shown(ids: list[int]) -> str:
    """Change ids for a log line: all of a few, the first ten and a count of many."""
    if len(ids) <= 10:
        return str(ids)
    return f"[{', '.join(map(str, ids[:10]))}, ... {len(ids)} in all]"


class _CatalogPlan:
    """The catalog as the apply sees it: live rows plus this apply's earlier changes."""

    def __init__(self, live: dict[tuple[str, str], CatalogRow], step: Step) -> None:
        self.live = live
        self.state: dict[tuple[str, str], CatalogRow | None] = dict(live)
        self.step_ = step
        self.dirty: dict[tuple[str, str], None] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.last: dict[str, tuple[str, str]] = {}
        self.forced: set[int] = set()

    def step(self, record: PendingChangeRecord, force: bool) -> NewEvent:
        """Check one change against the state so far, record its effect, return its event."""
        try:
            return self._step(record, force)
        except ModelrefError as exc:
            raise ApplyFailed(record.change_id, exc) from exc

    def _step(self, record: PendingChangeRecord, force: bool) -> NewEvent:
        key = category, name = _key(record)
        current = self.state.get(key)
        stale = (current.content_hash if current is not None else None) != record.base_hash
        op = record.operation
        if op is AuditOperation.CREATE and current is not None and not force:
            raise Conflict(f"Model '{name}' already exists in category '{category}'.")
        if op is not AuditOperation.CREATE and current is None:
            raise Conflict(f"Model '{name}' no longer exists in category '{category}'.")
        forced = (stale and force) or record.change_id in self.forced
        if stale and not force:
            raise StaleChange(
                f"Change {record.change_id} is stale: '{name}' in '{category}' changed since it "
                "was proposed; re-propose it or apply with force."
            )
        before = current.record if current is not None else None
        after: dict[str, Any] | None = None
        position: dict[str, int] = {}
        if op is AuditOperation.DELETE:
            self.state[key] = None
            if current is not None and current.position > 0:
                position = {"position": current.position}  # so a revert puts it back there
        else:
            if record.payload is None:
                raise ValidationFailed(
                    f"Change {record.change_id} ({op.value}) is missing payload data."
                )
            payload, extras = payloads.as_v2(
                record.category,
                name,
                record.payload,
                record.request_metadata,
                current.extras if current is not None else None,
            )
            restore = revert.is_restore(record.request_metadata)
            # A revert writes the old record back exactly; any other write is a new edit.
            after = payload if restore else _with_metadata(payload, before, self.step_.now)
            digest = content_hash(after)
            assert digest is not None
            at = revert.restore_position(record.request_metadata) if current is None else None
            self.state[key] = CatalogRow(category, name, after, digest, extras or None, at or 0)
        if forced:
            self.forced.add(record.change_id)
        self.dirty[key] = None
        per_op = self.counts.setdefault(category, {})
        per_op[op.value] = per_op.get(op.value, 0) + 1
        self.last[category] = (op.value, name)
        actor = self.step_.actor
        return NewEvent(
            timestamp=self.step_.now,
            domain="v2",
            category=category,
            model_name=name,
            operation=op.value,
            action=None,
            change_id=record.change_id,
            batch_id=record.batch_id,
            job_id=record.applied_job_id,
            logical_user_id=actor.user_id,
            username=actor.username,
            payload={"before": before, "after": after, "forced": bool(forced), **position},
        )

    def hashes(self) -> dict[tuple[str, str], str | None]:
        """The content hash every touched record now has (None: deleted)."""
        return {
            key: row.content_hash if (row := self.state[key]) is not None else None
            for key in self.dirty
        }

    def flush(self) -> None:
        """Write the final state of every touched record and bump each category once."""
        for category, counts in self.counts.items():
            keys = [k for k in self.dirty if k[0] == category]
            upserts = [row for k in keys if (row := self.state[k]) is not None]
            deletes = [k[1] for k in keys if self.state[k] is None]
            self.step_.tx.catalog.write(
                category, upserts, deletes, self.step_.now, counts, self.last[category]
            )


def _nothing_to_apply(batch_id: int, members: list[PendingChangeRecord]) -> ModelrefError:
    """Why a batch has nothing left for this job: one answer per situation, never a 200.

    Another applier holds changes of it -> 409 naming the change and its job; another job
    applied it all -> upstream's 400 for an applied change; nothing was ever approved -> 404.
    """
    held = next((r for r in members if r.status is S.APPLYING), None)
    if held is not None:
        return ApplyFailed(held.change_id, ReservationConflict(held.change_id, held.applied_job_id))
    applied = next((r for r in members if r.status is S.APPLIED), None)
    if applied is not None:
        refusal = transitions.refusal(Action.reserve, applied.status, applied.change_id)
        return ApplyFailed(applied.change_id, InvalidTransition(refusal))
    return NotFound(f"No approved changes found in batch {batch_id}")


def _key(record: PendingChangeRecord) -> tuple[str, str]:
    return record.category.value, record.model_name


_RESERVED_OR_DONE = (S.APPLYING, S.APPLIED)


def _ordered_ids(change_ids: list[int]) -> list[int]:
    """The ids in the given order, each once (linear time, capped per request)."""
    if not change_ids:
        raise ValidationFailed("change_ids: provide at least one change id")
    return inputs.ids(change_ids, "change_ids")


def _check_cohesion(records: list[PendingChangeRecord]) -> None:
    batch_ids = sorted({r.batch_id for r in records if r.batch_id is not None})
    if any(r.batch_id is None for r in records) or any(r.status is S.PENDING for r in records):
        raise InvalidTransition("Cannot apply changes that have not been approved in a batch")
    if len(batch_ids) > 1:
        raise InvalidTransition(
            f"All changes must belong to the same batch. Found batch IDs: {batch_ids}"
        )


def _with_metadata(
    payload: dict[str, Any], before: dict[str, Any] | None, now: int
) -> dict[str, Any]:
    """Server-maintained metadata (spec data-model §3): keep created_*, stamp updated_at."""
    meta = dict(payload.get("metadata") or {"schema_version": "2.0.0"})
    old = (before or {}).get("metadata") or {}
    for key in ("created_at", "created_by"):
        if old.get(key) is not None:
            meta[key] = old[key]
    meta.setdefault("created_at", now)
    meta["updated_at"] = now
    return {**payload, "metadata": meta}
