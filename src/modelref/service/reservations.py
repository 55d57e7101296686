"""Reservations and apply bookkeeping of the queue: APPROVED <-> APPLYING -> APPLIED.

A mixin of :class:`modelref.service.queue.PendingQueueService`, kept apart because these steps
also run inside the apply engine's transactions (the ``*_in`` methods take its connection).
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection

from modelref.domain import transitions
from modelref.domain.errors import (
    ModelrefError,
    NotFound,
    PermissionDenied,
    ReservationConflict,
    ValidationFailed,
)
from modelref.domain.queue_models import (
    MarkAppliedResult,
    PendingChangeRecord,
    PendingChangeStatus,
    now_ts,
)
from modelref.domain.transitions import Action
from modelref.service.queue_tx import (
    Actor,
    load,
    recover_stuck,
    rejoin_batch,
    split_remaining,
    transition,
    transition_many,
)
from modelref.settings import Settings
from modelref.store import queue_store
from modelref.store.database import Database

if TYPE_CHECKING:
    from modelref.service.queue import PendingQueueService

MAX_JOB_ID = 120


def normalize_job_id(job_id: str | None) -> str | None:
    """Trim a caller's job id; empty means none. Over-long ids are refused."""
    if job_id is None:
        return None
    job_id = job_id.strip()
    if len(job_id) > MAX_JOB_ID:
        raise ValidationFailed(f"job_id: at most {MAX_JOB_ID} characters")
    return job_id or None


class ReservationsMixin:
    """Reserve, release, recover and mark applied; needs ``db``, ``settings``, ``domain``."""

    db: Database
    settings: Settings
    domain: str
    two_person_rule: bool

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
        return ApplyEngine(cast("PendingQueueService", self), publisher)

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
