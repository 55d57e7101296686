"""``PendingQueueService``: the review queue's use cases, with upstream-familiar names.

Every public method is one transaction on the shared database: either all of its queue rows,
catalog rows and audit events are written, or none are.
"""

from __future__ import annotations

import logging
from typing import Any

from modelref.domain import records, text_variants
from modelref.domain.categories import (
    LEGACY_CATEGORIES,
    AuditOperation,
    Category,
    parse_category,
)
from modelref.domain.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from modelref.domain.legacy_convert import legacy_payload_to_v2
from modelref.domain.queue_models import (
    PendingBatchResult,
    PendingChangeRecord,
    PendingChangeStatus,
    PendingQueueFilter,
    PendingQueuePage,
    now_ts,
)
from modelref.domain.transitions import PURGEABLE, Action
from modelref.service.queue_tx import (
    Actor,
    audit_queue,
    insert_new,
    load,
    transition,
    transition_many,
)
from modelref.service.reservations import ReservationsMixin
from modelref.settings import Settings
from modelref.store import audit_store, catalog_store, migrate, queue_store
from modelref.store.database import Database

log = logging.getLogger("modelref.queue")

MAX_TITLE = 120
MAX_REASON = 500


def _positive_ids(ids: list[int] | None, field: str) -> list[int]:
    cleaned: list[int] = []
    for value in ids or []:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"{field}: change ids must be integers, got {value!r}")
        if value <= 0:
            raise ValidationFailed(f"{field}: change ids must be positive, got {value}")
        cleaned.append(value)
    return sorted(set(cleaned))


