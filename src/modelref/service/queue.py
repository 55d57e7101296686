"""``PendingQueueService``: the review queue's use cases, with upstream-familiar names.

Every public method is one transaction on the shared database: either all of its queue rows,
catalog rows and audit events are written, or none are.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import Connection

from modelref.domain import records, text_variants, transitions
from modelref.domain.categories import (
    LEGACY_CATEGORIES,
    AuditOperation,
    Category,
    parse_category,
)
from modelref.domain.errors import (
    Conflict,
    InvalidTransition,
    ModelrefError,
    NotFound,
    PermissionDenied,
    ReservationConflict,
    ValidationFailed,
)
from modelref.domain.legacy_convert import legacy_payload_to_v2
from modelref.domain.queue_models import (
    MarkAppliedResult,
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
    recover_stuck,
    rejoin_batch,
    split_remaining,
    transition,
    transition_many,
)
from modelref.settings import Settings
from modelref.store import audit_store, catalog_store, migrate, queue_store
from modelref.store.database import Database

log = logging.getLogger("modelref.queue")

MAX_TITLE = 120
MAX_REASON = 500
MAX_JOB_ID = 120


def _positive_ids(ids: list[int] | None, field: str) -> list[int]:
    cleaned: list[int] = []
    for value in ids or []:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationFailed(f"{field}: change ids must be integers, got {value!r}")
        if value <= 0:
            raise ValidationFailed(f"{field}: change ids must be positive, got {value}")
        cleaned.append(value)
    return sorted(set(cleaned))


def normalize_job_id(job_id: str | None) -> str | None:
    """Trim a caller's job id; empty means none. Over-long ids are refused."""
    if job_id is None:
        return None
    job_id = job_id.strip()
    if len(job_id) > MAX_JOB_ID:
        raise ValidationFailed(f"job_id: at most {MAX_JOB_ID} characters")
    return job_id or None


