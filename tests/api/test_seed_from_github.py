"""``modelref serve --seed-from-github``: a real server process seeds an empty database from
the local stand-in for the public repositories, and leaves a non-empty one alone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.servers import free_port
from tests.service.reference_server import ReferenceServer, repository_files


@pytest.fixture
def reference() -> Iterator[ReferenceServer]:
    server = ReferenceServer(repository_files()).start()
    yield server
    server.stop()


def serve_once(
    tmp_path: Path, reference: ReferenceServer, name: str
) -> tuple[dict[str, object], str]:
    """Start ``serve --seed-from-github``, read the blip category, stop it (by PID)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env |= {
        "MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MODELREF_REFERENCE_BASE_URL": reference.base_url,
        "MODELREF_REFERENCE_ALLOW_HOSTS": "127.0.0.1",
    }
    log = tmp_path / f"{name}.log"
    args = [sys.executable, "-m", "modelref.cli.main", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen([*args, "--seed-from-github"], env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/model_references/v2/blip", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
        assert r.status_code == 200, r.text
        return r.json(), log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


@pytest.mark.slow
def test_first_start_seeds_and_second_start_does_not(
    tmp_path: Path, reference: ReferenceServer
) -> None:
    blip, log = serve_once(tmp_path, reference, "first")
    assert list(blip) == ["OPS_BLIP"]
    assert "fetched " in log and "sha256" in log
    fetched = len(reference.requests)
    assert fetched > 0
    again, log2 = serve_once(tmp_path, reference, "second")
    assert list(again) == ["OPS_BLIP"]
    assert len(reference.requests) == fetched
    assert "not seeding" in log2
