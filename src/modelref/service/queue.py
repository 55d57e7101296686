"""``PendingQueueService``: the seed-compatible library entry point, a thin facade.

Code written against upstream's queue service keeps its method names and keyword arguments;
each call goes to the part of the service layer that owns it (review, reservations, apply).
"""

from __future__ import annotations

from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.categories import AuditOperation, Category
from modelref.domain.clock import Clock
from modelref.domain.queue_models import (
    MarkAppliedResult,
    PendingBatchResult,
    PendingChangeRecord,
    PendingQueueFilter,
    PendingQueuePage,
)
from modelref.service.apply import ApplyResult
from modelref.service.container import Services
from modelref.settings import Settings
from modelref.store.database import Database


class PendingQueueService:
    """The review queue over one database (SQLite file or PostgreSQL)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @classmethod
    def from_url(
        cls, url: str, settings: Settings | None = None, *, clock: Clock | None = None
    ) -> PendingQueueService:
        """Open ``url``, bring its schema up to date and return the service."""
        base = settings or Settings()
        return cls(Services.open(base.model_copy(update={"database_url": url}), clock=clock))

    @property
    def db(self) -> Database:
        return self.services.db

    # ------------------------------------------------------------------ review
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
        return self.services.review.enqueue_change(
            category=category,
            model_name=model_name,
            operation=operation,
            payload=payload,
            requestor_id=requestor_id,
            requestor_username=requestor_username,
            notes=notes,
            request_metadata=request_metadata,
            related_models=related_models,
        )

    def get_change(self, change_id: int) -> PendingChangeRecord:
        return self.services.review.get_change(change_id)

    def list_changes(
        self,
        queue_filter: PendingQueueFilter | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> PendingQueuePage:
        return self.services.review.list_changes(queue_filter, offset, limit)

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
        return self.services.review.process_batch(
            approver_id=approver_id,
            approver_username=approver_username,
            batch_title=batch_title,
            approved_ids=approved_ids,
            rejected_ids=rejected_ids,
            reject_reason=reject_reason,
        )

    def withdraw_change(
        self, *, change_id: int, requestor_id: str, requestor_username: str
    ) -> PendingChangeRecord:
        return self.services.review.withdraw_change(
            change_id=change_id, requestor_id=requestor_id, requestor_username=requestor_username
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
        return self.services.review.purge_changes(
            queue_filter, purged_by, purged_username, purge_all=purge_all, dry_run=dry_run
        )

    # ------------------------------------------------------------------ reservations
    def reserve_for_apply(
        self, change_id: int, job_id: str | None = None, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        return self.services.reservations.reserve_for_apply(change_id, job_id, actor=actor)

    def clear_apply_reservation(
        self, change_id: int, job_id: str, *, actor: Actor | None = None
    ) -> PendingChangeRecord:
        return self.services.reservations.clear_apply_reservation(change_id, job_id, actor=actor)

    def scan_stuck_applying(self, *, only_expired: bool = False) -> list[PendingChangeRecord]:
        return self.services.reservations.scan_stuck_applying(only_expired=only_expired)

    def mark_applied(
        self, change_id: int, job_id: str, *, applied_by: str, applied_username: str
    ) -> MarkAppliedResult:
        return self.services.reservations.mark_applied(
            change_id, job_id, applied_by=applied_by, applied_username=applied_username
        )

    # ------------------------------------------------------------------ apply
    def apply_changes(
        self,
        change_ids: list[int],
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
        allow_mixed_batch: bool = False,
    ) -> ApplyResult:
        return self.services.apply.apply_changes(
            change_ids, applied_by, applied_username, job_id, force, allow_mixed_batch
        )

    def apply_batch(
        self,
        batch_id: int,
        applied_by: str,
        applied_username: str,
        job_id: str | None = None,
        force: bool = False,
    ) -> ApplyResult:
        return self.services.apply.apply_batch(
            batch_id, applied_by, applied_username, job_id, force
        )
