"""Benchmark how soon an apply through one instance is served by another (README, "Several
instances, one database").

Target: every instance serves an apply made through another one within the read cache's
version-check interval (0.5 s) plus one query, i.e. under 1 s (p95 and max reported).

Usage::

    .venv/bin/python benchmarks/freshness.py [--rounds 20] [--database-url URL]

Starts two ``modelref serve`` processes on 127.0.0.1 over one database (a temp SQLite file by
default), applies ``--rounds`` changes through instance A and, after each apply answers,
polls instance B until its ``miscellaneous`` ETag changes. Both servers are stopped by PID.
Exit status 1 if the p95 misses the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

TARGET_S = 1.0
V2 = "/api/model_references/v2"
Q2 = f"{V2}/pending_queue"


def start(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["MODELREF_DATABASE_URL"] = url
    cmd = [sys.executable, "-m", "modelref.cli.main", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited early: {log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/heartbeat", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("server did not start")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def record(name: str) -> dict[str, object]:
    url = f"https://example.invalid/{name}.safetensors"
    file = {"file_name": f"{name}.safetensors", "file_url": url, "sha256sum": "0" * 64}
    return {"name": name, "description": "freshness probe", "config": {"download": [file]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    from modelref.service.container import Services
    from modelref.settings import Settings

    tmp = Path(tempfile.mkdtemp(prefix="modelref-freshness-"))
    url = args.database_url or f"sqlite:///{tmp / 'shared.db'}"
    services = Services.open(Settings(database_url=url))
    alice = {"apikey": services.keys.create("1001", "alice#1001", "requestor")}
    bob = {"apikey": services.keys.create("2002", "bob#2002", "approver")}
    services.db.dispose()

    port_a, port_b = free_port(), free_port()
    procs = [start(url, port_a, tmp / "a.log")]
    try:
        procs.append(start(url, port_b, tmp / "b.log"))
        a = httpx.Client(base_url=f"http://127.0.0.1:{port_a}", timeout=30)
        b = httpx.Client(base_url=f"http://127.0.0.1:{port_b}", timeout=30)
        lags: list[float] = []
        for n in range(args.rounds):
            name = f"fresh-{n}"
            before = b.get(f"{V2}/miscellaneous").headers.get("etag")
            cid = a.post(f"{V2}/miscellaneous", json=record(name), headers=alice).json()
            batch = {"batch_title": name, "approved_ids": [cid["change_id"]]}
            assert a.post(f"{Q2}/batches", json=batch, headers=bob).status_code == 200
            applied = a.post(f"{Q2}/changes/{cid['change_id']}/apply", json={}, headers=bob)
            assert applied.status_code == 200, applied.text
            done = time.monotonic()
            while b.get(f"{V2}/miscellaneous").headers.get("etag") == before:
                time.sleep(0.005)
            lags.append(time.monotonic() - done)
            time.sleep(0.137 * (n % 5))  # spread the applies over the check interval
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=15)
    lags.sort()
    p95 = lags[max(0, int(len(lags) * 0.95) - 1)]
    print(f"apply on A -> served by B, {len(lags)} rounds:")
    print(f"  median {statistics.median(lags) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, ", end="")
    print(f"max {lags[-1] * 1000:.0f} ms (target < {TARGET_S * 1000:.0f} ms)")
    return 0 if p95 < TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
