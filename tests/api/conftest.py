"""In-process API fixtures: one app per test module on a real SQLite file that is reset for
each test, keys for every role."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelref.api.app import create_app
from modelref.service.container import Services
from modelref.settings import Settings
from modelref.store.database import Database
from tests.conftest import copy_sqlite, sqlite_template_path
from tests.factories import misc_payload, seed_catalog

V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"
Q2 = f"{V2}/pending_queue"
Q1 = f"{V1}/pending_queue"

#: (user id, username, role) of the keys every API test gets.
PEOPLE = {
    "reader": ("4004", "dave#4004", "reader"),
    "requestor": ("1001", "alice#1001", "requestor"),
    "approver": ("2002", "bob#2002", "approver"),
    "approver2": ("3003", "carol#3003", "approver"),
}


@dataclass
class Api:
    """A client on a fresh deployment plus its keys and services."""

    client: TestClient
    services: Services
    keys: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"apikey": self.keys[who]}

    def propose(self, name: str, who: str = "requestor", **extra: Any) -> int:
        body = misc_payload(name) | extra
        r = self.client.post(f"{V2}/miscellaneous", json=body, headers=self.h(who))
        assert r.status_code == 202, r.text
        return int(r.json()["change_id"])

    def approve(self, ids: list[int], who: str = "approver", title: str = "batch") -> int:
        r = self.client.post(
            f"{Q2}/batches", json={"batch_title": title, "approved_ids": ids}, headers=self.h(who)
        )
        assert r.status_code == 200, r.text
        return int(r.json()["batch_id"])

    def apply(self, change_id: int, who: str = "approver") -> dict[str, Any]:
        r = self.client.post(f"{Q2}/changes/{change_id}/apply", json={}, headers=self.h(who))
        assert r.status_code == 200, r.text
        result: dict[str, Any] = r.json()
        return result

    def seed(self, name: str, description: str = "live model") -> None:
        record = misc_payload(name, description) | {"record_type": "miscellaneous"}
        seed_catalog(self.services.db, "miscellaneous", record)

    def seed_elsewhere(self, name: str) -> None:
        """Write a live record as another instance would: through another connection pool,
        so this process's commit listeners never hear of it."""
        other = Database(self.services.settings.database_url)
        try:
            record = misc_payload(name, "live model") | {"record_type": "miscellaneous"}
            seed_catalog(other, "miscellaneous", record)
        finally:
            other.dispose()

    def state(self) -> tuple[Any, ...]:
        """Everything a refused call must leave alone."""
        changes = self.services.review.list_changes().model_dump(mode="json")
        return (changes, len(self.services.audit.events()), self.services.catalog.versions())


@dataclass
class Deployment:
    """One app (and its services) for a whole test module, reset to a fresh database per test.

    FastAPI prepares each route on its first request (0.1-0.8 s for a new app), so building an
    app per test dominated the API suite; the database is what a test must find fresh.
    """

    api: Api
    live: Path
    pristine: Path

    def reset(self) -> Api:
        """Put back the freshly migrated database (keys included) and forget cached reads."""
        with (
            closing(sqlite3.connect(self.pristine)) as source,
            closing(sqlite3.connect(self.live, timeout=60)) as target,
        ):
            source.backup(target)
        cache = self.api.client.app.api.state.read_cache  # type: ignore[attr-defined]
        cache.entries.clear()
        cache.versions.clear()
        cache.invalidate()
        return self.api


def make_api(tmp_path: Path, **settings: Any) -> Iterator[Deployment]:
    """A deployment on a copy of the session's template database, keys for every role."""
    live = copy_sqlite(sqlite_template_path(), tmp_path / "api.db")
    services = Services.open(Settings(database_url=f"sqlite:///{live}", **settings), recover=True)
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    pristine = tmp_path / "pristine.db"
    with closing(sqlite3.connect(live)) as source, closing(sqlite3.connect(pristine)) as target:
        source.backup(target)
    try:
        with TestClient(create_app(services)) as client:
            yield Deployment(Api(client, services, keys), live, pristine)
    finally:
        services.db.dispose()


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    yield from make_api(tmp_path_factory.mktemp("api"))


@pytest.fixture
def api(deployment: Deployment) -> Api:
    """The module's app on a fresh database: nothing from an earlier test is visible."""
    return deployment.reset()


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Build a deployment with other settings (e.g. ``canonical_format="legacy"``)."""
    made: list[Iterator[Deployment]] = []

    def build(**settings: Any) -> Api:
        it = make_api(tmp_path / f"d{len(made)}", **settings)
        made.append(it)
        return next(it).api

    yield build
    for it in made:
        for _ in it:
            pass
