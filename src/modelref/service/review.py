"""Review use cases: propose, read, approve/reject in batches, withdraw, purge.

Every public method is one transaction on the shared database: either all of its queue rows
and audit events are written, or none are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from modelref.domain import inputs, payloads, records, revert, text_variants
from modelref.domain.actors import Actor
from modelref.domain.categories import AuditOperation, Category, parse_category
from modelref.domain.clock import Clock
from modelref.domain.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from modelref.domain.policy import Policy
from modelref.domain.queue_models import (
    PendingBatchResult,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
    PendingQueuePage,
)
from modelref.domain.transitions import OPEN, PURGEABLE, Action
from modelref.service import checks, governance, lifecycle, quorum
from modelref.service.lifecycle import Step
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.queue import SORTS
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.review")


@dataclass(frozen=True)
class Proposal:
    """One change someone proposes (the arguments of ``enqueue_change``)."""

    category: Category | str
    model_name: str
    operation: AuditOperation | str
    payload: dict[str, Any] | None
    requestor: Actor
    notes: str | None = None
    request_metadata: dict[str, Any] | None = None
    related_models: list[str] | None = field(default=None)


class ReviewService:
    """The review queue over one database (SQLite file or PostgreSQL)."""

    def __init__(
        self, db: Database, settings: Settings, clock: Clock, policy: Policy | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        #: The approval policy (``MODELREF_APPROVAL_POLICY``); upstream's unless configured.
        self.policy = policy or governance.load_policy(settings)

    @property
    def domain(self) -> str:
        """The audit domain queue events are written in: the canonical format."""
        return self.settings.canonical_format

    # ------------------------------------------------------------------ propose
    def enqueue_change(
        self,
        *,
        category: Category | str,
        model_name: str,
        operation: AuditOperation | str,
        payload: dict[str, Any] | None,
        requestor_id: str,
        requestor_username: str,
        notes: str | None = None,
        request_metadata: dict[str, Any] | None = None,
        related_models: list[str] | None = None,
    ) -> PendingChangeRecord:
        """Validate and queue one proposed change; records the live record's hash as its base."""
        proposal = Proposal(
            category,
            model_name,
            operation,
            payload,
            Actor(str(requestor_id), requestor_username),
            notes,
            request_metadata,
            related_models,
        )
        return self.enqueue_many([proposal])[0]

    def enqueue_many(self, proposals: Sequence[Proposal]) -> list[PendingChangeRecord]:
        """Queue several proposals in one transaction: all of them, or none."""
        drafts = [_draft(p) for p in proposals]
        now = self.clock()
        with self.db.write() as tx:
            queued = [
                lifecycle.insert(
                    Step(tx, p.requestor, now, self.domain), _against_live(tx, draft, now)
                )
                for p, draft in zip(proposals, drafts, strict=True)
            ]
            for record in queued:  # review checks: findings now, a check job for the files
                checks.schedule(tx, record, now, self.settings)
        return queued

    # ------------------------------------------------------------------ reads
    def get_change(self, change_id: int) -> PendingChangeRecord:
        """One change, or :class:`NotFound` (upstream's wording)."""
        if not inputs.in_range(change_id):
            raise NotFound("Change not found")
        with self.db.read() as tx:
            record = tx.queue.get(change_id)
        if record is None:
            raise NotFound("Change not found")
        return record

    def list_changes(
        self,
        queue_filter: PendingQueueFilter | None = None,
        offset: int = 0,
        limit: int | None = None,
        sort: str = "change_id",
    ) -> PendingQueuePage:
        """Matches ordered by change id (or ``sort``: ``age`` oldest first, ``-age`` newest
        first); ``total`` counts all matches before paging."""
        if not 0 <= offset <= inputs.MAX_OFFSET:
            raise ValidationFailed(f"offset: must be between 0 and {inputs.MAX_OFFSET}")
        if limit is not None and limit < 1:
            raise ValidationFailed("limit: must be >= 1")
        if sort not in SORTS:
            raise ValidationFailed(f"sort: expected one of {', '.join(SORTS)}, got {sort!r}")
        flt = _checked(queue_filter)
        if flt is None:  # a filter no change can match (an id beyond any that can exist)
            return PendingQueuePage(items=[], total=0, offset=offset, limit=limit)
        with self.db.read() as tx:
            items, total = tx.queue.page(flt, offset, limit, sort)
        return PendingQueuePage(items=items, total=total, offset=offset, limit=limit)

    def counts_by_status(self) -> dict[PendingChangeStatus, int]:
        """How many changes are in each status (one indexed GROUP BY)."""
        with self.db.read() as tx:
            counts = tx.queue.counts_by_status()
        return {s: counts.get(s, 0) for s in PendingChangeStatus}

    # ------------------------------------------------------------------ decide
    def process_batch(
        self,
        *,
        approver_id: str,
        approver_username: str,
        batch_title: str,
        approved_ids: list[int] | None,
        rejected_ids: list[int] | None,
        reject_reason: str | None = None,
        override_checks: bool = False,
    ) -> PendingBatchResult:
        """Approve and/or reject changes in one titled batch, all or nothing.

        ``override_checks``: under a quorum policy, approve changes whose review checks found
        errors anyway (each approval event records the findings it overrode).
        """
        title = inputs.text(batch_title, "batch_title", inputs.MAX_TITLE, required=True)
        assert title is not None
        approve = sorted(inputs.ids(approved_ids, "approved_ids"))
        reject = sorted(inputs.ids(rejected_ids, "rejected_ids"))
        if not approve and not reject:
            raise ValidationFailed("approved_ids/rejected_ids: provide at least one change id")
        both = sorted(set(approve) & set(reject))
        if both:
            raise ValidationFailed(f"Change ids cannot be both approved and rejected: {both}")
        reason = inputs.text(reject_reason, "reject_reason", inputs.MAX_REASON)
        if reject and reason is None:
            raise ValidationFailed("reject_reason: required when rejecting changes")
        actor = _actor(approver_id, approver_username, "approved_by")
        now = self.clock()
        with self.db.write() as tx:
            step = Step(tx, actor, now, self.domain)
            found = tx.queue.get_many(approve + reject)
            gate = quorum.gate(
                step,
                self.policy,
                found,
                approve,
                two_person_rule=self.settings.two_person_rule,
                override_checks=override_checks,
            )
            approve = gate.reaching
            for cid in reject:
                rec = _existing(found, cid)
                if rec.status not in OPEN:
                    raise InvalidTransition(
                        f"Change {cid} is not pending (status={rec.status.value})."
                    )
            batch_id: int | None = None
            if approve:
                batch_id = tx.queue.open_batch_id() or tx.counters.next("batch_id")
            approved, approve_events = lifecycle.move(
                step,
                [found[cid] for cid in approve],
                Action.approve,
                values=lambda rec: {
                    "batch_id": batch_id,
                    "batch_title": title,
                    "approved_by": actor.user_id,
                    "approved_username": actor.username,
                    "approved_at": now,
                    **gate.values(rec),
                },
                body=lambda rec: {"batch_id": batch_id, "batch_title": title, **gate.body(rec)},
                emit=False,
            )
            approved = gate.annotate(approved)
            endorsed, endorse_events = gate.record(step, title)

            def reject_batch(rec: PendingChangeRecord) -> int | None:
                return batch_id if batch_id is not None else rec.batch_id

            rejected, reject_events = lifecycle.move(
                step,
                [found[cid] for cid in reject],
                Action.reject,
                values=lambda rec: {
                    "batch_id": reject_batch(rec),
                    "batch_title": title,
                    "rejected_by": actor.user_id,
                    "rejected_username": actor.username,
                    "rejected_at": now,
                    "reject_reason": reason,
                },
                body=lambda rec: {
                    "batch_id": reject_batch(rec),
                    "batch_title": title,
                    "reason": reason,
                },
                emit=False,
            )
            tx.audit.append(approve_events + endorse_events + reject_events)
            tx.after_commit(lambda: _log_decision(actor, batch_id, title, approve, reject))
        return PendingBatchResult(
            batch_id=batch_id,
            batch_title=title,
            approved=approved,
            rejected=rejected,
            approvals_recorded=endorsed,
        )

    def withdraw_change(
        self, *, change_id: int, requestor_id: str, requestor_username: str
    ) -> PendingChangeRecord:
        """The requester cancels their own pending change (recorded as rejected, "withdrawn")."""
        actor = _actor(requestor_id, requestor_username, "requested_by")
        if not inputs.in_range(change_id):
            raise NotFound(f"Change {change_id} not found.")
        now = self.clock()
        with self.db.write() as tx:
            record = lifecycle.load(tx, change_id)
            if record.requested_by != actor.user_id:
                raise PermissionDenied(f"Change {change_id}: only its requester can withdraw it.")
            values = {
                "rejected_by": actor.user_id,
                "rejected_username": actor.username,
                "rejected_at": now,
                "reject_reason": "withdrawn",
            }
            step = Step(tx, actor, now, self.domain)
            return lifecycle.move_one(
                step, record, Action.withdraw, values, {"reason": "withdrawn"}
            )

    def purge_changes(
        self,
        queue_filter: PendingQueueFilter | None,
        purged_by: str,
        purged_username: str,
        *,
        purge_all: bool = False,
        dry_run: bool = False,
    ) -> list[int]:
        """Remove matching pending/approved/rejected changes; never applying or applied ones."""
        if not _has_filter(queue_filter) and not purge_all:
            raise ValidationFailed(
                "Provide at least one filter or set purge_all=true to purge every change."
            )
        actor = _actor(purged_by, purged_username, "purged_by")
        flt = _checked(queue_filter)
        if flt is None:
            return []
        now = self.clock()
        with self.db.write() as tx:
            found = tx.queue.get_many(tx.queue.ids(flt))
            removable = sorted(cid for cid, rec in found.items() if rec.status in PURGEABLE)
            if dry_run:
                return removable
            step = Step(tx, actor, now, self.domain)
            events = [
                lifecycle.event(
                    step,
                    Action.purge,
                    {
                        "change_id": cid,
                        "category": found[cid].category.value,
                        "model": found[cid].model_name,
                        "requested_by": found[cid].requested_by,
                        "status": found[cid].status.value,
                        "purged_by_username": purged_username,
                    },
                    change_id=cid,
                    batch_id=found[cid].batch_id,
                )
                for cid in removable
            ]
            tx.audit.append(events)
            tx.queue.delete(removable)
            tx.approvals.delete(removable)
        return removable


