"""The apply engine: approved changes become live catalog records, all or nothing.

Two short transactions (design.md §2): reserve (APPROVED -> APPLYING under one job id), then
commit (validate against the *current* catalog, write the catalog, mark applied, audit, at most
one batch split per batch). A failure in the commit transaction rolls it back whole and a third
transaction releases the reservations, so a crash anywhere leaves either the applied state with
its catalog write, or an APPLYING record with no write that start-up recovery reverts.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sqlalchemy import Connection

from modelref import metrics
from modelref.domain.audit import AuditEvent
from modelref.domain.canonical import content_hash
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.errors import (
    Conflict,
    InvalidTransition,
    ModelrefError,
    NotFound,
    StaleChange,
    ValidationFailed,
)
from modelref.domain.legacy_convert import legacy_payload_to_v2
from modelref.domain.queue_models import BatchSplitInfo, PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action
from modelref.service import faults
from modelref.service.queue import PendingQueueService, is_legacy_payload
from modelref.service.queue_tx import Actor, transition_many
from modelref.service.reservations import normalize_job_id
from modelref.store import audit_store, catalog_store, queue_store

log = logging.getLogger("modelref.apply")


@dataclass
class ApplyResult:
    """What one apply call did."""

    job_id: str
    applied: list[PendingChangeRecord] = field(default_factory=list)
    batch_split: BatchSplitInfo | None = None
    categories: list[Category] = field(default_factory=list)


class ApplyFailed(ModelrefError):
    """The error of the change that made an (all-or-nothing) apply roll back.

    An instance is also an instance of the cause's class (``except StaleChange`` catches a
    stale apply), while ``change_id`` and ``cause`` tell which change failed and why.
    """

    _variants: ClassVar[dict[type[ModelrefError], type[ApplyFailed]]] = {}

    def __new__(cls, change_id: int, cause: ModelrefError) -> ApplyFailed:
        if cls is ApplyFailed and type(cause) is not ModelrefError:
            kind = type(cause)
            variant = ApplyFailed._variants.get(kind)
            if variant is None:
                variant = type(f"ApplyFailed{kind.__name__}", (ApplyFailed, kind), {})
                ApplyFailed._variants[kind] = variant
            cls = variant
        return super().__new__(cls)

    def __init__(self, change_id: int, cause: ModelrefError) -> None:
        super().__init__(f"Change {change_id}: {cause.message}")
        self.change_id = change_id
        self.cause = cause
        self.code = cause.code


class ApplyEngine:
    """Applies approved changes on the queue's database; publishes after commit."""

    def __init__(self, queue: PendingQueueService, publisher: Any | None = None) -> None:
        self.queue = queue
        self.db = queue.db
        self.publisher = publisher

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
        with self.db.read() as conn:
            records = [self._preflight_one(conn, cid) for cid in ids]
        if not allow_mixed_batch:
            _check_cohesion(records)
        done = self._already_done(records, job)
        if done is not None:
            return done
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
        with self.db.read() as conn:
            members = queue_store.in_batch(conn, batch_id)
        if not members:
            raise NotFound(f"No changes found for batch {batch_id}")
        mine = [r for r in members if r.applied_job_id == job and r.status in _RESERVED_OR_DONE]
        if mine and all(r.status is PendingChangeStatus.APPLIED for r in mine):
            open_left = [r for r in members if r.status is PendingChangeStatus.APPROVED]
            if not open_left:
                return ApplyResult(job_id=job, applied=mine)
        todo = [
            r.change_id
            for r in members
            if r.status is PendingChangeStatus.APPROVED
            or (r.status is PendingChangeStatus.APPLYING and r.applied_job_id == job)
        ]
        if not todo:
            if all(r.status is PendingChangeStatus.APPLIED for r in members):
                return ApplyResult(job_id=job)
            raise NotFound(f"No approved changes found in batch {batch_id}")
        return self._run(todo, job, Actor(str(applied_by), applied_username), force)

    # ------------------------------------------------------------------ steps
    def _preflight_one(self, conn: Connection, change_id: int) -> PendingChangeRecord:
        record = queue_store.get(conn, change_id)
        if record is None:
            raise NotFound(f"Change {change_id} not found.")
        return record

    def _already_done(self, records: list[PendingChangeRecord], job: str) -> ApplyResult | None:
        if all(
            r.status is PendingChangeStatus.APPLIED and r.applied_job_id == job for r in records
        ):
            return ApplyResult(job_id=job, applied=records)
        return None

    @metrics.timed_apply
    def _run(self, ids: list[int], job: str, actor: Actor, force: bool) -> ApplyResult:
        try:
            with self.db.write() as conn:
                self.queue.reserve_many_in(conn, ids, job, actor=actor, now=_now())
        except ModelrefError as exc:
            failing = getattr(exc, "change_id", None)
            if isinstance(failing, int) and not isinstance(exc, ApplyFailed):
                raise ApplyFailed(failing, exc) from exc
            raise
        faults.point("after_reserve")
        try:
            with self.db.write() as conn:
                result = self._commit(conn, ids, job, actor, force, _now())
        except Exception as exc:
            self._release(ids, job, actor, exc)
            raise
        faults.point("after_commit")
        if self.publisher is not None and result.categories:
            try:
                self.publisher.publish(result.categories)
            except OSError:
                log.exception("publishing %s failed; start-up will retry", result.categories)
        return result

    def _commit(
        self, conn: Connection, ids: list[int], job: str, actor: Actor, force: bool, now: int
    ) -> ApplyResult:
        """Validate every change against the current catalog, then write everything at once."""
        result = ApplyResult(job_id=job)
        found = queue_store.get_many(conn, ids)
        todo: list[PendingChangeRecord] = []
        for cid in ids:
            record = found[cid]
            if record.status is PendingChangeStatus.APPLIED and record.applied_job_id == job:
                continue
            if record.status is not PendingChangeStatus.APPLYING or record.applied_job_id != job:
                raise ApplyFailed(
                    cid,
                    InvalidTransition(
                        f"Change {cid} is not reserved by this job (status={record.status.value})."
                    ),
                )
            todo.append(record)
        plan = _CatalogPlan(catalog_store.get_many(conn, {_key(r) for r in todo}))
        events: list[dict[str, Any]] = []
        forced: dict[int, bool] = {}
        for record in todo:
            try:
                forced[record.change_id], event = plan.step(record, actor, force, now)
            except ModelrefError as exc:
                raise ApplyFailed(record.change_id, exc) from exc
            events.append(event)
        plan.flush(conn, now)
        faults.point("mid_transaction")
        applied, apply_events = transition_many(
            conn,
            todo,
            Action.apply,
            actor=actor,
            now=now,
            domain=self.queue.domain,
            values=lambda _rec: {
                "applied_by": actor.user_id,
                "applied_username": actor.username,
                "applied_at": now,
            },
            body=lambda rec: {
                "batch_id": rec.batch_id,
                "job_id": rec.applied_job_id,
                **({"forced": True} if forced[rec.change_id] else {}),
            },
            store_only={"lease_expires_at": None},
            emit=False,
        )
        # Per change: its catalog event, then its queue "apply" event.
        paired = zip(events, apply_events, strict=True)
        audit_store.append_many(conn, [e for pair in paired for e in pair])
        done = {r.change_id: r for r in applied}
        result.applied = [done.get(cid) or found[cid] for cid in ids]
        batches = list(dict.fromkeys(r.batch_id for r in todo if r.batch_id is not None))
        for batch_id in batches:
            split = self.queue.split_in(conn, batch_id, actor=actor, now=now)
            if split is not None:
                result.batch_split = split
        result.categories = list(dict.fromkeys(r.category for r in todo))
        return result

    def _release(self, ids: list[int], job: str, actor: Actor, exc: BaseException) -> None:
        reason = f"apply_failed: {exc}"[:500]
        with self.db.write() as conn:
            self.queue.release_many_in(conn, ids, job, actor=actor, now=_now(), reason=reason)


