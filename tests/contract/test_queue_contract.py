"""Every queue behaviour, run on SQLite and on PostgreSQL (``db_url`` is parametrized)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import text

from modelref import PendingChangeStatus, PendingQueueFilter
from modelref.domain import errors
from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from tests.factories import ALICE, BOB, CAROL, enqueue_create, misc_payload, seed_catalog


@pytest.fixture
def svc(db_url: str) -> Iterator[PendingQueueService]:
    service = PendingQueueService.from_url(db_url)
    yield service
    service.db.dispose()


def approve(svc: PendingQueueService, ids: list[int], title: str = "batch") -> int | None:
    return svc.process_batch(
        approver_id=BOB[0],
        approver_username=BOB[1],
        batch_title=title,
        approved_ids=ids,
        rejected_ids=None,
    ).batch_id


def audit_matches_store(svc: PendingQueueService) -> None:
    audit = AuditService(svc.db)
    assert audit.verify().ok
    store = {r.change_id: r for r in svc.list_changes().items}
    assert audit.replay() == store


class TestEnqueue:
    def test_ids_start_at_one_and_increase(self, svc: PendingQueueService) -> None:
        ids = [enqueue_create(svc, f"m{i}") for i in range(3)]
        assert ids == [1, 2, 3]
        rec = svc.get_change(2)
        assert rec.status is PendingChangeStatus.PENDING
        assert rec.payload is not None and rec.payload["name"] == "m1"
        assert rec.base_hash is None
        audit_matches_store(svc)

    def test_update_records_base_hash_and_keeps_created(self, svc: PendingQueueService) -> None:
        live = misc_payload("m") | {"metadata": {"schema_version": "2.0.0", "created_at": 5}}
        digest = seed_catalog(svc.db, "miscellaneous", live)
        rec = svc.enqueue_change(
            category="miscellaneous",
            model_name="m",
            operation="update",
            payload=misc_payload("m", "new text"),
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        )
        assert rec.base_hash == digest
        assert rec.payload is not None and rec.payload["metadata"]["created_at"] == 5

    def test_update_must_name_the_model_it_updates(self, svc: PendingQueueService) -> None:
        seed_catalog(svc.db, "miscellaneous", misc_payload("m"))
        with pytest.raises(errors.ValidationFailed, match=r"payload\.name"):
            svc.enqueue_change(
                category="miscellaneous",
                model_name="m",
                operation="update",
                payload=misc_payload("other"),
                requestor_id=ALICE[0],
                requestor_username=ALICE[1],
            )
        assert svc.list_changes().total == 0

    def test_delete_snapshots_live_record(self, svc: PendingQueueService) -> None:
        live = misc_payload("gone")
        seed_catalog(svc.db, "miscellaneous", live)
        rec = svc.enqueue_change(
            category="miscellaneous",
            model_name="gone",
            operation="delete",
            payload=None,
            requestor_id=ALICE[0],
            requestor_username=ALICE[1],
        )
        assert rec.payload == live

    @pytest.mark.parametrize(
        ("kwargs", "needle"),
        [
            ({"category": "nope"}, "category"),
            ({"model_name": ""}, "name"),
            ({"model_name": "   "}, "name"),
            ({"model_name": "a\\b"}, "name"),
            ({"payload": ["not", "an", "object"]}, "payload"),
            ({"payload": None}, "payload"),
            ({"operation": "rename"}, "operation"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_written(
        self, svc: PendingQueueService, kwargs: dict[str, object], needle: str
    ) -> None:
        args: dict[str, object] = {
            "category": "miscellaneous",
            "model_name": "m",
            "operation": "create",
            "payload": misc_payload("m"),
            "requestor_id": ALICE[0],
            "requestor_username": ALICE[1],
        }
        args.update(kwargs)
        with pytest.raises(errors.ValidationFailed) as exc:
            svc.enqueue_change(**args)  # type: ignore[arg-type]
        assert needle in str(exc.value)
        assert svc.list_changes().total == 0
        assert AuditService(svc.db).verify().events == 0

    def test_existence_checked_against_live_catalog(self, svc: PendingQueueService) -> None:
        seed_catalog(svc.db, "miscellaneous", misc_payload("here"))
        with pytest.raises(errors.Conflict):
            enqueue_create(svc, "here")
        with pytest.raises(errors.NotFound):
            svc.enqueue_change(
                category="miscellaneous",
                model_name="absent",
                operation="update",
                payload=misc_payload("absent"),
                requestor_id=ALICE[0],
                requestor_username=ALICE[1],
            )
        assert svc.list_changes().total == 0


class TestListing:
    def test_filters_and_paging(self, svc: PendingQueueService) -> None:
        for name in ["Org/Llama-3-8B", "flux-helper", "llama-tiny", "other"]:
            enqueue_create(svc, name)
        enqueue_create(svc, "carols", CAROL)
        approve(svc, [1, 2])
        page = svc.list_changes(PendingQueueFilter(model_name=" LLAMA "))
        assert [r.model_name for r in page.items] == ["Org/Llama-3-8B", "llama-tiny"]
        page = svc.list_changes(PendingQueueFilter(statuses={PendingChangeStatus.PENDING}), 1, 2)
        assert page.total == 3 and [r.change_id for r in page.items] == [4, 5]
        assert page.offset == 1 and page.limit == 2
        page = svc.list_changes(PendingQueueFilter(requested_by={CAROL[0]}))
        assert [r.change_id for r in page.items] == [5]
        page = svc.list_changes(PendingQueueFilter(batch_id=1))
        assert [r.change_id for r in page.items] == [1, 2]
        page = svc.list_changes(PendingQueueFilter(model_name="100%_"))
        assert page.total == 0

    def test_get_unknown_change(self, svc: PendingQueueService) -> None:
        with pytest.raises(errors.NotFound):
            svc.get_change(99)


class TestBatches:
    def test_single_open_batch(self, svc: PendingQueueService) -> None:
        ids = [enqueue_create(svc, f"m{i}") for i in range(4)]
        assert approve(svc, ids[:2], "first") == 1
        assert approve(svc, [ids[2]], "second") == 1
        rec = svc.get_change(ids[2])
        assert rec.batch_id == 1 and rec.batch_title == "second"
        assert rec.approved_by == BOB[0] and rec.approved_at is not None
        audit_matches_store(svc)

    def test_reject_requires_reason_and_uses_batch(self, svc: PendingQueueService) -> None:
        a, b = enqueue_create(svc, "a"), enqueue_create(svc, "b")
        with pytest.raises(errors.ValidationFailed, match="reject_reason"):
            svc.process_batch(
                approver_id=BOB[0],
                approver_username=BOB[1],
                batch_title="t",
                approved_ids=None,
                rejected_ids=[b],
            )
        result = svc.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="t",
            approved_ids=[a],
            rejected_ids=[b],
            reject_reason="  duplicate  ",
        )
        assert result.batch_id == 1
        assert result.rejected[0].reject_reason == "duplicate"
        assert result.rejected[0].batch_id == 1
        only_reject = svc.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="t2",
            approved_ids=None,
            rejected_ids=[a],
            reject_reason="revoked",
        )
        assert only_reject.batch_id is None
        assert svc.get_change(a).status is PendingChangeStatus.REJECTED
        audit_matches_store(svc)

    @pytest.mark.parametrize(
        ("approved", "rejected", "reason", "title", "needle"),
        [
            ([], [], None, "t", "at least one"),
            (None, None, None, "t", "at least one"),
            ([1], [1], "x", "t", "both approved and rejected"),
            ([-1], None, None, "t", "positive"),
            ([0], None, None, "t", "positive"),
            ([1], None, None, "   ", "batch_title"),
            ([1], None, None, "x" * 121, "batch_title"),
        ],
    )
    def test_bad_requests_write_nothing(
        self,
        svc: PendingQueueService,
        approved: list[int] | None,
        rejected: list[int] | None,
        reason: str | None,
        title: str,
        needle: str,
    ) -> None:
        enqueue_create(svc, "a")
        before = AuditService(svc.db).verify().events
        with pytest.raises(errors.ValidationFailed, match=needle):
            svc.process_batch(
                approver_id=BOB[0],
                approver_username=BOB[1],
                batch_title=title,
                approved_ids=approved,
                rejected_ids=rejected,
                reject_reason=reason,
            )
        assert svc.get_change(1).status is PendingChangeStatus.PENDING
        assert AuditService(svc.db).verify().events == before

    def test_failed_approval_burns_no_batch_id_and_changes_nothing(
        self, svc: PendingQueueService
    ) -> None:
        a, b = enqueue_create(svc, "a"), enqueue_create(svc, "b")
        approve(svc, [a])
        svc.process_batch(
            approver_id=BOB[0],
            approver_username=BOB[1],
            batch_title="r",
            approved_ids=None,
            rejected_ids=[a],
            reject_reason="no",
        )
        with pytest.raises(errors.InvalidTransition, match=f"Change {a} is not pending"):
            approve(svc, [b, a])
        with pytest.raises(errors.InvalidTransition, match="Change 77 does not exist"):
            approve(svc, [b, 77])
        assert svc.get_change(b).status is PendingChangeStatus.PENDING
        assert approve(svc, [b]) == 2  # batch 1 was used; no id burnt by the failures
        audit_matches_store(svc)

    def test_two_person_rule(self, svc: PendingQueueService) -> None:
        cid = enqueue_create(svc, "mine", BOB)
        with pytest.raises(errors.PermissionDenied, match="own change"):
            approve(svc, [cid])
        assert svc.get_change(cid).status is PendingChangeStatus.PENDING


class TestWithdrawAndPurge:
    def test_withdraw_own_pending_change(self, svc: PendingQueueService) -> None:
        cid = enqueue_create(svc, "a")
        with pytest.raises(errors.PermissionDenied):
            svc.withdraw_change(change_id=cid, requestor_id=BOB[0], requestor_username=BOB[1])
        rec = svc.withdraw_change(change_id=cid, requestor_id=ALICE[0], requestor_username=ALICE[1])
        assert rec.status is PendingChangeStatus.REJECTED and rec.reject_reason == "withdrawn"
        with pytest.raises(errors.InvalidTransition):
            svc.withdraw_change(change_id=cid, requestor_id=ALICE[0], requestor_username=ALICE[1])
        audit_matches_store(svc)

    def test_purge_never_removes_applying_or_applied(self, svc: PendingQueueService) -> None:
        ids = [enqueue_create(svc, f"m{i}") for i in range(4)]
        approve(svc, ids[:2])
        svc.reserve_for_apply(ids[0], "job-1")
        with pytest.raises(errors.ValidationFailed, match="purge_all"):
            svc.purge_changes(None, BOB[0], BOB[1])
        assert svc.purge_changes(None, BOB[0], BOB[1], purge_all=True, dry_run=True) == ids[1:]
        assert svc.list_changes().total == 4
        removed = svc.purge_changes(None, BOB[0], BOB[1], purge_all=True)
        assert removed == ids[1:]
        assert [r.change_id for r in svc.list_changes().items] == [ids[0]]
        assert enqueue_create(svc, "after") == 5  # purged ids are never reused
        audit_matches_store(svc)


class TestReservations:
    def test_same_job_is_idempotent_other_job_conflicts(self, svc: PendingQueueService) -> None:
        cid = enqueue_create(svc, "a")
        with pytest.raises(errors.InvalidTransition, match="not approved"):
            svc.reserve_for_apply(cid, "j1")
        approve(svc, [cid])
        first = svc.reserve_for_apply(cid, " j1 ")
        assert first.status is PendingChangeStatus.APPLYING and first.applied_job_id == "j1"
        again = svc.reserve_for_apply(cid, "j1")
        assert again == first
        with pytest.raises(errors.ReservationConflict, match="job_id=j1"):
            svc.reserve_for_apply(cid, "j2")
        with pytest.raises(errors.ReservationConflict):
            svc.clear_apply_reservation(cid, "j2")
        released = svc.clear_apply_reservation(cid, "j1")
        assert released.status is PendingChangeStatus.APPROVED and released.applied_job_id is None
        audit_matches_store(svc)

    def test_scan_stuck_applying_reverts(
        self, svc: PendingQueueService, caplog: pytest.LogCaptureFixture
    ) -> None:
        ids = [enqueue_create(svc, f"m{i}") for i in range(2)]
        approve(svc, ids)
        svc.reserve_for_apply(ids[0], "crashed-job")
        with caplog.at_level("WARNING"):
            reverted = svc.scan_stuck_applying()
        assert [r.change_id for r in reverted] == [ids[0]]
        assert "stuck in applying" in caplog.text
        assert svc.get_change(ids[0]).status is PendingChangeStatus.APPROVED
        assert svc.scan_stuck_applying() == []
        audit_matches_store(svc)

    def test_mark_applied_splits_leftovers_once(self, svc: PendingQueueService) -> None:
        ids = [enqueue_create(svc, f"m{i}") for i in range(3)]
        approve(svc, ids)
        svc.reserve_for_apply(ids[0], "j")
        result = svc.mark_applied(ids[0], "j", applied_by=CAROL[0], applied_username=CAROL[1])
        assert result.record.status is PendingChangeStatus.APPLIED
        assert result.batch_split is not None
        assert result.batch_split.original_batch_id == 1
        assert result.batch_split.new_batch_id == 2
        assert result.batch_split.reassigned_change_ids == ids[1:]
        assert svc.get_change(ids[0]).batch_id == 1
        again = svc.mark_applied(ids[0], "j", applied_by=CAROL[0], applied_username=CAROL[1])
        assert again.batch_split is None and again.record == result.record
        audit_matches_store(svc)


class TestAuditChain:
    def test_tampering_is_found_at_the_altered_event(self, svc: PendingQueueService) -> None:
        for i in range(5):
            enqueue_create(svc, f"m{i}")
        approve(svc, [1, 2, 3])
        audit = AuditService(svc.db)
        assert audit.verify().ok
        with svc.db.write() as tx:
            tx.conn.execute(
                text("UPDATE audit_events SET logical_user_id='mallory' WHERE event_id=4")
            )
        report = audit.verify()
        assert not report.ok and report.broken_event_id == 4


def test_a_truncated_log_tail_is_detected(svc: PendingQueueService) -> None:
    for i in range(3):
        enqueue_create(svc, f"m{i}")
    audit = AuditService(svc.db)
    assert audit.verify().ok and audit.verify().events == 3
    with svc.db.write() as tx:
        tx.conn.execute(text("DELETE FROM audit_events WHERE event_id = 3"))
    report = audit.verify()
    assert not report.ok and report.broken_event_id == 3
    assert report.reason is not None and "truncated" in report.reason