def _draft(p: Proposal) -> PendingChangeRecord:
    """Everything about a proposal that does not need the database, checked."""
    cat = _category(p.category)
    op = _operation(p.operation)
    records.check_model_name(p.model_name)
    requestor = _actor(p.requestor.user_id, p.requestor.username, "requested_by")
    notes = inputs.text(p.notes, "notes", inputs.MAX_NOTES)
    for value, name in ((p.payload, "payload"), (p.request_metadata, "request_metadata")):
        if value is not None:
            inputs.check_payload(value, name)
    if cat is Category.text_generation:
        text_variants.check_text_name(p.model_name)
    payload = p.payload
    if op is not AuditOperation.DELETE:
        if payload is None:
            raise ValidationFailed(f"payload: required for a {op.value} change")
        if payloads.is_legacy(p.request_metadata):
            payload = payloads.check_legacy(cat, p.model_name, payload)
        elif revert.is_restore(p.request_metadata):
            # A revert writes an old record back exactly: checked, never normalised.
            pinned = p.model_name if op is AuditOperation.CREATE else None
            records.validate_record(cat, payload, name=pinned)
        else:
            # Updates may name the record as the live one does (a few real keys differ
            # from their record's name, e.g. controlnet control_qr_sdxl): checked later.
            pinned = p.model_name if op is AuditOperation.CREATE else None
            payload = records.validate_record(cat, payload, name=pinned)
    elif payload is not None and not isinstance(payload, dict):
        raise ValidationFailed("payload must be a JSON object")
    related = p.related_models
    if cat is Category.text_generation and related is None:
        related = text_variants.backend_variants(p.model_name)
    return PendingChangeRecord(
        change_id=0,
        category=cat,
        model_name=p.model_name,
        operation=op,
        payload=payload,
        requested_by=requestor.user_id,
        requested_username=requestor.username,
        notes=notes,
        request_metadata=p.request_metadata,
        related_models=related,
    )