class _CatalogPlan:
    """The catalog as the apply sees it: live rows plus this apply's earlier changes."""

    def __init__(self, live: dict[tuple[str, str], catalog_store.StoredRecord]) -> None:
        self.state: dict[tuple[str, str], tuple[dict[str, Any], str, dict[str, Any] | None] | None]
        self.state = {k: (v.record, v.content_hash, v.extras) for k, v in live.items()}
        self.dirty: dict[tuple[str, str], None] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self.last: dict[str, tuple[str, str]] = {}

    def step(
        self, record: PendingChangeRecord, actor: Actor, force: bool, now: int
    ) -> tuple[bool, dict[str, Any]]:
        """Check one change against the state so far and record its effect."""
        key = _key(record)
        category, name = key
        current = self.state.get(key)
        live_hash = current[1] if current is not None else None
        stale = live_hash != record.base_hash
        op = record.operation
        if op is AuditOperation.create and current is not None and not force:
            raise Conflict(f"Model '{name}' already exists in category '{category}'.")
        if op is not AuditOperation.create and current is None:
            raise Conflict(f"Model '{name}' no longer exists in category '{category}'.")
        if stale and not force:
            raise StaleChange(
                f"Change {record.change_id} is stale: '{name}' in '{category}' changed since it "
                "was proposed; re-propose it or apply with force."
            )
        before = current[0] if current is not None else None
        after: dict[str, Any] | None = None
        if op is AuditOperation.delete:
            self.state[key] = None
        else:
            if record.payload is None:
                raise ValidationFailed(
                    f"Change {record.change_id} ({op.value}) is missing payload data."
                )
            payload, extras = record.payload, current[2] if current is not None else None
            if is_legacy_payload(record.request_metadata):
                payload, extras = legacy_payload_to_v2(record.category, name, payload)
            after = _with_metadata(payload, before, now)
            digest = content_hash(after)
            assert digest is not None
            self.state[key] = (after, digest, extras or None)
        self.dirty[key] = None
        per_op = self.counts.setdefault(category, {})
        per_op[op.value] = per_op.get(op.value, 0) + 1
        self.last[category] = (op.value, name)
        event = {
            "timestamp": now,
            "domain": "v2",
            "category": category,
            "model_name": name,
            "operation": op.value,
            "action": None,
            "change_id": record.change_id,
            "batch_id": record.batch_id,
            "job_id": record.applied_job_id,
            "logical_user_id": actor.user_id,
            "username": actor.username,
            "payload": {"before": before, "after": after, "forced": bool(stale and force)},
        }
        return bool(stale and force), event

    def flush(self, conn: Connection, now: int) -> None:
        """Write the final state of every touched record and bump each category once."""
        for category, counts in self.counts.items():
            upserts = []
            deletes = []
            for cat, name in self.dirty:
                if cat != category:
                    continue
                final = self.state[(cat, name)]
                if final is None:
                    deletes.append(name)
                else:
                    upserts.append((name, final[0], final[1], final[2]))
            catalog_store.write_many(conn, category, upserts, deletes, now)
            op, model = self.last[category]
            catalog_store.bump_version_by(conn, category, now, counts, op, model)


def _key(record: PendingChangeRecord) -> tuple[str, str]:
    return record.category.value, record.model_name


_RESERVED_OR_DONE = (PendingChangeStatus.APPLYING, PendingChangeStatus.APPLIED)


def _now() -> int:
    from modelref.domain.queue_models import now_ts

    return now_ts()


def _ordered_ids(change_ids: list[int]) -> list[int]:
    if not change_ids:
        raise ValidationFailed("change_ids: provide at least one change id")
    seen: list[int] = []
    for cid in change_ids:
        if isinstance(cid, bool) or not isinstance(cid, int) or cid <= 0:
            raise ValidationFailed(f"change_ids: ids must be positive integers, got {cid!r}")
        if cid not in seen:
            seen.append(cid)
    return seen


def _check_cohesion(records: list[PendingChangeRecord]) -> None:
    batch_ids = sorted({r.batch_id for r in records if r.batch_id is not None})
    if any(r.batch_id is None for r in records) or any(
        r.status is PendingChangeStatus.PENDING for r in records
    ):
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


__all__ = ["ApplyEngine", "ApplyFailed", "ApplyResult", "AuditEvent"]
