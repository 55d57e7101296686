"""Bulk pre-fill for ``queue_ops.py``: history rows plus a valid audit chain, fast.

Inserting 100k changes through the service would take minutes; these rows and events are
exactly what the service writes (same record shape, same hash chain), built in bulk.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert

from modelref import PendingChangeRecord, PendingChangeStatus
from modelref.domain import records
from modelref.domain.audit import GENESIS_HASH, QUEUE_CATEGORY, AuditEvent, chain_hash
from modelref.domain.categories import AuditOperation, Category
from modelref.service.queue import PendingQueueService
from modelref.store.queue import to_row
from modelref.store.tables import audit_events, pending_changes

REQUESTER = ("1001", "alice#1001")
APPROVER = ("2002", "bob#2002")
APPLIER = ("3003", "carol#3003")


def misc_payload(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": "benchmark model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": "0" * 64,
                }
            ]
        },
    }


@dataclass
class Chain:
    """Builds hash-chained audit rows exactly as ``service.lifecycle`` writes them."""

    last_id: int = 0
    last_hash: str = GENESIS_HASH
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        *,
        ts: int,
        action: str,
        actor: tuple[str, str],
        change_id: int,
        body: dict[str, Any],
        batch_id: int | None = None,
        job_id: str | None = None,
    ) -> None:
        event = AuditEvent(
            event_id=self.last_id + 1,
            timestamp=ts,
            domain="v2",
            category=QUEUE_CATEGORY,
            model_name=str(change_id),
            operation="update",
            action=action,
            change_id=change_id,
            batch_id=batch_id,
            job_id=job_id,
            logical_user_id=actor[0],
            username=actor[1],
            payload={"after": {"change_id": change_id, **body, "action": action}},
            prev_hash=self.last_hash,
        )
        digest = chain_hash(self.last_hash, event)
        row = dict(event.__dict__)
        row["hash"] = digest
        row["payload"] = json.dumps(event.payload, ensure_ascii=False, sort_keys=True)
        self.rows.append(row)
        self.last_id, self.last_hash = event.event_id, digest


def history_record(
    cid: int, ts: int, pending_from: int, batch_size: int = 50
) -> tuple[
    PendingChangeRecord, list[tuple[str, tuple[str, str], dict[str, Any], int | None, str | None]]
]:
    """The final record of change ``cid`` and the transitions that led there."""
    name = f"bench-{cid}"
    payload = records.validate_record(Category.miscellaneous, misc_payload(name), name=name)
    rec = PendingChangeRecord(
        change_id=cid,
        category=Category.miscellaneous,
        model_name=name,
        operation=AuditOperation.CREATE,
        payload=payload,
        requested_by=REQUESTER[0],
        requested_username=REQUESTER[1],
        requested_at=ts,
        updated_at=ts,
    )
    steps: list[tuple[str, tuple[str, str], dict[str, Any], int | None, str | None]] = [
        (
            "enqueue",
            REQUESTER,
            {
                "operation": "create",
                "category": "miscellaneous",
                "model": name,
                "record": rec.model_dump(mode="json"),
            },
            None,
            None,
        )
    ]
    if cid >= pending_from:
        return rec, steps
    if cid % 5 < 3:  # applied, in batches of ``batch_size``
        batch = (cid - 1) // batch_size + 1
        job = f"bench-job-{batch}"
        title = f"bench batch {batch}"
        steps += [
            ("approve", APPROVER, {"batch_id": batch, "batch_title": title}, batch, None),
            ("reserve", APPLIER, {"job_id": job}, batch, job),
            ("apply", APPLIER, {"batch_id": batch, "job_id": job}, batch, job),
        ]
        rec = rec.model_copy(
            update={
                "status": PendingChangeStatus.APPLIED,
                "batch_id": batch,
                "batch_title": title,
                "approved_by": APPROVER[0],
                "approved_username": APPROVER[1],
                "approved_at": ts,
                "applied_by": APPLIER[0],
                "applied_username": APPLIER[1],
                "applied_at": ts,
                "applied_job_id": job,
            }
        )
    else:  # rejected without a batch
        steps.append(
            (
                "reject",
                APPROVER,
                {"batch_id": None, "batch_title": "triage", "reason": "not needed"},
                None,
                None,
            )
        )
        rec = rec.model_copy(
            update={
                "status": PendingChangeStatus.REJECTED,
                "batch_title": "triage",
                "rejected_by": APPROVER[0],
                "rejected_username": APPROVER[1],
                "rejected_at": ts,
                "reject_reason": "not needed",
            }
        )
    return rec, steps


def prefill(svc: PendingQueueService, size: int, pending: int, chunk: int = 5000) -> None:
    """Insert ``size`` changes (the last ``pending`` of them pending) with their audit events."""
    ts = int(time.time()) - 86_400
    pending_from = size - pending + 1
    chain = Chain()
    max_batch = 0
    for start in range(1, size + 1, chunk):
        rows = []
        chain.rows = []
        for cid in range(start, min(start + chunk, size + 1)):
            rec, steps = history_record(cid, ts, pending_from)
            rows.append(to_row(rec))
            max_batch = max(max_batch, rec.batch_id or 0)
            for action, actor, body, batch, job in steps:
                chain.add(
                    ts=ts,
                    action=action,
                    actor=actor,
                    change_id=cid,
                    body=body,
                    batch_id=batch,
                    job_id=job,
                )
        with svc.db.write() as tx:
            tx.conn.execute(insert(pending_changes), rows)
            tx.conn.execute(insert(audit_events), chain.rows)
    with svc.db.write() as tx:
        tx.counters.set("change_id", size)
        tx.counters.set("batch_id", max_batch)
        tx.counters.set("audit_head", chain.last_id)
    # Steady state: what autovacuum / a checkpoint would have done after such a bulk load.
    if svc.db.dialect == "postgresql":
        autocommit = svc.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        with autocommit as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with svc.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
