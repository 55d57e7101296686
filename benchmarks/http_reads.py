"""Benchmark cached category reads over HTTP against nginx serving the same bytes.

Targets (issue 4, "Must reach"), one modelref worker, wrk with 32 connections on 127.0.0.1:

* ``GET /api/model_references/v2/image_generation`` requests/s >= 50% of nginx (same run;
  issue 11 raised it from 40%)
* p99 latency <= 20 ms
* a 304 revalidation (``If-None-Match``) >= 2x the requests/s of a full response

Usage::

    .venv/bin/python benchmarks/http_reads.py [--data ../shared/data] [--duration 6]
        [--rounds 3] [--connections 32] [--nginx-workers auto]

Variants run interleaved for ``--rounds`` rounds and the medians are reported, because the
2-core machine is shared with wrk itself (and often with other work).

Needs the Debian packages ``wrk`` and ``nginx`` (``apt-get install -y wrk nginx``). The script
starts and stops its own modelref server (a temp SQLite file with the real catalog imported)
and its own nginx (temp config, another port); both bind 127.0.0.1. Exit status 1 if a target
is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
PATH = "/api/model_references/v2/image_generation"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited early (status {proc.returncode})")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare_database(url: str, data: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from modelref.domain.actors import Actor
    from modelref.service.container import Services
    from modelref.settings import Settings

    services = Services.open(Settings(database_url=url))
    services.files.import_path(data / "v2", Actor("1", "bench#1"))
    services.db.dispose()


def start_modelref(url: str, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["MODELREF_DATABASE_URL"] = url
    cmd = [
        sys.executable,
        "-m",
        "modelref.cli.main",
        "serve",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    wait_for(f"http://127.0.0.1:{port}/api/heartbeat", proc, "modelref")
    return proc


def start_nginx(root: Path, port: int, workers: str) -> subprocess.Popen[bytes]:
    conf = root / "nginx.conf"
    tmp = root / "tmp"
    tmp.mkdir()
    conf.write_text(
        f"""
worker_processes {workers};
user root;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root}/www;
        default_type application/json;
    }}
}}
"""
    )
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/image_generation.json", proc, "nginx")
    return proc


def wrk(
    url: str, seconds: int, connections: int, headers: list[str] | None = None
) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for header in headers or []:
        cmd += ["-H", header]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p99_ms": float(p99.group(1)) * scale,
        "non_2xx_3xx": float(non2xx.group(1)) if non2xx else 0.0,
        "socket_errors": 1.0 if errors else 0.0,
    }


def median(results: list[dict[str, float]]) -> dict[str, float]:
    """Per-field median over rounds (rps and p99 each taken separately)."""
    return {key: statistics.median(r[key] for r in results) for key in results[0]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--duration", type=int, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--nginx-workers", default="auto")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    args = parser.parse_args()
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install -y wrk nginx")

    work = Path(tempfile.mkdtemp(prefix="modelref-bench-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        url = f"sqlite:///{work / 'bench.db'}"
        prepare_database(url, args.data)
        mr_port, ng_port = free_port(), free_port()
        procs.append(start_modelref(url, mr_port, work / "modelref.log"))
        mr_url = f"http://127.0.0.1:{mr_port}{PATH}"
        first = httpx.get(mr_url, headers={"accept-encoding": "identity"})
        body, etag = first.content, first.headers["etag"]
        (work / "www").mkdir()
        (work / "www" / "image_generation.json").write_bytes(body)
        procs.append(start_nginx(work, ng_port, args.nginx_workers))
        ng_url = f"http://127.0.0.1:{ng_port}/image_generation.json"
        assert httpx.get(ng_url).content == body

        d, c = args.duration, args.connections
        wrk(ng_url, 2, c)  # warm-up
        wrk(mr_url, 2, c)
        runs: dict[str, list[dict[str, float]]] = {"nginx": [], "full": [], "304": [], "gzip": []}
        for _ in range(args.rounds):  # interleaved, so background load hits every variant alike
            runs["nginx"].append(wrk(ng_url, d, c))
            runs["full"].append(wrk(mr_url, d, c))
            runs["304"].append(wrk(mr_url, d, c, [f"If-None-Match: {etag}"]))
            runs["gzip"].append(wrk(mr_url, d, c, ["Accept-Encoding: gzip"]))
        nginx, full = median(runs["nginx"]), median(runs["full"])
        revalidate, gzipped = median(runs["304"]), median(runs["gzip"])
    finally:
        for proc in reversed(procs):
            stop(proc)
        shutil.rmtree(work, ignore_errors=True)

    ratio = full["rps"] / nginx["rps"]
    not_modified = revalidate["rps"] / full["rps"]
    report = {
        "body_bytes": len(body),
        "nginx_static": nginx,
        "modelref_full": full,
        "modelref_304": revalidate,
        "modelref_gzip": gzipped,
        "ratio_vs_nginx": round(ratio, 3),
        "ratio_304_vs_full": round(not_modified, 2),
    }
    print(json.dumps(report, indent=2))
    checks = {
        "rps >= 50% of nginx": ratio >= 0.50,
        "p99 <= 20 ms": full["p99_ms"] <= 20.0,
        "304 >= 2x full": not_modified >= 2.0,
        "no errors": full["non_2xx_3xx"] == 0 and revalidate["non_2xx_3xx"] == 0,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
