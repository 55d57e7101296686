"""``MODELREF_CANONICAL_FORMAT=legacy``: v1 writes enqueue legacy payloads, v2 writes are 503."""

from __future__ import annotations

from collections.abc import Callable

from tests.api.conftest import Q2, V1, V2, Api
from tests.factories import misc_payload

LEGACY_MISC = {
    "name": "layer_thing",
    "type": "layer_diffuse",
    "description": "a legacy entry",
    "config": {
        "files": [{"path": "layer_thing.safetensors", "sha256sum": "0" * 64}],
        "download": [
            {
                "file_name": "layer_thing.safetensors",
                "file_path": "",
                "file_url": "https://example.invalid/layer_thing.safetensors",
            }
        ],
    },
}


def test_v2_deployment_has_no_v1_writes(api: Api) -> None:
    r = api.client.post(f"{V1}/miscellaneous", json=LEGACY_MISC, headers=api.h("requestor"))
    assert r.status_code == 405
    assert api.client.get("/api/replicate_mode").json()["canonical_format"] == "v2"


def test_legacy_mode_routes(api_factory: Callable[..., Api]) -> None:
    api = api_factory(canonical_format="legacy")
    assert api.client.get("/api/replicate_mode").json()["canonical_format"] == "legacy"
    h = api.h("requestor")
    v2 = api.client.post(f"{V2}/miscellaneous", json=misc_payload("m"), headers=h)
    assert v2.status_code == 503
    assert "Expected canonical_format='v2', got 'legacy'" in v2.json()["detail"]
    no_legacy_form = api.client.post(
        f"{V2}/video_generation", json={"name": "vid", "config": {"download": []}}, headers=h
    )
    assert no_legacy_form.status_code == 202  # categories without a legacy form stay writable
    assert api.client.post(f"{V1}/miscellaneous", json=LEGACY_MISC).status_code == 401
    r = api.client.post(f"{V1}/miscellaneous", json=LEGACY_MISC, headers=h)
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["request_metadata"] == {
        "route": "create_legacy_miscellaneous_model",
        "payload_format": "legacy",
    }
    assert change["payload"]["type"] == "layer_diffuse"
    assert (
        api.client.post(
            f"{V1}/miscellaneous", json=LEGACY_MISC, headers=api.h("reader")
        ).status_code
        == 403
    )
    bad = api.client.post(f"{V1}/lora", json={"name": "x"}, headers=h)
    assert bad.status_code == 422
    prefixed = api.client.post(
        f"{V1}/db.json", json={"name": "aphrodite/Org/M", "parameters": 7}, headers=h
    )
    assert prefixed.status_code == 400


def test_legacy_mode_update_delete_and_apply(api_factory: Callable[..., Api]) -> None:
    api = api_factory(canonical_format="legacy")
    h = api.h("requestor")
    created = api.client.post(f"{V1}/miscellaneous", json=LEGACY_MISC, headers=h).json()[
        "change_id"
    ]
    api.approve([created])
    applied = api.client.post(f"{Q2}/changes/{created}/apply", json={}, headers=api.h("approver"))
    assert applied.status_code == 200, applied.text
    live = api.client.get(f"{V1}/miscellaneous").json()
    assert live["layer_thing"]["description"] == "a legacy entry"
    assert api.client.get(f"{V2}/miscellaneous/model/layer_thing").json()["name"] == "layer_thing"
    upd = api.client.put(
        f"{V1}/miscellaneous", json=LEGACY_MISC | {"description": "changed"}, headers=h
    )
    assert (
        upd.status_code == 202
        and upd.json()["request_metadata"]["route"] == "update_legacy_miscellaneous_model"
    )
    dele = api.client.delete(f"{V1}/miscellaneous/model/layer_thing", headers=h)
    assert (
        dele.status_code == 202
        and dele.json()["request_metadata"]["route"] == "delete_legacy_model"
    )
    missing = api.client.delete(f"{V1}/miscellaneous/model/ghost", headers=h)
    assert missing.status_code == 404
