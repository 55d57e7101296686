"""Benchmark publication for readers (issue 15, "Must show"):

* apply latency with 0 vs 10 webhook subscriptions whose receiver sleeps (deliveries run in
  the same process's outbox workers, as in ``modelref serve``), and with git publication to a
  local bare repository: the ratio to the baseline must stay near 1 (target <= 1.5);
* cross-instance read-cache refresh on PostgreSQL: two real ``modelref serve`` processes,
  apply on A, poll B until it serves the new record (target: median < 100 ms).

Usage::

    .venv/bin/python benchmarks/publication.py [--applies 30] [--sleep 1.0] [--refreshes 20]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test] [--skip-pg]

Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from modelref.domain.actors import Actor
from modelref.service.container import Services
from modelref.settings import Settings

REQUESTER = Actor("1001", "alice#1001")
APPROVER = Actor("2002", "bob#2002")
APPLIER = Actor("3003", "carol#3003")
V2 = "/api/model_references/v2"
RATIO_TARGET = 1.5
REFRESH_TARGET = 0.100


def misc(name: str, description: str = "benchmark model") -> dict[str, Any]:
    return {
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


@contextmanager
def sleeping_receiver(delay: float) -> Iterator[str]:
    """An HTTP receiver on 127.0.0.1 that takes ``delay`` seconds to answer each POST."""
    received = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received["n"] += 1
            time.sleep(delay)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()
        print(f"    (receiver got {received['n']} deliveries meanwhile)")


def apply_latencies(svc: Services, applies: int, tag: str) -> list[float]:
    """Propose and approve untimed; time each ``apply_changes`` call."""
    times = []
    for n in range(applies):
        name = f"{tag}-{n}"
        cid = svc.review.enqueue_change(
            category="miscellaneous",
            model_name=name,
            operation="create",
            payload=misc(name),
            requestor_id=REQUESTER.user_id,
            requestor_username=REQUESTER.username,
        ).change_id
        svc.review.process_batch(
            approver_id=APPROVER.user_id,
            approver_username=APPROVER.username,
            batch_title=f"benchmark {name}",
            approved_ids=[cid],
            rejected_ids=None,
        )
        started = time.perf_counter()
        svc.apply.apply_changes([cid], APPLIER.user_id, APPLIER.username)
        times.append(time.perf_counter() - started)
    return times


def deployment(work: Path, name: str, **settings: Any) -> Services:
    return Services.open(
        Settings(database_url=f"sqlite:///{work / name}.db", **settings), recover=True
    )


def bench_applies(
    work: Path, applies: int, delay: float, rounds: int = 4
) -> dict[str, list[float]]:
    """Each configuration in turn, ``rounds`` times (machine noise then hits all alike); a
    configuration's outbox workers run only during its own turn, beside its applies, as in
    ``modelref serve``."""
    remote = work / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    with sleeping_receiver(delay) as url:
        configs = {
            "no subscriptions": deployment(work, "baseline"),
            "10 sleeping subscriptions": deployment(work, "hooks", check_allow_hosts="127.0.0.1"),
            "git publication": deployment(
                work, "git", git_publish_dir=work / "tree", git_push_remote=str(remote)
            ),
        }
        for _ in range(10):
            configs["10 sleeping subscriptions"].webhooks.add(
                url, "enqueue,approve,apply", "json", "s" * 32, APPROVER
            )
        results: dict[str, list[float]] = {label: [] for label in configs}
        for label, svc in configs.items():
            apply_latencies(svc, 3, f"warm-{label[:2]}")
        for round_ in range(rounds):
            for label, svc in configs.items():
                svc.workers.start()
                tag = f"{label[:2]}-{round_}"
                results[label] += apply_latencies(svc, max(1, applies // rounds), tag)
                svc.workers.stop()
        for svc in configs.values():
            svc.db.dispose()
    return results


# ---------------------------------------------------------------------- PostgreSQL refresh


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    plain = base.replace("+psycopg", "")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in base else "?"
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@contextmanager
def serve(url: str, interval: str, log: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env.update({"MODELREF_DATABASE_URL": url, "MODELREF_CACHE_INTERVAL": interval})
    cmd = [sys.executable, "-m", "modelref.cli.main", "serve", "--host", "127.0.0.1"]
    with log.open("wb") as out:
        proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start:\n{log.read_text()}")
            try:
                if httpx.get(f"{base}/api/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def bench_refresh(pg: str, refreshes: int, interval: str, work: Path) -> list[float]:
    """Seconds from an apply answered by A to B serving the new record, per apply."""
    with pg_schema(pg) as url:
        svc = Services.open(Settings(database_url=url))
        svc.files.import_path(_seed(work), Actor("9009", "admin#9009"))
        requester = svc.keys.create(REQUESTER.user_id, REQUESTER.username, "requestor")
        approver = svc.keys.create(APPROVER.user_id, APPROVER.username, "approver")
        applier = svc.keys.create(APPLIER.user_id, APPLIER.username, "approver")
        svc.db.dispose()
        with (
            serve(url, interval, work / f"a-{interval}.log") as a,
            serve(url, interval, work / f"b-{interval}.log") as b,
            httpx.Client(base_url=a, timeout=30) as ca,
            httpx.Client(base_url=b, timeout=30) as cb,
        ):
            assert cb.get(f"{V2}/miscellaneous").status_code == 200  # B's cache is built
            delays = []
            for n in range(refreshes):
                name = f"refresh-{n}"
                r = ca.post(f"{V2}/miscellaneous", json=misc(name), headers={"apikey": requester})
                cid = r.json()["change_id"]
                ca.post(
                    f"{V2}/pending_queue/batches",
                    json={"batch_title": name, "approved_ids": [cid]},
                    headers={"apikey": approver},
                )
                ca.post(
                    f"{V2}/pending_queue/changes/{cid}/apply", json={}, headers={"apikey": applier}
                )
                applied = time.perf_counter()
                while cb.get(f"{V2}/miscellaneous/model/{name}").status_code != 200:
                    if time.perf_counter() - applied > 10:
                        raise RuntimeError(f"B never served {name}")
                delays.append(time.perf_counter() - applied)
            return delays


def _seed(work: Path) -> Path:
    ref = work / "ref" / "v2"
    ref.mkdir(parents=True, exist_ok=True)
    import json

    (ref / "miscellaneous.json").write_text(json.dumps({"seed": misc("seed")}, indent=4))
    return ref.parent


def ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"median {statistics.median(values) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   "
        f"max {ordered[-1] * 1000:7.1f} ms   (n={len(values)})"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applies", type=int, default=60)
    parser.add_argument("--sleep", type=float, default=0.25, help="receiver delay (s)")
    parser.add_argument("--refreshes", type=int, default=20)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "MODELREF_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--skip-pg", action="store_true")
    args = parser.parse_args()
    failed = False
    with tempfile.TemporaryDirectory(prefix="modelref-bench-") as tmp:
        work = Path(tmp)
        print(f"apply latency (SQLite, {args.applies} single-change applies each):")
        results = bench_applies(work, args.applies, args.sleep)
        base = statistics.median(results["no subscriptions"])
        for label, values in results.items():
            ratio = statistics.median(values) / base
            print(f"  {label:28} {ms(values)}   ratio {ratio:.2f}")
            if ratio > RATIO_TARGET:
                failed = True
                print(f"  MISSED: ratio above {RATIO_TARGET}")
        if not args.skip_pg:
            for interval, label in (("3600", "NOTIFY only"), ("0.5", "default settings")):
                delays = bench_refresh(args.pg, args.refreshes, interval, work)
                print(f"cross-instance refresh on PostgreSQL ({label}): {ms(delays)}")
                if statistics.median(delays) > REFRESH_TARGET:
                    failed = True
                    print(f"  MISSED: median above {REFRESH_TARGET * 1000:.0f} ms")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
