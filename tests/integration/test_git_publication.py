"""Git publication into a real work tree, pushed to a local bare repository.

Every catalog version becomes exactly one commit, in version order, whose tree equals the
exporter's files at that version (mapped to the public repositories' layout); pushes that fail
are retried without losing a commit; kill -9 between the apply's commit and the git commit,
or between the git commit and the job's completion, publishes the batch once after a restart.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from modelref.domain.jobs import JobState
from modelref.service.container import Services
from modelref.service.gitpublish import KIND, repo_path
from modelref.service.outbox import Worker
from modelref.settings import Settings
from tests.catalog.helpers import (
    IMPORTER,
    apply,
    approve,
    child_env,
    enqueue,
    misc_record,
    run_child,
)
from tests.contract.test_catalog_feed import write_reference
from tests.factories import ManualClock


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def commits(remote: Path) -> list[str]:
    """Commits on the remote's main branch, oldest first."""
    try:
        out = git(remote, "rev-list", "--reverse", "refs/heads/main")
    except subprocess.CalledProcessError:
        return []
    return out.split()


def tree(repo: Path, rev: str) -> dict[str, bytes]:
    files = {}
    for line in git(repo, "ls-tree", "-r", rev).splitlines():
        meta, path = line.split("\t", 1)
        blob = meta.split()[2]
        files[path] = subprocess.run(
            ["git", "cat-file", "blob", blob], cwd=repo, capture_output=True, check=True
        ).stdout
    return files


def exported(svc: Services, out: Path) -> dict[str, bytes]:
    """What ``modelref export --format both`` writes, under the repositories' names."""
    svc.files.export(out, "both")
    return {
        repo_path(p.relative_to(out).as_posix()): p.read_bytes()
        for p in out.rglob("*")
        if p.is_file()
    }


@dataclass
class Deployment:
    url: str
    tree: Path
    remote: Path
    clock: ManualClock

    def settings(self, **extra: object) -> Settings:
        return Settings(
            database_url=self.url,
            git_publish_dir=self.tree,
            git_push_remote=str(self.remote),
            **extra,  # type: ignore[arg-type]
        )

    def open(self) -> Services:
        return Services.open(self.settings(), recover=True, clock=self.clock)


@pytest.fixture
def dep(db_url: str, tmp_path: Path) -> Deployment:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    return Deployment(db_url, tmp_path / "tree", remote, ManualClock(int(time.time())))


def run_jobs(svc: Services) -> int:
    """Run the due git publication jobs (review-check jobs of the same changes wait)."""
    worker = svc.workers.workers[0]
    ran = 0
    while worker.run_once({KIND}):
        ran += 1
    return ran


def one_batch(svc: Services, n: int) -> int:
    ids = [
        enqueue(svc, "miscellaneous", f"new{n}", "create", misc_record(f"new{n}")),
        enqueue(svc, "miscellaneous", "m1", "update", misc_record("m1", f"update {n}")),
    ]
    approve(svc, ids, f"Batch number {n}")
    apply(svc, ids)
    return svc.feed.latest_version()


@pytest.fixture
def started(dep: Deployment, tmp_path: Path) -> Iterator[Services]:
    svc = dep.open()
    ref = write_reference(
        tmp_path / "ref",
        {
            "miscellaneous.json": {f"m{i}": misc_record(f"m{i}") for i in (1, 2)},
            "codeformer.json": {"cf": misc_record("cf")},
        },
    )
    svc.files.import_path(ref, IMPORTER)
    assert run_jobs(svc) == 1
    assert len(commits(dep.remote)) == 1
    yield svc
    svc.db.dispose()


def test_three_batches_make_three_commits_whose_trees_equal_the_export(
    dep: Deployment, started: Services, tmp_path: Path
) -> None:
    svc = started
    first = commits(dep.remote)
    assert tree(dep.remote, first[0]) == exported(svc, tmp_path / "e0")
    expected = {}
    for n in (1, 2, 3):
        version = one_batch(svc, n)
        expected[version] = exported(svc, tmp_path / f"e{n}")
    run_jobs(svc)
    new = commits(dep.remote)[1:]
    assert len(new) == 3
    for sha, (version, files) in zip(new, sorted(expected.items()), strict=True):
        assert tree(dep.remote, sha) == files, version
        body = git(dep.remote, "log", "-1", "--format=%an <%ae>%n%B", sha)
        release = svc.feed.manifest(version)
        assert body.startswith(
            f"carol#3003 <3003@users.modelref.invalid>\nBatch number {version - 1}\n"
        )
        assert f"Changes: {', '.join(map(str, release.change_ids))}" in body
        assert "Approved by: bob#2002 (2002)" in body
        assert f"Audit head: event {release.audit_event_id}, {release.audit_hash}" in body
        assert body.rstrip().endswith(
            f"Modelref-Catalog-Version: {version}\nModelref-Audit-Head: {release.audit_hash}"
        )
    assert run_jobs(svc) == 0  # nothing left; a status check agrees
    status = svc.git.status() if svc.git else {}
    assert (status["published_version"], status["behind"], status["unpushed_commits"]) == (4, 0, 0)


