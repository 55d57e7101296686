"""What the access log and the request metrics add to a cached read, per request.

Calls the ASGI application in-process (no sockets, so the figure is not drowned by the shared
machine's network noise): the fast path alone, then the same fast path behind the access-log
and metrics layer, alternating for ``--rounds`` rounds; prints the best microseconds per
request of each and the difference. The access lines go to /dev/null through the same batched
writer ``modelref serve`` uses. For the end-to-end figure run ``http_reads.py`` as well.

Usage::

    .venv/bin/python benchmarks/access_overhead.py [--requests 30000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from modelref import logs  # noqa: E402
from modelref.api.app import create_app  # noqa: E402
from modelref.domain.actors import Actor  # noqa: E402
from modelref.service.container import Services  # noqa: E402
from modelref.settings import Settings  # noqa: E402

PATH = "/api/model_references/v2/blip"


async def _send(_message: Any) -> None:
    return None


async def _receive() -> dict[str, Any]:
    return {"type": "http.request"}


async def per_request(app: Any, requests: int, headers: list[tuple[bytes, bytes]]) -> float:
    started = time.perf_counter()
    for _ in range(requests):
        scope = {
            "type": "http",
            "method": "GET",
            "path": PATH,
            "query_string": b"",
            "headers": headers,
        }
        await app(scope, _receive, _send)
    return (time.perf_counter() - started) / requests * 1e6


async def measure(requests: int, rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        services = Services.open(Settings(database_url=f"sqlite:///{tmp}/bench.db"))
        services.files.import_path(ROOT / "tests/ops_data/v2", Actor("1", "b#1"))
        outer = create_app(services)
        fast = outer.app
        await per_request(outer, 200, [])  # warm the cache and the code paths
        results: dict[str, list[float]] = {"fast_path_us": [], "with_access_log_us": []}
        for _ in range(rounds):
            results["fast_path_us"].append(await per_request(fast, requests, []))
            results["with_access_log_us"].append(await per_request(outer, requests, []))
        services.db.dispose()
    best = {key: round(min(values), 2) for key, values in results.items()}
    best["added_us"] = round(best["with_access_log_us"] - best["fast_path_us"], 2)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    real_stderr = sys.stderr
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the access lines' destination
    logs.configure()
    try:
        figures = asyncio.run(measure(args.requests, args.rounds))
    finally:
        sys.stderr.close()
        sys.stderr = real_stderr
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