class PendingQueueService:
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

    # ------------------------------------------------------------------ reservations
    def reserve_for_apply(
        self, change_id: int, job_id: str | None = None, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        """APPROVED -> APPLYING under ``job_id``; the same job id again is a no-op."""
        job = normalize_job_id(job_id) or f"apply-{change_id}-{uuid.uuid4().hex}"
        with self.db.write() as conn:
            return self.reserve_in(conn, change_id, job, actor=actor, now=now_ts())

    def reserve_in(
        self, conn: Connection, change_id: int, job: str, *, actor: Actor | None, now: int
    ) -> PendingChangeRecord:
        """Reservation step on the caller's transaction (used by the apply engine)."""
        return self.reserve_many_in(conn, [change_id], job, actor=actor, now=now)[0]

    def reserve_many_in(
        self,
        conn: Connection,
        change_ids: list[int],
        job: str,
        *,
        actor: Actor | None,
        now: int,
    ) -> list[PendingChangeRecord]:
        """Reserve several changes for ``job`` (those it already holds are left as they are)."""
        found = queue_store.get_many(conn, change_ids)
        to_reserve: list[PendingChangeRecord] = []
        result: dict[int, PendingChangeRecord] = {}
        for change_id in change_ids:
            try:
                self._check_reservable(found.get(change_id), change_id, job, actor, to_reserve)
            except ModelrefError as exc:
                exc.change_id = change_id  # type: ignore[attr-defined]  # for ApplyFailed
                raise
            if not to_reserve or to_reserve[-1].change_id != change_id:
                result[change_id] = found[change_id]
        reserved, _events = transition_many(
            conn,
            to_reserve,
            Action.reserve,
            actor=actor or Actor("system", "modelref"),
            now=now,
            domain=self.domain,
            values=lambda _rec: {"applied_job_id": job},
            body=lambda _rec: {"job_id": job},
            store_only={"lease_expires_at": now + self.settings.apply_lease_seconds},
        )
        result.update({r.change_id: r for r in reserved})
        return [result[cid] for cid in change_ids]

    def _check_reservable(
        self,
        record: PendingChangeRecord | None,
        change_id: int,
        job: str,
        actor: Actor | None,
        to_reserve: list[PendingChangeRecord],
    ) -> None:
        """Raise why ``change_id`` cannot be reserved; queue it in ``to_reserve`` when needed."""
        if record is None:
            raise NotFound(f"Change {change_id} not found.")
        if record.applied_job_id == job and record.status in (
            PendingChangeStatus.APPLYING,
            PendingChangeStatus.APPLIED,
        ):
            return
        if record.status is PendingChangeStatus.APPLYING:
            raise ReservationConflict(
                f"Change {change_id} is already reserved for apply "
                f"(job_id={record.applied_job_id})."
            )
        if self.two_person_rule and actor is not None and record.requested_by == actor.user_id:
            raise PermissionDenied(
                f"Change {change_id}: you cannot apply your own change (two-person rule)."
            )
        transitions.check(Action.reserve, record.status, change_id)
        to_reserve.append(record)

    def clear_apply_reservation(
        self, change_id: int, job_id: str, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        """APPLYING -> APPROVED for the job holding the reservation."""
        job = normalize_job_id(job_id)
        with self.db.write() as conn:
            return self.release_in(conn, change_id, job, actor=actor, now=now_ts())

    def release_in(
        self,
        conn: Connection,
        change_id: int,
        job: str | None,
        *,
        actor: Actor | None,
        now: int,
        reason: str = "released",
    ) -> PendingChangeRecord:
        record = load(conn, change_id)
        if record.status is PendingChangeStatus.APPROVED:
            return record
        if record.status is PendingChangeStatus.APPLYING and record.applied_job_id != job:
            raise ReservationConflict(
                f"Change {change_id} is reserved by another job (job_id={record.applied_job_id})."
            )
        rejoin = rejoin_batch(conn, record)
        return transition(
            conn,
            record,
            Action.release,
            actor=actor or Actor("system", "modelref"),
            now=now,
            domain=self.domain,
            values={"applied_job_id": None, "batch_id": rejoin},
            body={"job_id": job, "reason": reason, "batch_id": rejoin},
            store_only={"lease_expires_at": None},
        )

    def release_many_in(
        self,
        conn: Connection,
        change_ids: list[int],
        job: str,
        *,
        actor: Actor,
        now: int,
        reason: str,
    ) -> list[PendingChangeRecord]:
        """Release the reservations ``job`` still holds among ``change_ids`` (others untouched)."""
        found = queue_store.get_many(conn, change_ids)
        held = [
            found[cid]
            for cid in change_ids
            if cid in found
            and found[cid].status is PendingChangeStatus.APPLYING
            and found[cid].applied_job_id == job
        ]
        open_batch = queue_store.open_batch_id(conn)
        released, _events = transition_many(
            conn,
            held,
            Action.release,
            actor=actor,
            now=now,
            domain=self.domain,
            values=lambda rec: {"applied_job_id": None, "batch_id": open_batch or rec.batch_id},
            body=lambda rec: {
                "job_id": job,
                "reason": reason,
                "batch_id": open_batch or rec.batch_id,
            },
            store_only={"lease_expires_at": None},
        )
        return released

    def scan_stuck_applying(self, *, only_expired: bool = False) -> list[PendingChangeRecord]:
        """Revert APPLYING records to APPROVED, warning once per record (start-up recovery).

        With ``only_expired`` only reservations whose lease ran out are reverted, which is
        what a live instance does for records another (crashed) instance left behind.
        """
        now = now_ts()
        with self.db.write() as conn:
            return recover_stuck(
                conn,
                now=now,
                domain=self.domain,
                lease_expired_before=now if only_expired else None,
            )

    # ------------------------------------------------------------------ apply bookkeeping
    def mark_applied_in(
        self,
        conn: Connection,
        record: PendingChangeRecord,
        *,
        actor: Actor,
        now: int,
        forced: bool = False,
    ) -> PendingChangeRecord:
        """APPLYING -> APPLIED on the caller's transaction (after the catalog write)."""
        body: dict[str, Any] = {"batch_id": record.batch_id, "job_id": record.applied_job_id}
        if forced:
            body["forced"] = True
        return transition(
            conn,
            record,
            Action.apply,
            actor=actor,
            now=now,
            domain=self.domain,
            values={
                "applied_by": actor.user_id,
                "applied_username": actor.username,
                "applied_at": now,
            },
            body=body,
            store_only={"lease_expires_at": None},
        )

    def apply_changes(
        self,
        change_ids: list[int],
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
        allow_mixed_batch: bool = False,
    ) -> Any:
        """Apply approved changes atomically (see :class:`modelref.service.apply.ApplyEngine`)."""
        return self._engine().apply_changes(
            change_ids, applied_by, applied_username, job_id, force, allow_mixed_batch
        )

    def apply_batch(
        self,
        batch_id: int,
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
    ) -> Any:
        """Apply every approved change of one batch atomically."""
        return self._engine().apply_batch(batch_id, applied_by, applied_username, job_id, force)

    def _engine(self) -> Any:
        from modelref.service.apply import ApplyEngine
        from modelref.service.catalog import CatalogService
        from modelref.service.publish import Publisher

        publish_dir = self.settings.publish_dir
        publisher = Publisher(CatalogService(self.db), publish_dir) if publish_dir else None
        return ApplyEngine(self, publisher)

    def split_in(self, conn: Connection, batch_id: int, *, actor: Actor, now: int) -> Any:
        """At most one batch split for the leftovers of ``batch_id`` (W6)."""
        return split_remaining(conn, batch_id, actor=actor, now=now, domain=self.domain)

    def mark_applied(
        self, change_id: int, job_id: str, *, applied_by: str, applied_username: str
    ) -> MarkAppliedResult:
        """Mark a reserved change applied without a catalog write (for external apply jobs)."""
        actor = Actor(str(applied_by), applied_username)
        now = now_ts()
        with self.db.write() as conn:
            record = load(conn, change_id)
            if record.status is PendingChangeStatus.APPLIED and record.applied_job_id == job_id:
                return MarkAppliedResult(record=record)
            if record.applied_job_id != job_id:
                raise ReservationConflict(
                    f"Change {change_id} is not reserved by job {job_id} "
                    f"(job_id={record.applied_job_id})."
                )
            applied = self.mark_applied_in(conn, record, actor=actor, now=now)
            split = (
                self.split_in(conn, record.batch_id, actor=actor, now=now)
                if record.batch_id
                else None
            )
        return MarkAppliedResult(record=applied, batch_split=split)


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
