"""The reviewer UI applies the same input policy as the API: clear error pages, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from modelref.api.app import create_app
from modelref.service.container import Services
from modelref.settings import Settings
from tests.factories import misc_payload
from tests.web.ui_client import PEOPLE, UI


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Services, dict[str, str]]]:
    services = Services.open(Settings(database_url=f"sqlite:///{tmp_path / 'ui.db'}"))
    keys = {who: services.keys.create(uid, name, role) for who, (uid, name, role) in PEOPLE.items()}
    yield services, keys
    services.db.dispose()


def signed_in(deployment: tuple[Services, dict[str, str]], who: str) -> UI:
    services, keys = deployment
    ui = UI(TestClient(create_app(services)))
    ui.sign_in(keys[who])
    return ui


def test_out_of_range_ids_in_addresses_are_not_found(
    deployment: tuple[Services, dict[str, str]],
) -> None:
    ui = signed_in(deployment, "bob")
    for url in (
        "/ui/changes/9223372036854775808",
        "/ui/changes/99999999999999999999999",
        "/ui/batches/9223372036854775808",
    ):
        reply = ui.get(url)
        assert reply.status_code == 404, (url, reply.status_code)
    assert ui.get("/ui/queue?page=99999999999999999999").status_code == 200
    assert ui.get("/ui/history?before=99999999999999999999").status_code == 422


def test_a_payload_nested_ten_thousand_deep_is_an_inline_error(
    deployment: tuple[Services, dict[str, str]],
) -> None:
    ui = signed_in(deployment, "alice")
    ui.get("/ui/propose/miscellaneous")
    deep = "[" * 10_000 + "]" * 10_000
    reply = ui.post(
        "/ui/propose/miscellaneous",
        {"model_name": "deep", "payload": '{"name": "deep", "x": ' + deep + "}", "notes": ""},
    )
    assert reply.status_code == 200
    assert "nests deeper than 32 levels" in reply.text
    services, _keys = deployment
    assert services.review.list_changes().total == 0


def test_nul_bytes_and_long_notes_from_forms_are_refused(
    deployment: tuple[Services, dict[str, str]],
) -> None:
    services, _keys = deployment
    ui = signed_in(deployment, "alice")
    ui.get("/ui/propose/miscellaneous")
    payload = '{"name": "noted", "description": "d"}'
    reply = ui.post(
        "/ui/propose/miscellaneous",
        {"model_name": "noted", "payload": payload, "notes": "n" * 100_000},
    )
    assert "notes: at most 2000 characters" in reply.text
    assert services.review.list_changes().total == 0

    change = services.review.enqueue_change(
        category="miscellaneous",
        model_name="to-review",
        operation="create",
        payload=misc_payload("to-review"),
        requestor_id=PEOPLE["alice"][0],
        requestor_username=PEOPLE["alice"][1],
    )
    bob = signed_in(deployment, "bob")
    bob.get(f"/ui/changes/{change.change_id}")
    reply = bob.post(
        f"/ui/changes/{change.change_id}/review",
        {"change_ids": str(change.change_id), "decision": "approve", "batch_title": "a\x00b"},
    )
    assert reply.status_code == 200 and "must not contain NUL characters" in reply.text
    bob.get(f"/ui/changes/{change.change_id}")
    reply = bob.post(
        f"/ui/changes/{change.change_id}/review",
        {
            "change_ids": str(change.change_id),
            "decision": "reject",
            "batch_title": "no",
            "reject_reason": "bad\x00",
        },
    )
    assert "must not contain NUL characters" in reply.text
    assert services.review.get_change(change.change_id).status.value == "pending"
    reply = bob.get("/ui/queue?model=%00")
    assert reply.status_code == 422 and "NUL" in reply.text
