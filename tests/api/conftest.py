"""In-process API fixtures: a real SQLite file, keys for every role, a small live catalog."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from modelref.api.app import create_app
from modelref.service.container import Services
from modelref.settings import Settings
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

    def state(self) -> tuple[Any, ...]:
        """Everything a refused call must leave alone."""
        changes = self.services.review.list_changes().model_dump(mode="json")
        return (changes, len(self.services.audit.events()), self.services.catalog.versions())


def make_api(tmp_path: Path, **settings: Any) -> Iterator[Api]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    services = Services.open(Settings(database_url=url, **settings), recover=True)
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    with TestClient(create_app(services)) as client:
        yield Api(client, services, keys)
    services.db.dispose()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    yield from make_api(tmp_path)


@pytest.fixture
def api_factory(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Build a deployment with other settings (e.g. ``canonical_format="legacy"``)."""
    made: list[Iterator[Api]] = []

    def build(**settings: Any) -> Api:
        it = make_api(tmp_path / f"d{len(made)}", **settings)
        made.append(it)
        return next(it)

    yield build
    for it in made:
        for _ in it:
            pass
