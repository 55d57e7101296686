"""SIGKILL a process in the middle of a stream of enqueues, on SQLite and on PostgreSQL.

The child prints each change id after ``enqueue_change`` returned, so every printed id is a
commit the caller was told about. After every kill the database is reopened (migrations run
again) and must hold every reported change, fully written, with contiguous ids, a valid audit
chain whose replay equals the store, and counters that continue where the last commit stopped.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from modelref import PendingChangeStatus
from modelref.domain import records
from modelref.domain.categories import AuditOperation, Category
from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from tests.integration import _workers

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
KILLS = 6
#: Reproduce a failure with CRASH_TEST_SEED=<seed printed in the failure message>.
SEED = int(os.environ.get("CRASH_TEST_SEED", time.time_ns() % 1_000_000))


def start_child(url: str, prefix: str, stderr: Path) -> subprocess.Popen[str]:
    with stderr.open("w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.integration._workers", "enqueue-loop", url, prefix],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )


def run_and_kill(child: subprocess.Popen[str], delay: float, stderr: Path) -> list[int]:
    """Let ``child`` write, SIGKILL it after ``delay`` s of committed writes; return the ids it
    reported (complete lines only)."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write("go\n")
    child.stdin.flush()
    first = child.stdout.readline()  # the loop is running: the kill lands among writes
    if not first.endswith("\n"):
        child.wait(timeout=30)
        pytest.fail(f"child died before its first commit: {stderr.read_text()}")
    time.sleep(delay)
    os.kill(child.pid, signal.SIGKILL)
    # Read through the same buffered reader as readline() (communicate() would skip what it
    # already buffered); the child is dead, so this ends at EOF.
    rest = child.stdout.read()
    child.wait(timeout=30)
    child.stdin.close()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    lines = (first + rest).split("\n")
    return [int(line) for line in lines[:-1]]  # the last piece is "" or a torn line


def expected_payload(name: str) -> dict[str, object]:
    return records.validate_record(Category.miscellaneous, _workers.misc_payload(name), name=name)


def check_after_crash(url: str, reported: list[int], before: int, context: str) -> int:
    """Reopen the database and check it; return the number of stored changes."""
    svc = PendingQueueService.from_url(url)  # reopening (and re-running migrations) works
    try:
        if svc.db.dialect == "sqlite":
            with svc.db.read() as tx:
                assert tx.conn.execute(text("PRAGMA integrity_check")).scalar() == "ok", context
        stored = svc.list_changes().items
        ids = [r.change_id for r in stored]
        assert ids == list(range(1, len(ids) + 1)), f"{context}: ids not contiguous"
        missing = set(reported) - set(ids)
        assert not missing, f"{context}: committed changes lost: {sorted(missing)}"
        assert reported == list(range(before + 1, before + len(reported) + 1)), context
        # At most the one enqueue in flight at the kill committed without being reported.
        assert len(ids) - before - len(reported) in (0, 1), f"{context}: {len(ids)} stored"
        for rec in stored[before:]:
            assert rec.status is PendingChangeStatus.PENDING, context
            assert rec.operation is AuditOperation.CREATE
            assert rec.requested_by == _workers.REQUESTER[0]
            assert rec.requested_username == _workers.REQUESTER[1]
            assert rec.payload == expected_payload(rec.model_name), f"{context}: {rec}"
            assert rec.requested_at == rec.updated_at and rec.requested_at > 0
            assert rec.batch_id is None and rec.applied_job_id is None
        with svc.db.read() as tx:
            assert tx.counters.peek("change_id") == len(ids), context
        audit = AuditService(svc.db)
        report = audit.verify()
        assert report.ok and report.events == len(ids), f"{context}: {report}"
        assert audit.replay() == {r.change_id: r for r in stored}, context
        return len(ids)
    finally:
        svc.db.dispose()


def test_sigkill_mid_enqueue_loses_no_committed_change(db_url: str, tmp_path: Path) -> None:
    PendingQueueService.from_url(db_url).db.dispose()
    rng = random.Random(SEED)
    # Children start together (imports overlap) and wait on stdin until their turn.
    logs = [tmp_path / f"child-{n}.stderr" for n in range(KILLS)]
    children = [start_child(db_url, f"k{n}", logs[n]) for n in range(KILLS)]
    stored = 0
    try:
        for n, child in enumerate(children):
            delay = rng.uniform(0.0, 0.4)
            reported = run_and_kill(child, delay, logs[n])
            context = f"seed {SEED}, kill {n} after {delay:.3f}s ({len(reported)} reported)"
            stored = check_after_crash(db_url, reported, stored, context)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
    assert stored >= KILLS
