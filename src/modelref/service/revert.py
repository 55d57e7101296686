"""Reverts as reviewed proposals: the inverse of an applied batch or change, queued.

The inverse changes come from the audit log's before-images (:mod:`modelref.domain.revert`);
they are queued in one transaction through :meth:`ReviewService.enqueue_many` by the caller,
pinned to the current live records like any proposal, with notes linking the original, and
then pass the same approvals, checks and audit as every other change.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from modelref.domain import revert
from modelref.domain.actors import Actor
from modelref.domain.audit import AuditEvent
from modelref.domain.errors import InvalidTransition, NotFound
from modelref.domain.queue_models import PendingChangeRecord, PendingChangeStatus
from modelref.service.review import Proposal, ReviewService
from modelref.store.database import Database


class RevertProposals(BaseModel):
    """The proposals a revert queued (``POST .../revert`` answers with this)."""

    reverted_batch_id: int | None = Field(description="The batch reverted (or the change's)")
    reverted_change_ids: list[int] = Field(description="Applied changes these proposals undo")
    queued: list[PendingChangeRecord] = Field(description="The revert proposals, now pending")

    def wire(self) -> dict[str, Any]:
        """The JSON answer (API and CLI alike): queued records omit nulls, as enqueues do."""
        body = self.model_dump(mode="json")
        body["queued"] = [r.model_dump(mode="json", exclude_none=True) for r in self.queued]
        return body


class Reverts:
    """Builds and queues revert proposals on one database."""

    def __init__(self, db: Database, review: ReviewService) -> None:
        self.db = db
        self.review = review

    def revert_batch(self, batch_id: int, requester: Actor) -> RevertProposals:
        """Queue the inverse of everything batch ``batch_id`` applied."""
        with self.db.read() as tx:
            events = tx.audit.for_batches([batch_id])
            members = tx.queue.in_batch(batch_id)
        writes = revert.catalog_writes(events)
        if not writes:
            if not events and not members:
                raise NotFound(f"Batch {batch_id} not found.")
            raise InvalidTransition(
                f"Batch {batch_id} has no applied changes: there is nothing to revert."
            )
        return self._queue(writes, batch_id, requester, f"Batch {batch_id}")

    def revert_change(self, change_id: int, requester: Actor) -> RevertProposals:
        """Queue the inverse of what change ``change_id`` applied."""
        with self.db.read() as tx:
            record = tx.queue.get(change_id)
            writes = tx.audit.catalog_writes([change_id]) if record is not None else []
        if record is None:
            raise NotFound(f"Change {change_id} not found.")
        if record.status is not PendingChangeStatus.APPLIED or not writes:
            raise InvalidTransition(
                f"Change {change_id} is not applied (status={record.status.value}): only "
                "applied changes can be reverted."
            )
        return self._queue(writes, record.batch_id, requester, f"Change {change_id}")

    def _queue(
        self, writes: list[AuditEvent], batch_id: int | None, requester: Actor, what: str
    ) -> RevertProposals:
        inverses = revert.inverses(writes)
        if not inverses:
            raise InvalidTransition(
                f"{what} left the catalog as it was: there is nothing to revert."
            )
        proposals = [
            Proposal(
                category=inv.category,
                model_name=inv.model_name,
                operation=inv.operation,
                payload=inv.payload,
                requestor=requester,
                notes=revert.notes(inv, batch_id),
                request_metadata=revert.request_metadata(inv, batch_id),
            )
            for inv in inverses
        ]
        queued = self.review.enqueue_many(proposals)
        reverted = sorted({cid for inv in inverses for cid in inv.change_ids})
        return RevertProposals(
            reverted_batch_id=batch_id, reverted_change_ids=reverted, queued=queued
        )
