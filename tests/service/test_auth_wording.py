"""A refused role names what the caller has: local keys their role, AI Horde users the
allow-list (upstream's sentence, http-api.md §2) — trap 6."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.clock import system_clock
from modelref.domain.errors import PermissionDenied
from modelref.service.auth import Authenticator, HordeUsers, LocalKeys, Role
from modelref.settings import Settings
from modelref.store import migrate
from modelref.store.database import Database
from tests.api.servers import FakeHorde


@pytest.fixture
def horde() -> Iterator[FakeHorde]:
    fake = FakeHorde({"k-req": "rita#5"}).start()
    yield fake
    fake.stop()


def test_a_local_requestor_key_is_told_its_role(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db'}")
    migrate.upgrade(db)
    keys = LocalKeys(db, system_clock)
    key = keys.create("5", "rita#5", Role.requestor)
    with pytest.raises(PermissionDenied) as caught:
        Authenticator(keys).require(key, Role.approver)
    assert caught.value.message == "Your key has the requestor role; this needs the approver role."
    db.dispose()


def test_an_ai_horde_user_is_told_the_allow_list(horde: FakeHorde) -> None:
    settings = Settings(horde_url=horde.url, requestor_ids="5", database_url="sqlite:///x")
    auth = Authenticator(HordeUsers(settings))
    assert auth.require("k-req", Role.requestor).user_id == "5"
    with pytest.raises(PermissionDenied) as caught:
        auth.require("k-req", Role.approver)
    assert caught.value.message == "You are not on the pending queue approver list."