class PendingQueueService(ReservationsMixin):
    """The review queue over one database (SQLite file or PostgreSQL)."""

    def __init__(self, db: Database, settings: Settings | None = None) -> None:
        self.db = db
        self.settings = settings or Settings(database_url=db.url)
        self.domain = self.settings.canonical_format
        self.two_person_rule = self.settings.two_person_rule

    @classmethod
    def from_url(cls, url: str, settings: Settings | None = None) -> PendingQueueService:
        """Open ``url``, bring its schema up to date and return the service."""
        db = Database(url)
        migrate.upgrade(db)
        return cls(db, settings)

    # ------------------------------------------------------------------ enqueue
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
        cat = _category(category)
        op = _operation(operation)
        records.check_model_name(model_name)
        if not requestor_id or not str(requestor_id).strip():
            raise ValidationFailed("requested_by: a requester id is required")
        if cat is Category.text_generation:
            text_variants.check_text_name(model_name)
        if op is not AuditOperation.delete:
            if payload is None:
                raise ValidationFailed(f"payload: required for a {op.value} change")
            if is_legacy_payload(request_metadata):
                payload = _check_legacy_payload(cat, model_name, payload)
            else:
                # Updates may name the record as the live one does (a few real keys differ
                # from their record's name, e.g. controlnet control_qr_sdxl): checked below.
                check_name = model_name if op is AuditOperation.create else None
                payload = records.validate_record(cat, payload, name=check_name)
        elif payload is not None and not isinstance(payload, dict):
            raise ValidationFailed("payload must be a JSON object")
        if cat is Category.text_generation and related_models is None:
            related_models = text_variants.backend_variants(model_name)
        now = now_ts()
        with self.db.write() as conn:
            live = catalog_store.get(conn, cat.value, model_name)
            if op is AuditOperation.create and live is not None:
                raise Conflict(
                    f"Model '{model_name}' already exists in category '{cat.value}'. "
                    "Use PUT to update existing models."
                )
            if op is not AuditOperation.create and live is None:
                raise NotFound(f"Model '{model_name}' not found in category '{cat.value}'")
            if op is AuditOperation.update and live is not None and payload is not None:
                allowed = {model_name, live.record.get("name", model_name)}
                if payload.get("name") not in allowed:
                    raise ValidationFailed(
                        f"payload.name: must be {model_name!r} (the model being updated), "
                        f"got {payload.get('name')!r}"
                    )
                payload = _keep_created(payload, live.record)
            if op is AuditOperation.delete and live is not None:
                payload = live.record
            record = PendingChangeRecord(
                change_id=0,
                category=cat,
                model_name=model_name,
                operation=op,
                payload=payload,
                requested_by=str(requestor_id),
                requested_username=requestor_username,
                requested_at=now,
                updated_at=now,
                notes=notes,
                request_metadata=request_metadata,
                related_models=related_models,
                base_hash=live.content_hash if live is not None else None,
            )
            return insert_new(conn, record, self.domain)

    # ------------------------------------------------------------------ reads
    def get_change(self, change_id: int) -> PendingChangeRecord:
        """One change, or :class:`NotFound`."""
        with self.db.read() as conn:
            record = queue_store.get(conn, change_id)
        if record is None:
            raise NotFound("Change not found")
        return record

    def list_changes(
        self,
        queue_filter: PendingQueueFilter | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> PendingQueuePage:
        """Matches ordered by change id; ``total`` counts all matches before paging."""
        if offset < 0:
            raise ValidationFailed("offset: must be >= 0")
        if limit is not None and limit < 1:
            raise ValidationFailed("limit: must be >= 1")
        with self.db.read() as conn:
            items, total = queue_store.list_page(conn, queue_filter, offset, limit)
        return PendingQueuePage(items=items, total=total, offset=offset, limit=limit)

    # ------------------------------------------------------------------ review
    def process_batch(
        self,
        *,
        approver_id: str,
        approver_username: str,
        batch_title: str,
        approved_ids: list[int] | None,
        rejected_ids: list[int] | None,
        reject_reason: str | None = None,
    ) -> PendingBatchResult:
        """Approve and/or reject changes in one titled batch, all or nothing."""
        title = (batch_title or "").strip()
        if not title:
            raise ValidationFailed("batch_title: must not be blank")
        if len(title) > MAX_TITLE:
            raise ValidationFailed(f"batch_title: at most {MAX_TITLE} characters")
        approve = _positive_ids(approved_ids, "approved_ids")
        reject = _positive_ids(rejected_ids, "rejected_ids")
        if not approve and not reject:
            raise ValidationFailed("approved_ids/rejected_ids: provide at least one change id")
        both = sorted(set(approve) & set(reject))
        if both:
            raise ValidationFailed(f"Change ids cannot be both approved and rejected: {both}")
        reason = (reject_reason or "").strip() or None
        if reject and reason is None:
            raise ValidationFailed("reject_reason: required when rejecting changes")
        if reason is not None and len(reason) > MAX_REASON:
            raise ValidationFailed(f"reject_reason: at most {MAX_REASON} characters")
        actor = Actor(str(approver_id), approver_username)
        now = now_ts()
        with self.db.write() as conn:
            found = queue_store.get_many(conn, approve + reject)
            for cid in approve:
                rec = _existing(found, cid)
                if rec.status is not PendingChangeStatus.PENDING:
                    raise InvalidTransition(
                        f"Change {cid} is not pending (status={rec.status.value})."
                    )
                if self.two_person_rule and rec.requested_by == actor.user_id:
                    raise PermissionDenied(
                        f"Change {cid}: you cannot approve your own change (two-person rule)."
                    )
            for cid in reject:
                rec = _existing(found, cid)
                if rec.status not in (PendingChangeStatus.PENDING, PendingChangeStatus.APPROVED):
                    raise InvalidTransition(
                        f"Change {cid} is not pending (status={rec.status.value})."
                    )
            batch_id: int | None = None
            if approve:
                batch_id = queue_store.open_batch_id(conn) or queue_store.next_id(conn, "batch_id")
            approve_values = {
                "batch_id": batch_id,
                "batch_title": title,
                "approved_by": actor.user_id,
                "approved_username": actor.username,
                "approved_at": now,
            }
            approved, approve_events = transition_many(
                conn,
                [found[cid] for cid in approve],
                Action.approve,
                actor=actor,
                now=now,
                domain=self.domain,
                values=lambda _rec: approve_values,
                body=lambda _rec: {"batch_id": batch_id, "batch_title": title},
                emit=False,
            )

            def reject_batch(rec: PendingChangeRecord) -> int | None:
                return batch_id if batch_id is not None else rec.batch_id

            rejected, reject_events = transition_many(
                conn,
                [found[cid] for cid in reject],
                Action.reject,
                actor=actor,
                now=now,
                domain=self.domain,
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
            audit_store.append_many(conn, approve_events + reject_events)
        return PendingBatchResult(
            batch_id=batch_id, batch_title=title, approved=approved, rejected=rejected
        )

    def withdraw_change(
        self, *, change_id: int, requestor_id: str, requestor_username: str
    ) -> PendingChangeRecord:
        """The requester cancels their own pending change (recorded as rejected, "withdrawn")."""
        now = now_ts()
        with self.db.write() as conn:
            record = load(conn, change_id)
            if record.requested_by != str(requestor_id):
                raise PermissionDenied(f"Change {change_id}: only its requester can withdraw it.")
            return transition(
                conn,
                record,
                Action.withdraw,
                actor=Actor(str(requestor_id), requestor_username),
                now=now,
                domain=self.domain,
                values={
                    "rejected_by": str(requestor_id),
                    "rejected_username": requestor_username,
                    "rejected_at": now,
                    "reject_reason": "withdrawn",
                },
                body={"reason": "withdrawn"},
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
        actor = Actor(str(purged_by), purged_username)
        now = now_ts()
        with self.db.write() as conn:
            ids = queue_store.matching_ids(conn, queue_filter)
            found = queue_store.get_many(conn, ids)
            removable = [cid for cid in ids if found[cid].status in PURGEABLE]
            if dry_run:
                return removable
            for cid in removable:
                rec = found[cid]
                audit_queue(
                    conn,
                    domain=self.domain,
                    action=Action.purge,
                    actor=actor,
                    now=now,
                    change_id=cid,
                    batch_id=rec.batch_id,
                    body={
                        "change_id": cid,
                        "category": rec.category.value,
                        "model": rec.model_name,
                        "requested_by": rec.requested_by,
                        "status": rec.status.value,
                        "purged_by_username": purged_username,
                    },
                )
            queue_store.delete_ids(conn, removable)
        return removable


def is_legacy_payload(request_metadata: dict[str, Any] | None) -> bool:
    """Changes enqueued through v1 routes of a legacy-canonical deployment carry legacy JSON."""
    return bool(request_metadata) and (request_metadata or {}).get("payload_format") == "legacy"


def _check_legacy_payload(cat: Category, name: str, payload: Any) -> dict[str, Any]:
    """Validate a legacy payload by converting it; the legacy shape itself is what is stored."""
    if not isinstance(payload, dict):
        raise ValidationFailed("payload must be a JSON object")
    if cat not in LEGACY_CATEGORIES:
        raise ValidationFailed(f"category: {cat.value} has no legacy format")
    record, _extras = legacy_payload_to_v2(cat, name, payload)
    records.validate_record(cat, record, name=name)
    return payload


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