def _against_live(tx: Transaction, draft: PendingChangeRecord, now: int) -> PendingChangeRecord:
    """Check the draft against the live record and pin it to that record's hash."""
    cat, name, op = draft.category, draft.model_name, draft.operation
    live = tx.catalog.get(cat.value, name)
    payload = draft.payload
    if op is AuditOperation.CREATE and live is not None:
        raise Conflict(
            f"Model '{name}' already exists in category '{cat.value}'. "
            "Use PUT to update existing models."
        )
    if op is not AuditOperation.CREATE and live is None:
        raise NotFound(f"Model '{name}' not found in category '{cat.value}'")
    if op is AuditOperation.UPDATE and live is not None and payload is not None:
        allowed = {name, live.record.get("name", name)}
        if payload.get("name") not in allowed:
            raise ValidationFailed(
                f"payload.name: must be {name!r} (the model being updated), "
                f"got {payload.get('name')!r}"
            )
        if not revert.is_restore(draft.request_metadata):
            payload = _keep_created(payload, live.record)
    if op is AuditOperation.DELETE and live is not None:
        payload = live.record
    return draft.model_copy(
        update={
            "payload": payload,
            "requested_at": now,
            "updated_at": now,
            "base_hash": live.content_hash if live is not None else None,
        }
    )


