"""In-process UI client for the fast page tests: the real app over ASGI, signed in by form."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from modelref.api.app import create_app
from modelref.domain.actors import Actor
from modelref.service.container import Services
from modelref.settings import Settings
from tests.conftest import copy_sqlite, sqlite_template_path
from tests.corpus import CORPUS

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

#: name -> (user id, username, role)
PEOPLE = {
    "alice": ("1001", "alice", "requestor"),
    "bob": ("2002", "bob", "approver"),
    "carol": ("3003", "carol", "approver"),
    "dave": ("4004", "dave", "reader"),
}


@dataclass
class Deployment:
    services: Services
    keys: dict[str, str]

    def client(self, who: str | None = None) -> UI:
        ui = UI(TestClient(create_app(self.services)))
        if who is not None:
            ui.sign_in(self.keys[who])
        return ui

    def actor(self, who: str) -> Actor:
        uid, name, _role = PEOPLE[who]
        return Actor(uid, name)


def deploy(tmp: Path, catalog: Path = CORPUS) -> Deployment:
    """Services on a fresh database with ``catalog``'s v2 files imported, one key per person."""
    db = copy_sqlite(sqlite_template_path(), tmp / "modelref.db")
    services = Services.open(Settings(database_url=f"sqlite:///{db}"))
    services.files.import_path(catalog / "v2", Actor("0", "admin"))
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    return Deployment(services, keys)


class UI:
    """A browser-like client: keeps cookies, reads CSRF tokens from the last page."""

    def __init__(self, client: TestClient) -> None:
        self.http = client
        self.last = ""

    def get(self, url: str, **kw: Any) -> Any:
        reply = self.http.get(url, **kw)
        self.last = reply.text
        return reply

    def token(self) -> str:
        match = _CSRF.search(self.last)
        assert match, "no CSRF token on the last page"
        return match.group(1)

    def post(self, url: str, data: dict[str, Any], *, token: bool = True, **kw: Any) -> Any:
        body = {**data, "csrf_token": self.token()} if token else data
        reply = self.http.post(url, data=body, **kw)
        self.last = reply.text
        return reply

    def sign_in(self, key: str) -> Any:
        self.get("/ui/login")
        reply = self.post("/ui/login", {"apikey": key, "next": "/ui/queue"})
        assert reply.status_code == 200 and "Signed in as" in reply.text, reply.text[:500]
        return reply


class FormAudit(HTMLParser):
    """Collects form controls without an accessible name (label[for], aria-label, wrapping)."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append({**a, "_wrapped": "1" if self.label_depth else ""})

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1

    def unlabeled(self) -> list[dict[str, str]]:
        return [
            c
            for c in self.controls
            if not (c.get("aria-label") or c["_wrapped"] or c.get("id", "") in self.label_for)
        ]


def unlabeled_controls(html: str) -> list[dict[str, str]]:
    audit = FormAudit()
    audit.feed(html)
    return audit.unlabeled()
