"""Kill -9 at the apply engine's crash points, then restart: nothing is lost or half-done.

A harness process imports modelref once (a "zygote") and, for every run, forks a fresh child
that opens :class:`Services` from the environment (``MODELREF_DATABASE_URL``,
``MODELREF_PUBLISH_DIR``, ``MODELREF_CRASH_AT``) and applies a batch; the child SIGKILLs itself
at the injected point (:mod:`modelref.faults`). Forking after the imports keeps each
run cheap, so 39 real kills fit in well under the time budget. After each kill the test
"restarts" with ``Services.open(..., recover=True)`` and checks: every change of the run is
either APPLIED with its catalog write or APPROVED without it (as the crash point dictates),
nothing is stuck in APPLYING, the audit chain verifies and replays to the queue store and the
catalog, and the published files equal what the database renders, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import Category
from modelref.domain.queue_models import PendingChangeStatus as S
from modelref.service.container import Services
from modelref.settings import Settings
from tests.catalog.helpers import (
    IMPORTER,
    apply,
    approve,
    assert_consistent,
    assert_published,
    child_env,
    enqueue,
    misc_record,
    model_events_per_change,
    open_services,
)
from tests.factories import ManualClock

pytestmark = pytest.mark.slow

POINTS = ("after_reserve", "mid_transaction", "after_commit")
MISC = Category.miscellaneous
ESRGAN = Category.esrgan
Counter_t = dict[str, int]

ZYGOTE = r"""
import json, os, sys, traceback
from modelref.service.container import Services   # the expensive imports, done once
from modelref.settings import Settings

for line in sys.stdin:
    cmd = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.environ.update(cmd["env"])
            svc = Services.open(Settings())
            result = svc.apply.apply_changes(
                cmd["ids"], "3003", "carol#3003", job_id=cmd["job"]
            )
            out = {"applied": [r.change_id for r in result.applied]}
        except BaseException:
            out, code = {"error": traceback.format_exc()}, 1
        with open(cmd["result"], "w") as fh:
            json.dump(out, fh)
        os._exit(code)
    _pid, status = os.waitpid(pid, 0)
    reply = {
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    }
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


class Harness:
    """A long-lived child process that forks one apply process per run."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.runs = 0

    def apply(
        self, url: str, publish: Path, ids: list[int], job: str, crash_at: str | None
    ) -> dict[str, Any]:
        self.runs += 1
        result = self.tmp / f"result-{self.runs}.json"
        env = {"MODELREF_DATABASE_URL": url, "MODELREF_PUBLISH_DIR": str(publish)}
        env["MODELREF_CRASH_AT"] = crash_at or "never"
        cmd = {"env": env, "ids": ids, "job": job, "result": str(result)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else "harness died"
        reply: dict[str, Any] = json.loads(line)
        reply["result"] = json.loads(result.read_text()) if result.exists() else None
        return reply

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # our own child, by its handle
            self.proc.wait()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


def seeded(url: str, publish: Path, corpus_dir: Path, tmp_path: Path) -> Services:
    """The corpus' esrgan records (v2 + legacy extras) and 40 miscellaneous models, published."""
    seed = tmp_path / "seed"
    (seed / "v2").mkdir(parents=True)
    (seed / "legacy").mkdir()
    shutil.copy(corpus_dir / "v2" / "esrgan.json", seed / "v2" / "esrgan.json")
    shutil.copy(corpus_dir / "legacy" / "image" / "esrgan.json", seed / "legacy" / "esrgan.json")
    misc = {f"m-{i:02d}": misc_record(f"m-{i:02d}") for i in range(40)}
    (seed / "v2" / "miscellaneous.json").write_text(json.dumps(misc))
    svc = open_services(url, publish)
    svc.files.import_path(seed, IMPORTER)
    assert_published(svc, publish)
    return svc


def queue_run(svc: Services, run: int) -> list[int]:
    """Six approved changes on distinct models: creates, updates and a delete, two categories."""
    live = sorted(svc.catalog.records(MISC)[0])
    esrgan = svc.catalog.records(ESRGAN)[0]
    target = sorted(esrgan)[run % len(esrgan)]
    edited = {**esrgan[target], "description": f"edited in run {run}"}
    ids = [
        enqueue(svc, MISC, f"r{run}-new-a", "create", misc_record(f"r{run}-new-a")),
        enqueue(svc, MISC, live[0], "update", misc_record(live[0], f"run {run}")),
        enqueue(svc, ESRGAN, target, "update", edited),
        enqueue(svc, MISC, live[1], "delete"),
        enqueue(svc, ESRGAN, f"r{run}-esr", "create", misc_record(f"r{run}-esr", sha="1")),
        enqueue(svc, MISC, live[2], "update", misc_record(live[2], f"again {run}")),
    ]
    approve(svc, ids, title=f"run {run}")
    return ids


