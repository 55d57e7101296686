"""Review checks on both engines: jobs exist iff the enqueue committed, results land once.

The check jobs here point at a port where nothing listens (no server is needed to prove the
bookkeeping): such a job settles as ``unchecked``, which is itself part of the contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelref.domain.actors import Actor
from modelref.domain.checks import CheckState, Severity
from modelref.domain.errors import Conflict, InvalidTransition, NotFound
from modelref.domain.jobs import JobState
from modelref.service import checks
from modelref.service.container import Services
from modelref.service.outbox import JobContext, Outcome, Worker
from modelref.service.review import Proposal
from modelref.settings import Settings
from modelref.store.outbox import Job
from tests.checks.fileserver import closed_port
from tests.factories import ALICE, BOB, ManualClock, seed_catalog

LEASE = 60


def rec(name: str, url: str, sha: str = "12" * 32) -> dict[str, object]:
    entry = {"file_name": f"{name}.bin", "file_url": url, "sha256sum": sha}
    return {"name": name, "config": {"download": [entry]}}


@pytest.fixture
def svc(db_url: str) -> Iterator[Services]:
    settings = Settings(
        database_url=db_url,
        check_allow_hosts="127.0.0.1",
        check_attempts=1,
        outbox_lease_seconds=LEASE,
    )
    services = Services.open(settings, clock=ManualClock())
    yield services
    services.db.dispose()


def nowhere(name: str) -> str:
    return f"http://127.0.0.1:{closed_port()}/{name}.bin"


def propose(svc: Services, record: dict[str, object], operation: str = "create") -> int:
    change = svc.review.enqueue_change(
        category="miscellaneous",
        model_name=str(record["name"]),
        operation=operation,
        payload=record,
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
    )
    return change.change_id


def jobs(svc: Services, change_id: int) -> list[Job]:
    return svc.outbox.for_subject(f"change:{change_id}", {checks.JOB_KIND})


def worker(svc: Services, name: str = "w") -> Worker:
    return Worker(svc.db, svc.clock, svc.handlers, lease_seconds=LEASE, name=name)


def test_enqueue_queues_one_check_job_in_its_own_transaction(svc: Services) -> None:
    change_id = propose(svc, rec("a", nowhere("a")))
    (job,) = jobs(svc, change_id)
    assert job.kind == "check" and job.payload == {"change_id": change_id}
    assert job.state is JobState.pending
    assert svc.checks.get(change_id).state is CheckState.pending

    good = Proposal("miscellaneous", "b", "create", rec("b", nowhere("b")), Actor(*ALICE))
    bad = Proposal("miscellaneous", "a", "create", rec("a", nowhere("a")), Actor(*ALICE))
    seed_catalog(svc.db, "miscellaneous", {"name": "a"})
    with pytest.raises(Conflict, match="already exists"):
        svc.review.enqueue_many([good, bad])  # b is fine, a is not: neither is queued
    with svc.db.read() as tx:
        assert tx.checks.runs(range(1, 10)).keys() == {change_id}
    assert svc.outbox.counts() == {("check", JobState.pending): 1}


def test_a_job_settles_once_and_its_result_is_what_the_api_reads(svc: Services) -> None:
    change_id = propose(svc, rec("a", nowhere("a")))
    assert worker(svc).run_once() is True
    assert worker(svc).run_once() is False
    result = svc.checks.get(change_id)
    assert result.state is CheckState.unchecked and result.attempts == 1
    assert any("connection refused" in f.message for f in result.findings)
    with svc.db.read() as tx:
        run = tx.checks.run(change_id)
    assert run is not None and run.completions == 1
    (job,) = jobs(svc, change_id)
    assert job.state is JobState.done and job.result == {"state": "unchecked", "errors": 0}


def test_a_worker_that_lost_its_lease_records_nothing(svc: Services) -> None:
    """A does the work, then stalls past its lease; B takes the job over and records first;
    A's late result is dropped (compare-and-set on the lease), so the run is recorded once."""
    change_id = propose(svc, rec("a", nowhere("a")))
    b = worker(svc, "b")
    real = svc.handlers["check"]
    clock = svc.clock
    assert isinstance(clock, ManualClock)

    def stalls(job: Job, ctx: JobContext) -> Outcome:
        outcome = real(job, ctx)  # A's full run of the real handler...
        clock.advance(LEASE + 1)  # ...then it stalls past its lease
        assert b.run_once() is True  # B claims the expired job and finishes it
        return outcome

    a = Worker(svc.db, svc.clock, {"check": stalls}, lease_seconds=LEASE, name="a")
    assert a.run_once() is True
    with svc.db.read() as tx:
        run = tx.checks.run(change_id)
    assert run is not None and run.completions == 1 and run.attempts == 2
    (job,) = jobs(svc, change_id)
    assert job.state is JobState.done and job.worker == "b" and job.attempts == 2


