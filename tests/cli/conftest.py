"""Run the ``modelref`` CLI against real SQLite files: in-process (Typer's ``CliRunner``) for
speed, and through the real console script in a subprocess where the process matters
(``real=True``: exit statuses, pipes, the entry point; see test_console_script.py).

A session-wide template database (the corpus' v2 files imported, one local key per user) is
built once with the CLI itself and copied for each test. Remote mode talks to a real
``modelref serve`` process.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from modelref.cli.main import app
from tests.conftest import copy_sqlite
from tests.corpus import CORPUS

DATA = CORPUS
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

    def run(
        self, *args: str, key: str | None = None, stdin: str | None = None, real: bool = False
    ) -> Result:
        """``modelref ARGS`` (remote when a server runs), acting with ``key``'s API key."""
        extra: list[str] = []
        if self.server:
            extra += ["--server", self.server]
        if key:
            extra += ["--apikey", self.keys[key]]
        return run_cli(*args, *extra, db=self.db, stdin=stdin, real=real)

    def local(self, *args: str, key: str | None = None) -> Result:
        """Always local mode on this environment's database."""
        extra = ["--apikey", self.keys[key]] if key else []
        return run_cli(*args, *extra, db=self.db)


def cli_env(db: Path | None) -> dict[str, str | None]:
    """What the command sees of the environment (beyond the test process's, which has no
    deployment setting: tests/conftest.py removes them)."""
    env: dict[str, str | None] = {"COLUMNS": "200", "FORCE_COLOR": None, "NO_COLOR": None}
    env["MODELREF_DATABASE_URL"] = f"sqlite:///{db}" if db is not None else None
    return env


def run_cli(
    *args: str,
    db: Path | None = None,
    stdin: str | None = None,
    real: bool = False,
    env: dict[str, str] | None = None,
) -> Result:
    """``modelref ARGS`` on ``db`` (and the deployment settings in ``env``): in-process, or
    through the console script with ``real``."""
    if real:
        return run_script(*args, db=db, stdin=stdin, env=env)
    result = CliRunner().invoke(app, list(args), input=stdin, env={**cli_env(db), **(env or {})})
    err = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What the console script would print for an unexpected error: ok()/fails() catch it.
        err += "".join(traceback.format_exception(result.exception))
    return Result(result.exit_code, result.stdout, err)


def run_script(
    *args: str,
    db: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> Result:
    """The real ``modelref`` console script in a subprocess."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    full.update({k: v for k, v in cli_env(db).items() if v is not None})
    for name in ("FORCE_COLOR", "NO_COLOR"):
        full.pop(name, None)
    full.update(env or {})
    proc = subprocess.run(
        [*COMMAND, *args],
        env=full,
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
    """A database with the corpus' v2 files imported and one key per user in USERS."""
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
    gc.collect()  # the in-process commands' engines: closed, so nothing writes any more
    with sqlite3.connect(env.db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return env


def copy_env(template: Env, target: Path) -> Env:
    return Env(copy_sqlite(template.db, target / "modelref.db"), dict(template.keys))


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