def check_after_restart(
    svc: Services,
    publish: Path,
    ids: list[int],
    before: dict[tuple[str, str], Any],
    point: str,
) -> None:
    """The invariants every restart must find, whatever the crash point."""
    events = svc.audit.events()
    writes = model_events_per_change(events)
    expect = S.APPLIED if point == "after_commit" else S.APPROVED
    for cid in ids:
        change = svc.review.get_change(cid)
        key = (change.category.value, change.model_name)
        live = svc.catalog.records(change.category)[0].get(change.model_name)
        assert change.status is expect, (point, cid, change.status)
        assert change.applied_job_id is None or change.status is S.APPLIED
        if change.status is S.APPLIED:
            assert writes[cid] == 1
            event = next(e for e in events if e.change_id == cid and e.category == key[0])
            assert live == event.payload["after"]  # None for a delete
        else:
            assert writes[cid] == 0
            assert live == before.get(key)
    assert [r.change_id for r in svc.review.list_changes().items if r.status is S.APPLYING] == []
    assert_consistent(svc)
    assert_published(svc, publish)


def crash_runs(
    url: str,
    corpus_dir: Path,
    tmp_path: Path,
    harness: Harness,
    points: list[str],
) -> Counter_t:
    publish = tmp_path / "publish"
    svc = seeded(url, publish, corpus_dir, tmp_path)
    seen: Counter_t = {}
    try:
        for run, point in enumerate(points):
            ids = queue_run(svc, run)
            before = {
                (c.value, name): rec
                for c in (MISC, ESRGAN)
                for name, rec in svc.catalog.records(c)[0].items()
            }
            reply = harness.apply(url, publish, ids, f"job-{run}", point)
            assert reply["signal"] == signal.SIGKILL, reply
            assert svc.publisher is not None
            versions = svc.catalog.versions()
            behind = {c for c in (MISC, ESRGAN) if svc.publisher.published_version(c) < versions[c]}
            # Killed after commit, before publish: the files lag and only recovery can fix them.
            assert behind == ({MISC, ESRGAN} if point == "after_commit" else set())
            svc.db.dispose()

            # The restart, once the dead child's lease has run out (start-up recovery takes
            # only expired reservations: a live instance's apply is never aborted).
            later = ManualClock(int(time.time()) + Settings().apply_lease_seconds + 1)
            svc = open_services(url, publish, recover=True, clock=later)

            check_after_restart(svc, publish, ids, before, point)
            recovered = {
                e.change_id
                for e in svc.audit.events()
                if e.action == "recover" and e.change_id in ids
            }
            assert recovered == (set() if point == "after_commit" else set(ids))
            if point != "after_commit":
                # The reverted changes are intact: a normal apply now writes them all.
                apply(svc, ids, job_id=f"job-{run}-retry")
                assert {svc.review.get_change(c).status for c in ids} == {S.APPLIED}
                assert_consistent(svc)
                assert_published(svc, publish)
            seen[point] = seen.get(point, 0) + 1
    finally:
        svc.db.dispose()
    return seen


def test_harness_applies_normally_without_a_crash_point(
    sqlite_url: str, corpus_dir: Path, tmp_path: Path, harness: Harness
) -> None:
    """Control: the same child, not told to crash, applies and publishes (so kills are real)."""
    publish = tmp_path / "publish"
    svc = seeded(sqlite_url, publish, corpus_dir, tmp_path)
    ids = queue_run(svc, 0)
    reply = harness.apply(sqlite_url, publish, ids, "job-control", None)
    assert reply["signal"] is None and reply["code"] == 0, reply
    assert reply["result"] == {"applied": ids}
    assert {svc.review.get_change(c).status for c in ids} == {S.APPLIED}
    assert_consistent(svc)
    assert_published(svc, publish)
    svc.db.dispose()


def test_sigkill_at_every_point_on_sqlite(
    sqlite_url: str, corpus_dir: Path, tmp_path: Path, harness: Harness
) -> None:
    points = list(itertools.islice(itertools.cycle(POINTS), 15))
    seen = crash_runs(sqlite_url, corpus_dir, tmp_path, harness, points)
    assert seen == dict.fromkeys(POINTS, 5)


@pytest.mark.postgres
def test_sigkill_at_every_point_on_postgres(
    pg_url: str, corpus_dir: Path, tmp_path: Path, harness: Harness
) -> None:
    points = list(POINTS) * 2
    seen = crash_runs(pg_url, corpus_dir, tmp_path, harness, points)
    assert seen == dict.fromkeys(POINTS, 2)