def test_a_rerun_supersedes_the_older_job(svc: Services) -> None:
    change_id = propose(svc, rec("a", nowhere("a")))
    (first,) = jobs(svc, change_id)
    again = svc.checks.rerun(change_id, Actor(*BOB))
    assert again.state is CheckState.pending
    w = worker(svc)
    assert w.run_once() and w.run_once()
    old, new = jobs(svc, change_id)
    assert old.job_id == first.job_id and old.result == {"superseded": True}
    assert new.result == {"state": "unchecked", "errors": 0}
    with svc.db.read() as tx:
        run = tx.checks.run(change_id)
    assert run is not None and run.job_id == new.job_id and run.completions == 1


def test_reruns_are_for_open_changes_only(svc: Services) -> None:
    change_id = propose(svc, rec("a", nowhere("a")))
    svc.review.withdraw_change(
        change_id=change_id, requestor_id=ALICE[0], requestor_username=ALICE[1]
    )
    with pytest.raises(InvalidTransition, match="open changes"):
        svc.checks.rerun(change_id, Actor(*BOB))
    with pytest.raises(NotFound):
        svc.checks.rerun(999, Actor(*BOB))
    with pytest.raises(NotFound):
        svc.checks.get(999)


def test_what_is_checked_depends_on_the_downloads(svc: Services) -> None:
    live = rec("live", "https://example.invalid/live.bin")
    seed_catalog(svc.db, "miscellaneous", {**live, "description": "v1"})
    same = propose(svc, {**live, "description": "v2"}, "update")
    assert jobs(svc, same) == []
    done = svc.checks.get(same)
    assert done.state is CheckState.done
    assert [f.severity for f in done.findings] == [Severity.info]
    moved = propose(svc, {**rec("live", nowhere("live")), "description": "v3"}, "update")
    assert len(jobs(svc, moved)) == 1
    delete = propose(svc, {"name": "live"}, "delete")
    assert jobs(svc, delete) == [] and svc.checks.get(delete).state is CheckState.done


def test_checks_can_be_switched_off(db_url: str) -> None:
    svc = Services.open(Settings(database_url=db_url, checks=False), clock=ManualClock())
    change_id = propose(svc, rec("a", nowhere("a")))
    assert jobs(svc, change_id) == []
    off = svc.checks.get(change_id)
    assert (
        off.state is CheckState.unchecked and "no checks were recorded" in off.findings[0].message
    )
    svc.db.dispose()


def test_blocking_errors_lists_error_findings_for_a_stricter_policy(svc: Services) -> None:
    change_id = propose(svc, rec("a", "ftp://example.invalid/a.bin"))
    worker(svc).run_once()
    with svc.db.read() as tx:
        errors = checks.blocking_errors(tx, change_id)
    assert [(e.check, e.field) for e in errors] == [("url", "config.download.0.file_url")]
    assert "only http and https" in errors[0].message


def test_the_diff_carries_a_checks_summary(svc: Services) -> None:
    change_id = propose(svc, rec("a", "ftp://example.invalid/a.bin"))
    assert svc.catalog.diff(change_id).checks is not None
    assert svc.catalog.diff(change_id).checks.state is CheckState.pending  # type: ignore[union-attr]
    worker(svc).run_once()
    summary = svc.catalog.diff(change_id).checks
    assert summary is not None and summary.state is CheckState.done and summary.errors == 1
