"""Text toolkit enqueuers: group common fields and name-schema exceptions (proposals only)."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Q2, V2, Api
from tests.factories import seed_catalog


def text_record(name: str, group: str, parameters: int = 7_000_000_000) -> dict[str, Any]:
    return {
        "record_type": "text_generation",
        "name": name,
        "parameters": parameters,
        "text_model_group": group,
        "config": {"download": []},
    }


def seed_group(api: Api) -> None:
    for name, group in [("Org/Foo-7B", "Foo"), ("Other/Foo-13B", "Foo"), ("Org/Bar-7B", "Bar")]:
        seed_catalog(api.services.db, "text_generation", text_record(name, group))


def test_group_update_proposes_one_change_per_member(api: Api) -> None:
    seed_group(api)
    r = api.client.put(
        f"{V2}/text_generation/group/common_fields",
        params={"group_name": "Foo"},
        json={"instruct_format": "ChatML", "nsfw": True},
        headers=api.h("requestor"),
    )
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["updated_count"] == 2 and len(body["pending_change_ids"]) == 2
    for cid in body["pending_change_ids"]:
        change = api.client.get(f"{Q2}/changes/{cid}", headers=api.h("reader")).json()
        assert change["operation"] == "update" and change["status"] == "pending"
        assert change["request_metadata"]["batch_id"] == body["batch_id"]
        diff = api.client.get(f"{Q2}/changes/{cid}/diff", headers=api.h("reader")).json()
        assert diff["fields_added"] == ["instruct_format"]
        assert diff["fields_modified"] == ["nsfw"]  # the default false becomes true
        assert diff["is_critical"] is True  # nsfw
    # Nothing is live until reviewed.
    live = api.client.get(f"{V2}/text_generation/model/Org/Foo-7B").json()
    assert "instruct_format" not in live


def test_group_update_refusals_write_nothing(api: Api) -> None:
    seed_group(api)
    before = api.state()
    url = f"{V2}/text_generation/group/common_fields"
    h = api.h("requestor")
    assert (
        api.client.put(
            url, params={"group_name": "Nope"}, json={"nsfw": True}, headers=h
        ).status_code
        == 404
    )
    bad = api.client.put(url, params={"group_name": "Foo"}, json={"parameters": -1}, headers=h)
    assert bad.status_code in (400, 422) and "parameters" in bad.text
    fixed = api.client.put(url, params={"group_name": "Foo"}, json={"name": "x"}, headers=h)
    assert fixed.status_code in (400, 422) and "name" in fixed.text
    assert (
        api.client.put(
            url, params={"group_name": "Foo"}, json={"nsfw": True}, headers=api.h("reader")
        ).status_code
        == 403
    )
    assert api.state() == before


def test_name_exception_proposes_an_update_with_notes(api: Api) -> None:
    seed_group(api)
    r = api.client.put(
        f"{V2}/text_generation/Org/Bar-7B/name_exception",
        json={"reason": "legacy upstream name"},
        headers=api.h("requestor"),
    )
    assert r.status_code == 202, r.text
    cid = r.json()["pending_change_id"]
    change = api.client.get(f"{Q2}/changes/{cid}", headers=api.h("reader")).json()
    assert change["payload"]["name_schema_exception"] == "legacy upstream name"
    assert "legacy upstream name" in change["notes"]
    missing = api.client.put(
        f"{V2}/text_generation/Org/Absent/name_exception",
        json={"reason": "x"},
        headers=api.h("requestor"),
    )
    assert missing.status_code == 404
