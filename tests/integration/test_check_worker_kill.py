"""kill -9 of a ``modelref worker`` in the middle of hashing a model file, on both engines.

A real worker process hashes a file a local server sends slowly; the test SIGKILLs it (by its
PID) once its progress shows bytes hashed, starts a second worker, and waits: after the short
lease the second worker claims the job again, downloads and hashes the whole file and records
the result, once (one run, one completion, two attempts).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.checks import CheckState, Severity
from modelref.domain.jobs import JobState
from modelref.service.container import Services
from modelref.settings import Settings
from modelref.store.checks import CheckRun
from modelref.store.outbox import Job
from tests.checks.fileserver import Files, Server, generated, serving
from tests.cli.conftest import COMMAND
from tests.factories import ALICE

pytestmark = pytest.mark.slow

BLOB = generated(3 * 1024 * 1024, seed=9)
SHA = hashlib.sha256(BLOB).hexdigest()
LEASE = 2


@pytest.fixture
def files() -> Iterator[Server]:
    with serving(Files(blobs={"big.safetensors": BLOB}, drip_rate=1024 * 1024)) as server:
        yield server


def start_worker(url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env.update(
        MODELREF_DATABASE_URL=url,
        MODELREF_CHECK_ALLOW_HOSTS="127.0.0.1",
        MODELREF_OUTBOX_LEASE_SECONDS=str(LEASE),
        MODELREF_OUTBOX_POLL_SECONDS="0.2",
    )
    with log.open("ab") as out:
        return subprocess.Popen([*COMMAND, "worker"], env=env, stdout=out, stderr=out)


def state(services: Services, change_id: int) -> tuple[CheckRun, Job]:
    with services.db.read() as tx:
        run = tx.checks.run(change_id)
        (job,) = tx.outbox.for_subject(f"change:{change_id}", {"check"})
    assert run is not None
    return run, job


def wait_for(what: str, test: object, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not test():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}; worker log:\n{log.read_text()}")
        time.sleep(0.05)


def test_a_killed_worker_loses_no_check_and_the_result_is_recorded_once(
    db_url: str, files: Server, tmp_path: Path
) -> None:
    services = Services.open(Settings(database_url=db_url))
    entry = {"file_name": "big.safetensors", "file_url": files.url("/drip/big.safetensors")}
    change_id = services.review.enqueue_change(
        category="miscellaneous",
        model_name="big_model",
        operation="create",
        payload={"name": "big_model", "config": {"download": [{**entry, "sha256sum": SHA}]}},
        requestor_id=ALICE[0],
        requestor_username=ALICE[1],
    ).change_id
    log = tmp_path / "workers.log"
    first = start_worker(db_url, log)
    second: subprocess.Popen[bytes] | None = None
    try:
        wait_for(
            "the first worker has hashed some bytes",
            lambda: state(services, change_id)[0].bytes_done > 0,
            log,
        )
        run, job = state(services, change_id)
        assert run.state is CheckState.running and 0 < run.bytes_done < len(BLOB)
        assert job.worker is not None and f":{first.pid}:" in job.worker and job.attempts == 1

        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=30) == -signal.SIGKILL
        _run, job = state(services, change_id)
        assert job.state is JobState.running  # claimed by a dead worker, until its lease ends

        second = start_worker(db_url, log)
        wait_for(
            "the second worker recorded the result",
            lambda: state(services, change_id)[0].state is CheckState.done,
            log,
        )
        run, job = state(services, change_id)
        assert run.completions == 1 and run.attempts == 2
        assert job.state is JobState.done and job.attempts == 2
        assert job.worker is not None and f":{second.pid}:" in job.worker
        verified = [f for f in run.findings if f.check == "sha256"]
        assert [(f.severity, f.message) for f in verified] == [
            (Severity.info, f"sha256 verified over {len(BLOB):,} bytes")
        ]
        downloads = [r for r in files.files.requests if r == ("GET", "/drip/big.safetensors")]
        assert len(downloads) == 2  # the killed worker's partial one, and the full one
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        services.db.dispose()
