"""Stateful property test of the review queue, on SQLite and on PostgreSQL.

Hypothesis drives random sequences of enqueue / approve / reject / withdraw / reserve / release /
purge / mark-applied / stuck-scan calls against a real database (a fresh SQLite file or a fresh
PostgreSQL schema per example) while a small Python model predicts every outcome: the returned
records, the exact error class of every refused call, change and batch id allocation (the seed's
single-open-batch rule), and which audit events each call writes. After every step the store is
compared with the model and with the audit log (event counts per change and action, hash chain,
replay of the log == the store), and applied/rejected records are checked to be frozen.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
)

from modelref import PendingChangeRecord, PendingQueueFilter
from modelref import PendingChangeStatus as S
from modelref.domain import errors
from modelref.domain.actors import Actor
from tests.conftest import PG_AVAILABLE
from tests.contract.queue_model import (
    APPROVERS,
    HELD,
    JOBS,
    NAMES,
    POSTGRES_SETTINGS,
    PURGEABLE,
    REQUESTERS,
    SQLITE_SETTINGS,
    TERMINAL,
    USERS,
    ErrorType,
    Expected,
    ModelledQueue,
    picks,
)
from tests.factories import ALICE, BOB, CAROL, misc_payload


class QueueMachine(ModelledQueue):
    """The queue service next to a model that predicts every outcome."""

    @initialize(
        first=st.lists(st.tuples(st.sampled_from(REQUESTERS), st.sampled_from(NAMES)), max_size=6),
        approve=st.integers(min_value=0, max_value=6),
    )
    def start(self, first: list[tuple[tuple[str, str], str]], approve: int) -> None:
        """Begin with a few changes, some of them approved, so apply rules have work."""
        for who, name in first:
            self.enqueue(who, name)
        ids = [cid for cid, m in self.model.items() if m.requested_by != BOB[0]][:approve]
        if ids:
            self._review(ids, [], None, BOB, "initial")

    @rule(who=st.sampled_from(REQUESTERS), name=st.sampled_from(NAMES))
    def enqueue(self, who: tuple[str, str], name: str) -> None:
        rec = self.svc.enqueue_change(
            category="miscellaneous",
            model_name=name,
            operation="create",
            payload=misc_payload(name),
            requestor_id=who[0],
            requestor_username=who[1],
        )
        self.last_change_id += 1
        assert rec.change_id == self.last_change_id  # purged ids are never reused
        assert rec.status is S.PENDING and rec.requested_by == who[0]
        self.model[rec.change_id] = Expected(requested_by=who[0], model_name=name)
        self.events[(rec.change_id, "enqueue")] += 1

    @rule(
        approve=st.lists(picks, min_size=1, max_size=3),
        reject=st.lists(picks, max_size=1),
        reason=st.sampled_from(["duplicate", "  not needed ", None]),
        approver=st.sampled_from(APPROVERS),
        title=st.sampled_from(["first", "  second batch "]),
    )
    def approve(
        self,
        approve: list[int],
        reject: list[int],
        reason: str | None,
        approver: tuple[str, str],
        title: str,
    ) -> None:
        """Approve (and now and then reject in the same batch)."""
        fit = {S.PENDING}
        a = sorted({self._choose(p, fit, lambda m: m.requested_by != approver[0]) for p in approve})
        r = sorted({self._choose(p, {S.PENDING, S.APPROVED}, lambda m: True) for p in reject})
        self._review(a, r, reason, approver, title)

    @rule(
        reject=st.lists(picks, min_size=1, max_size=2),
        reason=st.sampled_from(["duplicate", "  not needed ", "stale", None, "   "]),
        approver=st.sampled_from(APPROVERS),
    )
    def reject(self, reject: list[int], reason: str | None, approver: tuple[str, str]) -> None:
        """Reject pending changes or revoke approved ones; a reason is required."""
        r = sorted({self._choose(p, {S.PENDING, S.APPROVED}, lambda m: True) for p in reject})
        self._review([], r, reason, approver, "rejections")

    def _review(
        self,
        a: list[int],
        r: list[int],
        reason: str | None,
        approver: tuple[str, str],
        title: str,
    ) -> None:
        clean_reason = (reason or "").strip() or None

        def call() -> Any:
            return self.svc.process_batch(
                approver_id=approver[0],
                approver_username=approver[1],
                batch_title=title,
                approved_ids=a,
                rejected_ids=r,
                reject_reason=reason,
            )

        error = self._review_error(a, r, clean_reason, approver[0])
        if error is not None:
            self._refused(error, call)
            return
        result = call()
        batch: int | None = None
        if a:
            batch = self._open_batch()
            if batch is None:
                self.last_batch_id += 1  # only a successful approval allocates (W10)
                batch = self.last_batch_id
        assert result.batch_id == batch
        assert result.batch_title == title.strip()
        assert [x.change_id for x in result.approved] == a
        assert [x.change_id for x in result.rejected] == r
        for cid in a:
            m = self.model[cid]
            m.status, m.batch_id = S.APPROVED, batch
            self.events[(cid, "approve")] += 1
        for cid in r:
            m = self.model[cid]
            m.status, m.reject_reason = S.REJECTED, clean_reason
            if batch is not None:
                m.batch_id = batch
            self.events[(cid, "reject")] += 1

    def _review_error(
        self, a: list[int], r: list[int], reason: str | None, approver_id: str
    ) -> ErrorType | None:
        if not a and not r:
            return errors.ValidationFailed
        if set(a) & set(r):
            return errors.ValidationFailed
        if r and reason is None:
            return errors.ValidationFailed
        for cid in a:
            m = self.model.get(cid)
            if m is None or m.status is not S.PENDING:
                return errors.InvalidTransition
            if m.requested_by == approver_id:
                return errors.PermissionDenied  # two-person rule (W11)
        for cid in r:
            m = self.model.get(cid)
            if m is None or m.status not in (S.PENDING, S.APPROVED):
                return errors.InvalidTransition
        return None

    @rule(pick=picks, impostor=st.sampled_from([False, False, False, True]))
    def withdraw(self, pick: int, impostor: bool) -> None:
        cid = self._choose(pick, {S.PENDING})
        m = self.model.get(cid)
        owner = m.requested_by if m is not None else ALICE[0]
        who = next(u for u in USERS if (u[0] == owner) != impostor)

        def call() -> PendingChangeRecord:
            return self.svc.withdraw_change(
                change_id=cid, requestor_id=who[0], requestor_username=who[1]
            )

        if m is None:
            self._refused(errors.NotFound, call)
        elif m.requested_by != who[0]:
            self._refused(errors.PermissionDenied, call)
        elif m.status is not S.PENDING:
            self._refused(errors.InvalidTransition, call)
        else:
            rec = call()
            assert rec.status is S.REJECTED and rec.reject_reason == "withdrawn"
            m.status, m.reject_reason = S.REJECTED, "withdrawn"
            self.events[(cid, "withdraw")] += 1

    @rule(
        pick=picks,
        job=st.sampled_from([*JOBS, HELD, HELD, HELD, " j1 ", "", None]),
        actor=st.sampled_from([None, ALICE, CAROL]),
    )
    def reserve(self, pick: int, job: str | None, actor: tuple[str, str] | None) -> None:
        self._reserve(self._choose(pick, {S.APPROVED, S.APPLYING}), job, actor)

    def _reserve(self, cid: int, job: str | None, actor: tuple[str, str] | None) -> bool:
        """Reserve ``cid``; True when a new reservation was taken."""
        m = self.model.get(cid)
        raw = self._held(cid, job) if job is not None else None
        norm = (raw or "").strip() or None
        who = Actor(*actor) if actor is not None else None

        def call() -> PendingChangeRecord:
            return self.svc.reserve_for_apply(cid, raw, actor=who)

        if m is None:
            self._refused(errors.NotFound, call)
        elif norm is not None and m.job == norm and m.status in (S.APPLYING, S.APPLIED):
            rec = self._unchanged(call)  # the same job again is idempotent (W8)
            assert rec == self.svc.get_change(cid)
        elif m.status is S.APPLYING:
            self._refused(errors.ReservationConflict, call)
        elif m.status is not S.APPROVED:
            if who is not None and m.requested_by == who.user_id:
                self._refused((errors.InvalidTransition, errors.PermissionDenied), call)
            else:
                self._refused(errors.InvalidTransition, call)
        elif who is not None and m.requested_by == who.user_id:
            self._refused(errors.PermissionDenied, call)
        else:
            rec = call()
            assert rec.status is S.APPLYING
            if norm is None:
                assert rec.applied_job_id is not None
                assert rec.applied_job_id.startswith(f"apply-{cid}-")
            else:
                assert rec.applied_job_id == norm
            m.status, m.job = S.APPLYING, rec.applied_job_id
            self.events[(cid, "reserve")] += 1
            return True
        return False

    @rule(pick=picks, job=st.sampled_from([*JOBS, HELD, HELD]))
    def release(self, pick: int, job: str) -> None:
        cid = self._choose(pick, {S.APPLYING})
        m = self.model.get(cid)
        raw = self._held(cid, job)

        def call() -> PendingChangeRecord:
            return self.svc.clear_apply_reservation(cid, raw)

        if m is None:
            self._refused(errors.NotFound, call)
        elif m.status is S.APPROVED:
            self._unchanged(call)
        elif m.status is S.APPLYING and m.job != raw:
            self._refused(errors.ReservationConflict, call)
        elif m.status is not S.APPLYING:
            self._refused(errors.InvalidTransition, call)
        else:
            rec = call()
            assert rec.status is S.APPROVED and rec.applied_job_id is None
            assert rec.batch_id == m.batch_id  # a released record keeps its batch
            self._back_to_approved(cid, "release")

    @rule(pick=picks, job=st.sampled_from([*JOBS, HELD, HELD]), who=st.sampled_from([BOB, CAROL]))
    def mark_applied(self, pick: int, job: str, who: tuple[str, str]) -> None:
        self._mark_applied(self._choose(pick, {S.APPLYING, S.APPLIED}), job, who)

    @rule(
        pick=picks,
        job=st.sampled_from([None, "j1", "j2"]),
        who=st.sampled_from([BOB, CAROL]),
    )
    def apply_externally(self, pick: int, job: str | None, who: tuple[str, str]) -> None:
        """The external-apply flow in one step: reserve an approved change, then mark it."""
        cid = self._choose(pick, {S.APPROVED})
        if self._reserve(cid, job, None):
            self._mark_applied(cid, HELD, who)

    def _mark_applied(self, cid: int, job: str, who: tuple[str, str]) -> None:
        m = self.model.get(cid)
        raw = self._held(cid, job)

        def call() -> Any:
            return self.svc.mark_applied(cid, raw, applied_by=who[0], applied_username=who[1])

        if m is None:
            self._refused(errors.NotFound, call)
        elif m.status is S.APPLIED and m.job == raw:
            result = self._unchanged(call)
            assert result.batch_split is None
        elif m.job != raw:
            self._refused((errors.ReservationConflict, errors.InvalidTransition), call)
        else:
            assert m.status is S.APPLYING  # only applying/applied records carry a job id
            result = call()
            assert result.record.status is S.APPLIED
            assert result.record.applied_by == who[0]
            assert result.record.batch_id == m.batch_id  # the applied record keeps its batch
            m.status = S.APPLIED
            self.events[(cid, "apply")] += 1
            leftovers = sorted(
                c
                for c, x in self.model.items()
                if x.status is S.APPROVED and m.batch_id is not None and x.batch_id == m.batch_id
            )
            if not leftovers:
                assert result.batch_split is None
                return
            assert m.batch_id is not None
            self.last_batch_id += 1
            split = result.batch_split
            assert split is not None
            assert (split.original_batch_id, split.new_batch_id) == (
                m.batch_id,
                self.last_batch_id,
            )
            assert split.reassigned_change_ids == leftovers
            for c in leftovers:
                self.model[c].batch_id = self.last_batch_id
            self.splits.append((m.batch_id, self.last_batch_id, leftovers))

    @precondition(lambda self: self._any(S.APPLYING))
    @rule()
    def recover_stuck(self) -> None:
        reverted = self.svc.scan_stuck_applying()
        expected = sorted(c for c, m in self.model.items() if m.status is S.APPLYING)
        assert [r.change_id for r in reverted] == expected
        for cid in expected:
            self._back_to_approved(cid, "recover")

    @rule(
        filters=st.fixed_dictionaries(
            {},
            optional={
                "statuses": st.sets(st.sampled_from(list(S)), max_size=3),
                "requested_by": st.sets(st.sampled_from([u[0] for u in USERS]), max_size=2),
                "model_name": st.sampled_from(["", "  ", "alpha", "BETA", "a-x"]),
                "batch_id": st.integers(min_value=1, max_value=4),
            },
        ),
        purge_all=st.sampled_from([False, False, True]),
        dry_run=st.sampled_from([False, False, True]),
    )
    def purge(self, filters: dict[str, Any], purge_all: bool, dry_run: bool) -> None:
        """Purge by random filters (an empty set or a blank name is no filter)."""
        flt = PendingQueueFilter(**filters)
        statuses: set[S] = filters.get("statuses") or set()
        requesters: set[str] = filters.get("requested_by") or set()
        name: str | None = filters.get("model_name")
        batch: int | None = filters.get("batch_id")
        needle = (name or "").strip().lower()

        def call() -> list[int]:
            return self.svc.purge_changes(flt, BOB[0], BOB[1], purge_all=purge_all, dry_run=dry_run)

        if not (statuses or requesters or needle or batch is not None or purge_all):
            self._refused(errors.ValidationFailed, call)
            return
        expected = sorted(
            cid
            for cid, m in self.model.items()
            if m.status in PURGEABLE
            and (not statuses or m.status in statuses)
            and (not requesters or m.requested_by in requesters)
            and needle in m.model_name.lower()
            and (batch is None or m.batch_id == batch)
        )
        if dry_run:
            assert self._unchanged(call) == expected
            return
        assert call() == expected
        for cid in expected:
            del self.model[cid]
            self.events[(cid, "purge")] += 1

    # ------------------------------------------------------------------ invariants
    @invariant()
    def store_and_log_match_model(self) -> None:
        items = self.svc.list_changes().items
        ids = [r.change_id for r in items]
        assert ids == sorted(set(ids)), "change ids must be unique, listed in increasing order"
        assert ids == sorted(self.model)
        assert all(1 <= cid <= self.last_change_id for cid in ids)
        for rec in items:
            m = self.model[rec.change_id]
            assert (
                rec.status,
                rec.batch_id,
                rec.applied_job_id,
                rec.requested_by,
                rec.model_name,
                rec.reject_reason,
            ) == (m.status, m.batch_id, m.job, m.requested_by, m.model_name, m.reject_reason)
            if rec.status in TERMINAL:
                frozen = self.frozen.setdefault(rec.change_id, rec)
                assert rec == frozen, f"terminal change {rec.change_id} was modified"
        approved = [r for r in items if r.status is S.APPROVED]
        assert all(r.batch_id is not None for r in approved), "approved change without a batch"
        batches = {r.batch_id for r in approved if r.batch_id is not None}
        assert len(batches) <= 1, f"several open batches: {sorted(batches)}"

        events = self.audit.events()
        per_change = Counter((e.change_id, e.action) for e in events if e.change_id is not None)
        assert per_change == self.events, "exactly one audit event per transition"
        splits = [
            (
                e.batch_id,
                e.payload["after"]["new_batch_id"],
                e.payload["after"]["reassigned_change_ids"],
            )
            for e in events
            if e.action == "batch_split"
        ]
        assert splits == self.splits
        assert len(events) == sum(self.events.values()) + len(self.splits)
        report = self.audit.verify()
        assert report.ok and report.events == len(events), report
        assert self.audit.replay() == {r.change_id: r for r in items}
        self.seen = (items, len(events))


@SQLITE_SETTINGS
class SqliteQueueMachine(QueueMachine):
    engine = "sqlite"


@POSTGRES_SETTINGS
class PostgresQueueMachine(QueueMachine):
    engine = "postgres"


TestQueueStatefulSqlite = SqliteQueueMachine.TestCase
TestQueueStatefulPostgres = pytest.mark.postgres(
    pytest.mark.skipif(not PG_AVAILABLE, reason="PostgreSQL not reachable")(
        PostgresQueueMachine.TestCase
    )
)
