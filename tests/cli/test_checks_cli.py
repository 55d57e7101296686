"""``modelref queue checks`` and the checks marks of ``queue list``, local and remote.

Local mode: the change's check job runs in a real ``modelref worker --once`` process allowed
to reach the local file server. Remote mode: a real ``modelref serve`` (started without an
allow-list) runs the job in its own worker, which refuses the loopback address.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checks.fileserver import Files, Server, generated, serving
from tests.cli.conftest import COMMAND, Env, Result, fails, ok

BLOB = generated(512 * 1024, seed=3)
SHA = hashlib.sha256(BLOB).hexdigest()


@pytest.fixture
def files() -> Iterator[Server]:
    with serving(Files(blobs={"m.safetensors": BLOB})) as server:
        yield server


def worker_once(env: Env) -> Result:
    """``modelref worker --once`` on the environment's database, allowed to reach 127.0.0.1."""
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    proc_env.update(MODELREF_DATABASE_URL=env.url, MODELREF_CHECK_ALLOW_HOSTS="127.0.0.1")
    proc = subprocess.run(
        [*COMMAND, "worker", "--once"], env=proc_env, capture_output=True, text=True, timeout=120
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def submit(env: Env, tmp_path: Path, name: str, url: str, sha: str) -> str:
    entry = {"file_name": f"{name}.safetensors", "file_url": url, "sha256sum": sha}
    payload = tmp_path / f"{name}.json"
    payload.write_text(json.dumps({"name": name, "config": {"download": [entry]}}))
    args = ("queue", "submit", "--category", "miscellaneous", "--model", name, "--create")
    return ok(env.run(*args, "--file", str(payload), "-q", key="alice")).out.strip()


def test_queue_checks_locally_before_and_after_the_worker(
    local_env: Env, files: Server, tmp_path: Path
) -> None:
    good = submit(local_env, tmp_path, "good", files.url("/files/m.safetensors"), SHA)
    bad = submit(local_env, tmp_path, "bad", files.url("/files/m.safetensors"), "5a" * 32)
    assert ok(local_env.run("queue", "checks", good, "-q")).out.strip() == "pending"
    listed = ok(local_env.run("queue", "list")).out
    assert listed.count("checking") == 2

    assert "ran 2 jobs" in ok(worker_once(local_env)).out
    shown = ok(local_env.run("queue", "checks", bad)).out
    assert f"Checks of change #{bad}: done" in shown
    assert "error" in shown and "config.download.0.sha256sum" in shown and SHA in shown
    data = ok(local_env.run("queue", "checks", good, "--json")).json()
    assert data["change_id"] == int(good) and data["state"] == "done"
    assert {f["severity"] for f in data["findings"]} == {"info"}
    rows = ok(local_env.run("queue", "list")).out.splitlines()
    marks = {name: next(r for r in rows if f" {name} " in r) for name in ("good", "bad")}
    assert "checked" in marks["good"] and "1 error" in marks["bad"]


def test_queue_checks_rerun_needs_an_approver(
    local_env: Env, files: Server, tmp_path: Path
) -> None:
    change = submit(local_env, tmp_path, "again", files.url("/files/m.safetensors"), SHA)
    ok(worker_once(local_env))
    fails(local_env.run("queue", "checks", change, "--rerun", key="alice"), 4, "approver")
    rerun = ok(local_env.run("queue", "checks", change, "--rerun", "--json", key="bob")).json()
    assert rerun["state"] == "pending"
    fails(local_env.run("queue", "checks", "999999"), 1, "Change not found")


def test_queue_checks_remotely_waits_for_the_servers_worker(
    remote_env: Env, files: Server, tmp_path: Path
) -> None:
    change = submit(remote_env, tmp_path, "remote", files.url("/files/m.safetensors"), SHA)
    shown = ok(remote_env.run("queue", "checks", change, "--wait", "60", key="rita")).out
    assert f"Checks of change #{change}: done" in shown
    assert "address" in shown and "loopback" in shown  # the server has no allow-list
    assert files.files.requests == []
    listed = ok(remote_env.run("queue", "list", key="rita")).out
    assert "1 error" in listed
    rerun = ok(remote_env.run("queue", "checks", change, "--rerun", "--json", key="bob")).json()
    assert rerun["change_id"] == int(change) and rerun["state"] in ("pending", "running", "done")