def test_a_later_job_publishes_the_earlier_versions_in_order_and_theirs_are_no_ops(
    dep: Deployment, started: Services, tmp_path: Path
) -> None:
    svc = started
    assert svc.git is not None
    expected = {}
    for n in (1, 2, 3):
        version = one_batch(svc, n)
        expected[version] = exported(svc, tmp_path / f"e{n}")
    # Two workers race for the three queued jobs, the newest claimed first by one of them.
    clock = dep.clock
    workers = [Worker(svc.db, clock, svc.handlers) for _ in range(2)]
    with svc.db.write() as tx:  # make the newest job the first due
        newest = max(j.job_id for j in tx.outbox.list({JobState.pending}, {KIND}))
        tx.conn.exec_driver_sql(f"UPDATE outbox_jobs SET run_after = 0 WHERE job_id = {newest}")

    def drain(worker: Worker) -> None:
        while worker.run_once():
            pass

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    new = commits(dep.remote)[1:]
    assert len(new) == 3
    for sha, files in zip(new, [expected[v] for v in sorted(expected)], strict=True):
        assert tree(dep.remote, sha) == files
    with svc.db.read() as tx:
        jobs = tx.outbox.list({JobState.done}, {KIND})
    assert len(jobs) == 4 and all(j.result and j.result["published"] >= 2 for j in jobs[1:])


def test_a_failing_push_retries_and_loses_no_commit(dep: Deployment, tmp_path: Path) -> None:
    dep.remote = tmp_path / "later.git"  # does not exist yet: every push fails
    svc = dep.open()
    try:
        cid = enqueue(svc, "miscellaneous", "a", "create", misc_record("a"))
        approve(svc, [cid])
        apply(svc, [cid])
        one_batch_ids = enqueue(svc, "miscellaneous", "a", "update", misc_record("a", "two"))
        approve(svc, [one_batch_ids])
        apply(svc, [one_batch_ids])
        assert run_jobs(svc) == 2  # each job committed its version, then failed to push
        assert svc.git is not None
        status = svc.git.status()
        assert status["published_version"] == 2 and status["unpushed_commits"] == 2
        with svc.db.read() as tx:
            failed = tx.outbox.list({JobState.pending}, {KIND})
        assert len(failed) == 2 and {j.attempts for j in failed} == {1}
        assert "git push" in (failed[0].last_error or "")
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(dep.remote)], check=True)
        dep.clock.advance(60)  # past the backoff
        assert run_jobs(svc) == 2
        assert len(commits(dep.remote)) == 2
        assert svc.git.status()["unpushed_commits"] == 0
    finally:
        svc.db.dispose()


CHILD_APPLY = """
import sys
from modelref.service.container import Services
from modelref.settings import Settings
svc = Services.open(Settings())
svc.apply.apply_changes([int(sys.argv[1])], "3003", "carol#3003")
print("not reached")
"""

CHILD_WORKER = """
from modelref.service.container import Services
from modelref.settings import Settings
svc = Services.open(Settings())
while svc.workers.workers[0].run_once({"git_publish"}):
    pass
print("not reached")
"""


@pytest.mark.slow
def test_kill_9_between_the_apply_and_the_git_commit_publishes_once_after_restart(
    dep: Deployment, started: Services
) -> None:
    svc = started
    cid = enqueue(svc, "miscellaneous", "late", "create", misc_record("late"))
    approve(svc, [cid], "Survives a crash")
    env = child_env(
        MODELREF_DATABASE_URL=dep.url,
        MODELREF_GIT_PUBLISH_DIR=str(dep.tree),
        MODELREF_GIT_PUSH_REMOTE=str(dep.remote),
        MODELREF_CRASH_AT="after_commit",
    )
    done = run_child(CHILD_APPLY, [str(cid)], env)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert svc.review.get_change(cid).status.value == "applied"  # the apply committed
    assert len(commits(dep.remote)) == 1
    dep.clock.now = int(time.time()) + 1  # the restart happens after the child's commit
    restarted = dep.open()
    again = dep.open()
    try:
        run_jobs(restarted)
        run_jobs(again)  # a second restart publishes nothing more
        history = commits(dep.remote)
        assert len(history) == 2
        assert (
            git(dep.remote, "log", "-1", "--format=%s", history[-1]).strip() == "Survives a crash"
        )
    finally:
        restarted.db.dispose()
        again.db.dispose()


@pytest.mark.slow
def test_kill_9_after_the_git_commit_makes_no_second_commit(
    dep: Deployment, started: Services
) -> None:
    svc = started
    cid = enqueue(svc, "miscellaneous", "once", "create", misc_record("once"))
    approve(svc, [cid], "Exactly once")
    apply(svc, [cid])
    env = child_env(
        MODELREF_DATABASE_URL=dep.url,
        MODELREF_GIT_PUBLISH_DIR=str(dep.tree),
        MODELREF_GIT_PUSH_REMOTE=str(dep.remote),
        MODELREF_CRASH_AT="git_after_commit",
    )
    done = run_child(CHILD_WORKER, [], env)
    assert done.returncode == -signal.SIGKILL, done.stderr
    local = git(dep.tree, "rev-list", "--count", "HEAD").strip()
    assert local == "2" and len(commits(dep.remote)) == 1  # committed, neither pushed nor done
    with svc.db.read() as tx:
        (job,) = tx.outbox.list({JobState.running}, {KIND})
    # The dead worker's lease runs out; another worker takes the job over.
    later = ManualClock(dep.clock() + 3600)
    while Worker(svc.db, later, svc.handlers).run_once():
        pass
    assert git(dep.tree, "rev-list", "--count", "HEAD").strip() == "2"
    assert len(commits(dep.remote)) == 2
    with svc.db.read() as tx:
        finished = tx.outbox.get(job.job_id)
    assert finished is not None and finished.state is JobState.done
    assert finished.result is not None and finished.result["commits"] == []
