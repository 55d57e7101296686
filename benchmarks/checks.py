"""Review checks: what they cost at enqueue, and how fast one worker streams a sha256.

    .venv/bin/python benchmarks/checks.py                  # SQLite
    .venv/bin/python benchmarks/checks.py --db both        # and PostgreSQL

1. **Enqueue with checks on vs off, in the same run.** Two fresh databases get the same live
   catalog (the real v2 reference when ``--reference`` points at it, else ``--catalog``
   generated records with real-looking digests and URLs) and the same ``--open`` open changes.
   Then ``--rounds`` rounds alternate between them, ``--enqueues`` ``enqueue_change`` calls per
   round and database, each with a fresh sha256 and URL, so the duplicate lookup and the key
   inserts really run. Reported: the median per setting over all rounds and their ratio (the
   machine is shared and noisy: the ratio from one interleaved run is the figure to read), plus
   the one-off cost of the first enqueue after a catalog write (the live keys are rebuilt).
2. **sha256 streaming.** A local HTTP server sends ``--hash-mb`` MiB; one real outbox worker
   runs the real ``check`` job (HEAD, then a streamed GET hashed chunk by chunk, with
   heartbeats and progress writes). Reported: MiB/s of the job, and of plain ``hashlib`` over
   the same bytes in memory for comparison.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.checks import CheckState
from modelref.service.container import Services
from modelref.service.outbox import Worker
from modelref.settings import Settings
from modelref.store.catalog import CatalogRow

DEFAULT_PG_URL = os.environ.get(
    "MODELREF_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "data" / "v2"
REQUESTER = ("1001", "alice#1001")
TARGET_ENQUEUE_MS = 1.0
CHUNK = 8 * 1024 * 1024


# ---------------------------------------------------------------------- databases
@contextmanager
def fresh_database(engine: str, pg_url: str) -> Iterator[str]:
    if engine == "sqlite":
        tmp = tempfile.mkdtemp(prefix="modelref-checks-bench-")
        try:
            yield f"sqlite:///{tmp}/bench.db"
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    import psycopg

    plain = pg_url.replace("+psycopg", "")
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in pg_url else "?"
    try:
        yield f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def payload(name: str, rng: random.Random) -> dict[str, Any]:
    """A record with one download: a fresh digest and URL (never a placeholder)."""
    return {
        "name": name,
        "description": "benchmark model",
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://files.example.org/{name}/model.safetensors",
                    "sha256sum": rng.randbytes(32).hex(),
                }
            ]
        },
    }


def fill(services: Services, args: argparse.Namespace, rng: random.Random) -> str:
    """The live catalog and the open changes both databases start from."""
    reference = Path(args.reference) if args.reference else None
    if reference is not None and reference.is_dir():
        services.files.import_path(reference, Actor("0", "bench"))
        source = f"real v2 reference ({reference})"
    else:
        now = services.clock()
        rows = []
        for i in range(args.catalog):
            rec = payload(f"live-{i}", rng) | {"record_type": "miscellaneous"}
            rows.append(CatalogRow("miscellaneous", rec["name"], rec, f"{i:064x}"))
        with services.db.write() as tx:
            tx.catalog.write("miscellaneous", rows, [], now, {"create": len(rows)}, ("create", "x"))
        source = f"{args.catalog} generated records"
    for i in range(args.open):
        enqueue(services, f"open-{i}", rng)
    return source


def enqueue(services: Services, name: str, rng: random.Random) -> None:
    services.review.enqueue_change(
        category="miscellaneous",
        model_name=name,
        operation="create",
        payload=payload(name, rng),
        requestor_id=REQUESTER[0],
        requestor_username=REQUESTER[1],
    )


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_enqueue(engine: str, args: argparse.Namespace) -> None:
    with (
        fresh_database(engine, args.pg_url) as on_url,
        fresh_database(engine, args.pg_url) as off_url,
    ):
        on = Services.open(Settings(database_url=on_url, checks=True))
        off = Services.open(Settings(database_url=off_url, checks=False))
        source = ""
        for services in (on, off):
            source = fill(services, args, random.Random(1))
        rng = random.Random(2)
        extra = payload("one-more-live", rng) | {"record_type": "miscellaneous"}
        with on.db.write() as tx:  # a catalog write: the next enqueue rebuilds the live keys
            row = CatalogRow("miscellaneous", extra["name"], extra, "f" * 64)
            tx.catalog.write("miscellaneous", [row], [], on.clock(), {"create": 1}, ("create", "x"))
        first = timed(lambda: enqueue(on, "first-after-catalog-write", rng))
        for services in (on, off):  # warm pools and caches
            for i in range(5):
                enqueue(services, f"warm-{i}-{id(services)}", rng)
        samples: dict[str, list[float]] = {"on": [], "off": []}
        counter = iter(range(10**9))
        for _round in range(args.rounds):
            for label, services in (("on", on), ("off", off)):
                for _ in range(args.enqueues):
                    name = f"new-{next(counter)}"

                    def one(s: Services = services, n: str = name) -> None:
                        enqueue(s, n, rng)

                    samples[label].append(timed(one))
        with on.db.read() as tx:
            keys = len(tx.checks.matches([]))  # sanity: the lookup works on an empty list
            jobs = sum(n for (kind, _s), n in tx.outbox.counts().items() if kind == "check")
        assert keys == 0 and jobs > 0
        med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
        p95 = {k: sorted(v)[int(0.95 * (len(v) - 1))] * 1000 for k, v in samples.items()}
        print(f"[{engine}] catalog: {source}; {args.open} open changes before measuring")
        print(
            f"[{engine}] enqueue median: checks on {med['on']:.3f} ms, off {med['off']:.3f} ms, "
            f"ratio {med['on'] / med['off']:.2f}x (p95 {p95['on']:.3f} / {p95['off']:.3f} ms; "
            f"{len(samples['on'])} calls each, {args.rounds} interleaved rounds)"
        )
        print(
            f"[{engine}] first enqueue after a catalog write (live keys rebuilt): "
            f"{first * 1000:.1f} ms"
        )
        ok = med["on"] <= TARGET_ENQUEUE_MS
        print(f"[{engine}] {'PASS' if ok else 'FAIL'}  checks-on median <= {TARGET_ENQUEUE_MS} ms")
        for services in (on, off):
            services.db.dispose()


# ---------------------------------------------------------------------- sha256 streaming
class Blob:
    """``repeat`` copies of a random block, served as one file."""

    def __init__(self, mib: int) -> None:
        self.block = random.Random(3).randbytes(CHUNK)
        self.repeat = max(1, mib * 1024 * 1024 // CHUNK)
        self.size = self.repeat * CHUNK

    def sha256(self) -> tuple[str, float]:
        hasher = hashlib.sha256()
        t0 = time.perf_counter()
        for _ in range(self.repeat):
            hasher.update(self.block)
        return hasher.hexdigest(), time.perf_counter() - t0


def serve(blob: Blob) -> tuple[ThreadingHTTPServer, int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            return

        def _head(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(blob.size))
            self.end_headers()

        def do_HEAD(self) -> None:
            self._head()

        def do_GET(self) -> None:
            self._head()
            view = memoryview(blob.block)
            try:
                for _ in range(blob.repeat):
                    self.wfile.write(view)
            except (BrokenPipeError, ConnectionResetError):
                return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, int(httpd.server_address[1])


def bench_hash(args: argparse.Namespace) -> None:
    blob = Blob(args.hash_mb)
    digest, raw_s = blob.sha256()
    httpd, port = serve(blob)
    try:
        with fresh_database("sqlite", args.pg_url) as url:
            settings = Settings(
                database_url=url,
                check_allow_hosts="127.0.0.1",
                verify_sha256="always",
                check_attempts=1,
            )
            services = Services.open(settings)
            entry = {
                "file_name": "big.safetensors",
                "file_url": f"http://127.0.0.1:{port}/big.safetensors",
                "sha256sum": digest,
            }
            change = services.review.enqueue_change(
                category="miscellaneous",
                model_name="big",
                operation="create",
                payload={"name": "big", "config": {"download": [entry]}},
                requestor_id=REQUESTER[0],
                requestor_username=REQUESTER[1],
            )
            worker = Worker(services.db, services.clock, services.handlers)
            job_s = timed(worker.run_once)
            checks = services.checks.get(change.change_id)
            verified = [f for f in checks.findings if f.message.startswith("sha256 verified")]
            if checks.state is not CheckState.done or not verified:
                raise SystemExit(f"the check did not verify the file: {checks}")
            services.db.dispose()
    finally:
        httpd.shutdown()
        httpd.server_close()
    mib = blob.size / 1024 / 1024
    print(
        f"[sha256] one worker, {mib:.0f} MiB from a local server: {mib / job_s:.0f} MiB/s "
        f"({job_s:.2f} s for the whole job); hashlib alone in memory: {mib / raw_s:.0f} MiB/s "
        f"(worker at {raw_s / job_s:.0%} of it)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_PG_URL)
    parser.add_argument("--reference", default=str(DEFAULT_REFERENCE))
    parser.add_argument("--catalog", type=int, default=1000)
    parser.add_argument("--open", type=int, default=500)
    parser.add_argument("--enqueues", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hash-mb", type=int, default=512)
    parser.add_argument("--skip-hash", action="store_true")
    args = parser.parse_args(argv)
    engines = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for engine in engines:
        bench_enqueue(engine, args)
    if not args.skip_hash:
        bench_hash(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
