"""Run the real ``modelref`` console script in subprocesses against real SQLite files.

A session-wide template database (the real v2 reference imported, three local keys) is
built once with the CLI itself and copied for each test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
_SCRIPT = Path(sys.executable).with_name("modelref")
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "modelref.cli.main"]


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Env:
    """One database (and maybe a server on it), with the keys created for it."""

    db: Path
    keys: dict[str, str] = field(default_factory=dict)
    server: str | None = None

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"

    def run(self, *args: str, key: str | None = None, stdin: str | None = None) -> Result:
        """``modelref ARGS`` (remote when a server runs), acting with ``key``'s API key."""
        extra: list[str] = []
        if self.server:
            extra += ["--server", self.server]
        if key:
            extra += ["--apikey", self.keys[key]]
        return run_cli(*args, *extra, db=self.db, stdin=stdin)

    def local(self, *args: str, key: str | None = None) -> Result:
        """Always local mode on this environment's database."""
        extra = ["--apikey", self.keys[key]] if key else []
        return run_cli(*args, *extra, db=self.db)


def run_cli(*args: str, db: Path | None = None, stdin: str | None = None) -> Result:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["COLUMNS"] = "200"
    env.pop("FORCE_COLOR", None)
    if db is not None:
        env["MODELREF_DATABASE_URL"] = f"sqlite:///{db}"
    proc = subprocess.run(
        [*COMMAND, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def ok(result: Result) -> Result:
    assert result.code == 0, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    assert "Traceback" not in result.err
    return result


def fails(result: Result, code: int, *needles: str) -> Result:
    """Assert exit ``code``, no traceback, and every needle in stderr."""
    assert result.code == code, f"exit {result.code}\nstdout:\n{result.out}\nstderr:\n{result.err}"
    assert "Traceback" not in result.err and "Traceback" not in result.out
    for needle in needles:
        assert needle in result.err, f"{needle!r} not in stderr:\n{result.err}"
    return result


USERS = {
    "alice": ("1001", "alice#1001", "requestor"),
    "bob": ("2002", "bob#2002", "approver"),
    "carol": ("3003", "carol#3003", "approver"),
    "rita": ("4004", "rita#4004", "reader"),
}


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """A database with the real v2 reference imported and one key per user in USERS."""
    if not (DATA / "v2").is_dir():
        pytest.fail(f"real reference data not found at {DATA}")
    env = Env(tmp_path_factory.mktemp("template") / "modelref.db")
    ok(run_cli("import", str(DATA / "v2"), "--quiet", db=env.db))
    for name, (uid, username, role) in USERS.items():
        created = ok(
            run_cli(
                "keys",
                "create",
                "--user-id",
                uid,
                "--username",
                username,
                "--role",
                role,
                "--quiet",
                db=env.db,
            )
        )
        env.keys[name] = created.out.strip()
    return env


def copy_env(template: Env, target: Path) -> Env:
    target.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{template.db}{suffix}")
        if src.exists():
            shutil.copy(src, Path(f"{target / 'modelref.db'}{suffix}"))
    return Env(target / "modelref.db", dict(template.keys))


@pytest.fixture
def local_env(template: Env, tmp_path: Path) -> Env:
    return copy_env(template, tmp_path / "local")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def remote_env(template: Env, tmp_path: Path) -> Iterator[Env]:
    """A real ``modelref serve`` on 127.0.0.1 over a copy of the template database."""
    if not (Path(__file__).resolve().parents[2] / "src/modelref/api/app.py").exists():
        pytest.skip("the HTTP API (src/modelref/api/app.py) is not there yet")
    env = copy_env(template, tmp_path / "remote")
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    proc_env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    proc_env["MODELREF_DATABASE_URL"] = env.url
    proc = subprocess.Popen(
        [*COMMAND, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=proc_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, tmp_path / "server.log")
        env.server = base
        yield env
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"modelref serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base}/api/heartbeat", timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"modelref serve did not answer within 30 s:\n{log.read_text()}")
