"""A real ``modelref serve`` on 127.0.0.1 with the corpus catalog, and headless Chromium.

The server is started once per test session (per xdist worker) as a subprocess and stopped by
its PID. Keys are created with ``modelref keys create`` and the catalog is loaded with
``modelref import`` (the CLI run in-process, see tests/cli/conftest.py), as an operator would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.conftest import run_cli
from tests.corpus import CORPUS

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
DOC_SCREENSHOTS = ROOT / "docs" / "screenshots"
MODELREF = shutil.which("modelref", path=str(Path(sys.executable).parent)) or "modelref"

#: user id, username, role of the keys every browser test signs in with.
USERS = {
    "alice": ("101", "alice", "requestor"),
    "rita": ("102", "rita", "requestor"),
    "bob": ("201", "bob", "approver"),
    "carol": ("202", "carol", "approver"),
    "dave": ("301", "dave", "reader"),
}


@dataclass
class Server:
    base_url: str
    database_url: str
    keys: dict[str, str]
    pid: int

    def services(self) -> Any:
        from modelref.service.container import Services
        from modelref.settings import Settings

        return Services.open(Settings(database_url=self.database_url))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(db: Path, *args: str) -> str:
    done = run_cli(*args, db=db)
    if done.code != 0:
        raise RuntimeError(f"modelref {' '.join(args)} failed: {done.out}\n{done.err}")
    return done.out


def _key(output: str) -> str:
    for token in output.split():
        if token.startswith("mr_"):
            return token
    raise RuntimeError(f"no key in output: {output!r}")


def _create_keys(db: Path) -> dict[str, str]:
    """``modelref keys create`` for every test user."""
    return {
        name: _key(
            _cli(db, "keys", "create", "--user-id", uid, "--username", uname, "--role", role)
        )
        for name, (uid, uname, role) in USERS.items()
    }


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("ui-server")
    db = data_dir / "modelref.db"
    url = f"sqlite:///{db}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["MODELREF_DATABASE_URL"] = url
    _cli(db, "import", str(CORPUS / "v2"))
    keys = _create_keys(db)
    port = _free_port()
    log = (data_dir / "serve.log").open("w")
    proc = subprocess.Popen(
        [MODELREF, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"modelref serve exited: {(data_dir / 'serve.log').read_text()}")
            try:
                if httpx.get(base + "/ui/login", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("modelref serve did not start within 60 s")
            time.sleep(0.2)
        yield Server(base_url=base, database_url=url, keys=keys, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (CI installs it with apt)")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@dataclass
class Console:
    """Console errors and uncaught exceptions seen by one page."""

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"{m.type}: {m.text} @ {m.location.get('url')}")
                if m.type == "error"
                else None
            ),
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))


@pytest.fixture
def console() -> Iterator[Console]:
    """Every page opened through ``signed_in`` reports here; the test fails on any error."""
    seen = Console()
    yield seen
    assert seen.errors == [], "console errors:\n" + "\n".join(seen.errors)


@pytest.fixture
def signed_in(server: Server, browser: Any, console: Console) -> Iterator[Callable[..., Any]]:
    """``signed_in("bob")`` -> a page of a fresh browser context, signed in through the form."""
    contexts: list[Any] = []

    def open_as(user: str, width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        console.attach(page)
        page.goto(server.base_url + "/ui/")
        page.fill("#apikey", server.keys[user])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/ui/queue")
        return page

    yield open_as
    for context in contexts:
        context.close()


MAX_HTML = 200_000


def seed_edit(server: Server, name: str, description: str, who: str = "alice") -> int:
    """Queue a description edit of an image model directly through the services."""
    from modelref.domain.categories import Category

    services = server.services()
    try:
        record = dict(services.catalog.record(Category.image_generation, name))
        record["description"] = description
        uid, username, _role = USERS[who]
        change = services.review.enqueue_change(
            category="image_generation",
            model_name=name,
            operation="update",
            payload=record,
            requestor_id=uid,
            requestor_username=username,
            notes=f"seeded by the tests for {username}",
        )
        return int(change.change_id)
    finally:
        services.db.dispose()


def visit(page: Any, url: str) -> Any:
    """Navigate, and check the page answered 200 with HTML under 200 KB."""
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    size = len(response.body())
    assert size < MAX_HTML, f"{url} is {size} bytes of HTML"
    return response


def screenshot(page: Any, name: str) -> Path:
    """Save under test-output/screenshots; with UPDATE_DOC_SCREENSHOTS=1 also into docs/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("UPDATE_DOC_SCREENSHOTS") == "1":
        DOC_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_SCREENSHOTS / path.name)
    return path
