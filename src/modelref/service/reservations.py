"""Reservations outside the apply engine: APPROVED <-> APPLYING -> APPLIED for external jobs.

The seed's names: ``reserve_for_apply``, ``clear_apply_reservation``, ``scan_stuck_applying``
and ``mark_applied`` (an external apply job reserves, writes elsewhere, then marks applied).
Each call is one transaction; the steps themselves live in :mod:`modelref.service.lifecycle`.
"""

from __future__ import annotations

import logging
import uuid

from modelref.domain import inputs
from modelref.domain.actors import SYSTEM, Actor
from modelref.domain.clock import Clock
from modelref.domain.errors import ApplyFailed, NotFound, ReservationConflict
from modelref.domain.queue_models import MarkAppliedResult, PendingChangeRecord
from modelref.domain.queue_models import PendingChangeStatus as S
from modelref.service import lifecycle
from modelref.service.lifecycle import Step
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.recovery")


def normalize_job_id(job_id: str | None) -> str | None:
    """Trim a caller's job id; empty means none. Over-long ids are refused."""
    return inputs.text(job_id, "job_id", inputs.MAX_JOB_ID)


class Reservations:
    """Reserve, release, recover and mark applied, one transaction per call."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def _step(self, tx: Transaction, actor: Actor) -> Step:
        return Step(tx, actor, self.clock(), self.settings.canonical_format)

    def reserve_for_apply(
        self, change_id: int, job_id: str | None = None, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        """APPROVED -> APPLYING under ``job_id``; the same job id again is a no-op."""
        if not inputs.in_range(change_id):
            raise NotFound(f"Change {change_id} not found.")
        job = normalize_job_id(job_id) or f"apply-{change_id}-{uuid.uuid4().hex}"
        with self.db.write() as tx:
            step = self._step(tx, actor or SYSTEM)
            try:
                (record,) = lifecycle.reserve(
                    step,
                    [change_id],
                    job,
                    lease_until=step.now + self.settings.apply_lease_seconds,
                    two_person_rule=self.settings.two_person_rule,
                )
            except ApplyFailed as exc:  # one change: its own error is the answer
                raise exc.cause from None
        return record

    def clear_apply_reservation(
        self, change_id: int, job_id: str, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        """APPLYING -> APPROVED for the job holding the reservation."""
        job = normalize_job_id(job_id)
        with self.db.write() as tx:
            record = lifecycle.load(tx, change_id)
            if record.status is S.APPROVED:
                return record
            if record.status is S.APPLYING and record.applied_job_id != job:
                raise ReservationConflict(
                    change_id,
                    record.applied_job_id,
                    f"Change {change_id} is reserved by another job "
                    f"(job_id={record.applied_job_id}).",
                )
            (released,) = lifecycle.release(
                self._step(tx, actor or SYSTEM), [record], job, "released"
            )
        return released

    def scan_stuck_applying(self, *, only_expired: bool = False) -> list[PendingChangeRecord]:
        """Revert APPLYING records to APPROVED, warning once per record (start-up recovery).

        With ``only_expired`` only reservations whose lease ran out are reverted, which is
        what a live instance does for records another (crashed) instance left behind.
        """
        with self.db.write() as tx:
            step = self._step(tx, SYSTEM)
            recovered = lifecycle.recover(step, expired_before=step.now if only_expired else None)
        if recovered:
            log.info("recovered %d stuck reservations", len(recovered))
        return recovered

    def mark_applied(
        self, change_id: int, job_id: str, *, applied_by: str, applied_username: str
    ) -> MarkAppliedResult:
        """Mark a reserved change applied without a catalog write (for external apply jobs)."""
        actor = Actor(str(applied_by), applied_username)
        with self.db.write() as tx:
            record = lifecycle.load(tx, change_id)
            if record.status is S.APPLIED and record.applied_job_id == job_id:
                return MarkAppliedResult(record=record)
            if record.applied_job_id != job_id:
                raise ReservationConflict(
                    change_id,
                    record.applied_job_id,
                    f"Change {change_id} is not reserved by job {job_id} "
                    f"(job_id={record.applied_job_id}).",
                )
            step = self._step(tx, actor)
            (applied,), _events = lifecycle.mark_applied(step, [record], set(), emit=True)
            split = lifecycle.split(step, record.batch_id) if record.batch_id else None
        return MarkAppliedResult(record=applied, batch_split=split)
