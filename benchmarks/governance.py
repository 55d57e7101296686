"""What governance costs: reads under the default policy, approving under a quorum, reverts.

    .venv/bin/python benchmarks/governance.py [--changes 1000] [--rounds 3]

On a fresh SQLite file (durable settings) with ``--changes`` live miscellaneous records and
one pending description update for each, the script measures:

* ``list``: ``list_changes`` of 50 pending changes (median of 200) and the SQL statements it
  runs, under ``upstream`` and ``critical-two``: under ``upstream`` queue reads do not look for
  approvals (none is recorded), so the hidden cost for upstream clients is a measured nil;
* ``approve``: one ``process_batch`` approving every change, under ``upstream`` and under
  ``critical-two`` (the quorum policy evaluates each change's field diff against its live
  record; descriptions need one approver, so every change still moves);
* ``revert``: queueing the revert of the applied batch (one inverse proposal per change).

Each figure is the best of ``--rounds`` rounds, filtering out bursts from other processes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from modelref.domain.actors import Actor
from modelref.domain.canonical import content_hash
from modelref.domain.queue_models import PendingChangeStatus, PendingQueueFilter
from modelref.service.container import Services
from modelref.service.review import Proposal
from modelref.settings import Settings
from modelref.store.catalog import CatalogRow

REQUESTER = Actor("1001", "alice#1001")
APPROVER = Actor("2002", "bob#2002")
APPLIER = Actor("3003", "carol#3003")


def record(name: str, description: str) -> dict[str, Any]:
    return {
        "record_type": "miscellaneous",
        "name": name,
        "description": description,
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


def deployment(workdir: str, name: str, policy: str, changes: int) -> tuple[Services, list[int]]:
    """A fresh database with ``changes`` live records and one pending update of each."""
    url = f"sqlite:///{workdir}/{name}.db"
    svc = Services.open(Settings(database_url=url, approval_policy=policy))
    rows = []
    for i in range(changes):
        rec = record(f"m{i:05d}", "live")
        digest = content_hash(rec)
        assert digest is not None
        rows.append(CatalogRow("miscellaneous", rec["name"], rec, digest))
    with svc.db.write() as tx:
        tx.catalog.write("miscellaneous", rows, [], 1, {"create": changes}, ("create", "m0"))
    proposals = [
        Proposal("miscellaneous", f"m{i:05d}", "update", record(f"m{i:05d}", "edited"), REQUESTER)
        for i in range(changes)
    ]
    ids = [r.change_id for r in svc.review.enqueue_many(proposals)]
    return svc, ids


def best(rounds: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(rounds))


def median_ms(fn: Callable[[], object], times: int = 200) -> float:
    samples = []
    for _ in range(times):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def count_statements(svc: Services, fn: Callable[[], object]) -> int:
    """How many SQL statements one call of ``fn`` executes."""
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(str(args[2]))

    event.listen(svc.db.engine, "before_cursor_execute", note)
    try:
        fn()
    finally:
        event.remove(svc.db.engine, "before_cursor_execute", note)
    return len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="modelref-governance-")
    try:
        svc, ids = deployment(workdir, "main", "upstream", args.changes)
        quorum, _ = deployment(workdir, "quorum", "critical-two", args.changes)
        flt = PendingQueueFilter(statuses={PendingChangeStatus.PENDING})
        for name, deployed in (("upstream", svc), ("critical-two", quorum)):

            def page(d: Services = deployed) -> object:
                return d.review.list_changes(flt, 0, 50)

            listing = best(args.rounds, lambda: median_ms(page))
            statements = count_statements(deployed, page)
            print(
                f"list 50 pending ({name}): {listing:.2f} ms median, "
                f"{statements} SQL statements per call"
            )
        quorum.db.dispose()

        for policy in ("upstream", "critical-two"):
            durations = []
            for round_ in range(args.rounds):
                fresh, fresh_ids = deployment(workdir, f"{policy}-{round_}", policy, args.changes)
                start = time.perf_counter()
                fresh.review.process_batch(
                    approver_id=APPROVER.user_id,
                    approver_username=APPROVER.username,
                    batch_title="bench",
                    approved_ids=fresh_ids,
                    rejected_ids=None,
                )
                durations.append(time.perf_counter() - start)
                fresh.db.dispose()
            print(f"approve {args.changes} in one batch ({policy}): {min(durations):.3f} s")

        batch = svc.review.process_batch(
            approver_id=APPROVER.user_id,
            approver_username=APPROVER.username,
            batch_title="bench",
            approved_ids=ids,
            rejected_ids=None,
        ).batch_id
        assert batch is not None
        svc.apply.apply_batch(batch, APPLIER.user_id, APPLIER.username)
        start = time.perf_counter()
        queued = svc.reverts.revert_batch(batch, REQUESTER).queued
        took = time.perf_counter() - start
        print(f"queue the revert of a {len(queued)}-change applied batch: {took:.3f} s")
        svc.db.dispose()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