def _log_decision(
    actor: Actor, batch_id: int | None, title: str, approved: list[int], rejected: list[int]
) -> None:
    if approved:
        log.info(
            "approved changes %s into batch %s (%r) by %s", approved, batch_id, title, actor.user_id
        )
    if rejected:
        log.info("rejected changes %s (%r) by %s", rejected, title, actor.user_id)


def _actor(user_id: object, username: object, field: str) -> Actor:
    """Who acts, checked like any input (ids and names are stored in every event)."""
    uid = inputs.text(str(user_id) if user_id is not None else None, field, inputs.MAX_USER_ID)
    if uid is None:
        raise ValidationFailed(f"{field}: a user id is required")
    name = inputs.text(
        str(username) if username is not None else None, f"{field} username", inputs.MAX_USERNAME
    )
    return Actor(uid, name or uid)


def _checked(flt: PendingQueueFilter | None) -> PendingQueueFilter | None:
    """The filter with its text checked; None when it can match nothing (impossible ids)."""
    if flt is None:
        return PendingQueueFilter()
    if flt.batch_id is not None and not inputs.in_range(flt.batch_id):
        return None
    users = inputs.filter_values(flt.requested_by, "requested_by", inputs.MAX_USER_ID)
    name = inputs.text(flt.model_name, "model_name", inputs.MAX_FILTER_TEXT)
    return flt.model_copy(update={"requested_by": users or None, "model_name": name})


def _category(value: Category | str) -> Category:
    if isinstance(value, Category):
        return value
    try:
        return parse_category(str(value))
    except ValueError as exc:
        raise ValidationFailed(f"category: {exc}") from None


def _operation(value: AuditOperation | str) -> AuditOperation:
    try:
        return AuditOperation(value)
    except ValueError:
        raise ValidationFailed(
            f"operation: unknown operation {value!r}; expected create, update or delete"
        ) from None


def _existing(found: dict[int, PendingChangeRecord], change_id: int) -> PendingChangeRecord:
    if change_id not in found:
        raise InvalidTransition(f"Change {change_id} does not exist.")
    return found[change_id]


def _has_filter(flt: PendingQueueFilter | None) -> bool:
    if flt is None:
        return False
    return bool(
        flt.statuses
        or flt.categories
        or flt.requested_by
        or (flt.model_name and flt.model_name.strip())
        or flt.batch_id is not None
    )


def _keep_created(payload: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """Copy the live record's ``metadata.created_at/created_by`` into an update (spec §3)."""
    live_meta = live.get("metadata") or {}
    kept = {k: live_meta[k] for k in ("created_at", "created_by") if live_meta.get(k) is not None}
    if not kept:
        return payload
    meta = dict(payload.get("metadata") or {})
    meta.update(kept)
    return {**payload, "metadata": meta}
