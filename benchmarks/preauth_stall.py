"""How long can one unauthenticated request stall the event loop? (issue 11, "Must show")

A real ``modelref serve`` (one worker, a temp SQLite file) is probed every few milliseconds
with ``GET /api/heartbeat`` on a kept-alive connection while a second client sends hostile
requests with a key that does not exist: the largest id lists the API takes and more, 2 MB
bodies that are slow to parse (floats, tiny objects), deep nesting, escape-heavy strings, many
headers, and the UI's form posts without a session. A heartbeat that waits is an event loop
that was busy: the stall of an attack is its slowest heartbeat minus the quiet median.

Usage::

    .venv/bin/python benchmarks/preauth_stall.py [--repeat 5]

Prints one row per attack (status answered, slowest and median heartbeat while it ran) and
the worst stall in ms. Exit status 1 if any stall exceeds ``--limit`` ms (default 25).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

API = "/api/model_references/v2"
Q2 = "/api/model_references/v2/pending_queue"
BAD_KEY = {"apikey": "0123456789abcdef-no-such-key"}
JSON = {"content-type": "application/json"}
TWO_MB = 2 * 1024 * 1024 - 64
SERVE = [sys.executable, "-m", "modelref.cli.main", "serve"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _fill(head: bytes, item: bytes, tail: bytes, size: int = TWO_MB) -> bytes:
    """``head + item,item,... + tail`` just under ``size`` bytes."""
    count = (size - len(head) - len(tail)) // (len(item) + 1)
    return head + b",".join([item] * count) + tail


def ids(count: int) -> bytes:
    return b'{"change_ids": [' + b",".join(b"%d" % i for i in range(1, count + 1)) + b"]}"


def attacks() -> dict[str, tuple[str, str, bytes, dict[str, str]]]:
    """name -> (method, path, body, extra headers)."""
    many_headers = {f"x-filler-{i}": "v" * 150 for i in range(90)}
    return {
        "apply 10,000 ids (the cap)": ("POST", f"{Q2}/apply", ids(10_000), JSON),
        "apply 30,000 ids (270 KB)": ("POST", f"{Q2}/apply", ids(30_000), JSON),
        "apply 2 MB of ids": ("POST", f"{Q2}/apply", _fill(b'{"change_ids": [', b"7", b"]}"), JSON),
        "propose 2 MB of floats": (
            "POST",
            f"{API}/miscellaneous",
            _fill(b'{"name": "f", "config": {"x": [', b"1.5", b"]}}"),
            JSON,
        ),
        "propose 2 MB of tiny objects": (
            "POST",
            f"{API}/miscellaneous",
            _fill(b'{"name": "o", "config": {"x": [', b"{}", b"]}}"),
            JSON,
        ),
        "propose 2 MB of escapes": (
            "POST",
            f"{API}/miscellaneous",
            b'{"name": "e", "description": "' + b"\\ud83d\\ude00" * (TWO_MB // 12 - 8) + b'"}',
            JSON,
        ),
        "propose nested 1M deep": ("POST", f"{API}/miscellaneous", b"[" * 1_000_000, JSON),
        "batch approve 2 MB": (
            "POST",
            f"{Q2}/batches",
            _fill(b'{"title": "t", "change_ids": [', b"1", b"]}"),
            JSON,
        ),
        "90 headers of 150 bytes": ("GET", f"{Q2}/changes", b"", many_headers),
        "UI propose 2 MB form": (
            "POST",
            "/ui/propose/miscellaneous",
            b"model_name=x&payload=" + b"%5B" * (TWO_MB // 3 - 20),
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        "UI propose 2 MB plain form": (
            "POST",
            "/ui/propose/miscellaneous",
            b"model_name=x&payload=" + b"x" * (TWO_MB - 30),
            {"content-type": "application/x-www-form-urlencoded"},
        ),
        "UI review 2 MB of ids": (
            "POST",
            "/ui/review",
            b"action=approve&" + b"&".join([b"change_ids=1"] * (TWO_MB // 13 - 8)),
            {"content-type": "application/x-www-form-urlencoded"},
        ),
    }


def _probe(url: str, every: float, stop: Any, out: Any) -> None:
    """In its own process (so the attacker's work cannot delay it): heartbeat until ``stop``."""
    samples: list[tuple[float, float]] = []
    with httpx.Client(base_url=url, timeout=60) as client:
        while not stop.is_set():
            started = time.monotonic()
            client.get("/api/heartbeat")
            samples.append((started, time.monotonic() - started))
            time.sleep(every)
    out.put(samples)


class Probe:
    """Heartbeats on a kept-alive connection; latencies recorded with their start times."""

    def __init__(self, url: str, every: float = 0.002) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._out: Any = ctx.Queue()
        self._proc = ctx.Process(target=_probe, args=(url, every, self._stop, self._out))
        self.samples: list[tuple[float, float]] = []

    def start(self) -> None:
        self._proc.start()

    def stop(self) -> None:
        self._stop.set()
        self.samples = self._out.get(timeout=60)
        self._proc.join(timeout=30)

    def window(self, start: float, end: float) -> list[float]:
        """Latencies of heartbeats that overlapped [start, end]."""
        return [lat for t, lat in self.samples if t <= end and t + lat >= start]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=float, default=25.0, help="worst allowed stall, ms")
    parser.add_argument("--only", default="", help="run the attacks whose name contains this")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="modelref-stall-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["MODELREF_DATABASE_URL"] = f"sqlite:///{tmp / 'db.sqlite'}"
    log = (tmp / "server.log").open("wb")
    proc = subprocess.Popen(
        [*SERVE, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/api/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise SystemExit("server did not start: " + (tmp / "server.log").read_text())
            time.sleep(0.1)
        return run(url, args.repeat, args.limit, args.only)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def run(url: str, repeat: int, limit: float, only: str = "") -> int:
    probe = Probe(url)
    probe.start()
    time.sleep(2.0)
    quiet_until = time.monotonic()
    time.sleep(0.5)
    spans: list[tuple[str, set[int], list[float], list[tuple[float, float]]]] = []
    sender = httpx.Client(base_url=url, timeout=60)
    try:
        for name, (method, path, body, headers) in attacks().items():
            if only not in name:
                continue
            statuses: set[int] = set()
            took: list[float] = []
            windows: list[tuple[float, float]] = []
            for _ in range(repeat):
                start = time.monotonic()
                reply = sender.request(
                    method, path, content=body or None, headers=BAD_KEY | headers
                )
                end = time.monotonic()
                statuses.add(reply.status_code)
                took.append((end - start) * 1000)
                windows.append((start, end))
                time.sleep(0.3)  # the loop settles; the next attack starts from quiet
            spans.append((name, statuses, took, windows))
    finally:
        sender.close()
        probe.stop()
    quiet_samples = [lat for t, lat in probe.samples if t < quiet_until]
    quiet = statistics.median(quiet_samples) * 1000
    print(f"quiet heartbeat median {quiet:.2f} ms over {len(quiet_samples)} probes\n")
    print(f"{'attack':32} {'status':>6} {'request ms':>10} {'worst hb ms':>11} {'stall ms':>8}")
    worst = 0.0
    for name, statuses, took, windows in spans:
        beats = [lat for start, end in windows for lat in probe.window(start, end)]
        slowest = max(beats, default=0.0) * 1000
        stall = max(0.0, slowest - quiet)
        worst = max(worst, stall)
        shown = "/".join(str(s) for s in sorted(statuses))
        print(f"{name:32} {shown:>6} {statistics.median(took):10.1f} {slowest:11.1f} {stall:8.1f}")
    print(f"\nworst event-loop stall before authentication: {worst:.1f} ms (limit {limit:g} ms)")
    return 0 if worst <= limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
