"""v2 write routes: 202 + PendingChangeRecord, check order, W16/W17 fixes, error statuses."""

from __future__ import annotations

from collections.abc import Iterator

from tests.api.conftest import Q2, V2, Api
from tests.factories import misc_payload

TEXT = {
    "name": "Org/Llama-3-8B-Instruct",
    "parameters": 8_000_000_000,
    "baseline": "llama3",
    "config": {"download": []},
}


def test_create_answers_202_with_the_record_without_nulls(api: Api) -> None:
    r = api.client.post(f"{V2}/miscellaneous", json=misc_payload("m1"), headers=api.h("requestor"))
    assert r.status_code == 202
    body = r.json()
    assert body["change_id"] == 1 and body["status"] == "pending" and body["operation"] == "create"
    assert body["requested_by"] == "1001" and body["requested_username"] == "alice#1001"
    assert body["request_metadata"] == {"route": "create_v2_miscellaneous"}
    assert body["payload"]["record_type"] == "miscellaneous"
    assert None not in body.values() and "batch_id" not in body
    listed = api.client.get(f"{Q2}/changes/1", headers=api.h("reader")).json()
    assert listed["batch_id"] is None  # nulls present on reads (spec §12)


def test_text_create_fills_group_and_variants_and_applies(api: Api) -> None:
    r = api.client.post(f"{V2}/text_generation", json=TEXT, headers=api.h("requestor"))
    assert r.status_code == 202, r.text
    change = r.json()
    assert change["payload"]["text_model_group"] == "Llama-3"
    assert change["payload"]["parameters"] == 8_000_000_000  # never parameters_count (W15)
    assert change["related_models"] == [
        "aphrodite/Org/Llama-3-8B-Instruct",
        "koboldcpp/Llama-3-8B-Instruct",
    ]
    api.approve([change["change_id"]])
    api.apply(change["change_id"])
    live = api.client.get(f"{V2}/text_generation/model/Org/Llama-3-8B-Instruct")
    assert live.status_code == 200 and live.json()["parameters"] == 8_000_000_000


def test_text_backend_prefix_is_400(api: Api) -> None:
    body = TEXT | {"name": "koboldcpp/Llama-3-8B"}
    r = api.client.post(f"{V2}/text_generation", json=body, headers=api.h("requestor"))
    assert r.status_code == 400
    assert "backend prefix" in r.json()["detail"]


def test_record_type_must_match_the_url_category(api: Api) -> None:
    body = misc_payload("m1") | {"record_type": "controlnet"}
    typed = api.client.post(f"{V2}/miscellaneous", json=body, headers=api.h("requestor"))
    assert typed.status_code == 422
    add = api.client.post(f"{V2}/clip/add", json=body, headers=api.h("requestor"))
    assert add.status_code == 422  # W16: the URL decides, a mismatching record_type is refused
    ok = api.client.post(
        f"{V2}/clip/add", json=misc_payload("c1"), headers=api.h("requestor")
    ).json()
    assert ok["payload"]["record_type"] == "clip"
    assert ok["request_metadata"] == {"route": "create_v2_model"}


def test_put_name_mismatch_is_400_before_auth(api: Api) -> None:
    api.seed("live")
    url = f"{V2}/miscellaneous/model/live"
    r = api.client.put(url, json=misc_payload("other"))  # no key at all
    assert r.status_code == 401  # header presence comes first
    r = api.client.put(url, json=misc_payload("other"), headers={"apikey": "wrong"})
    assert r.status_code == 400
    assert (
        r.json()["detail"] == "Model name in the path must match the payload when queuing updates."
    )
    bad_body = api.client.put(url, json={"description": 5}, headers={"apikey": "wrong"})
    assert bad_body.status_code == 422  # validation before the key lookup


def test_update_delete_and_existence_checks(api: Api) -> None:
    api.seed("live")
    h = api.h("requestor")
    upd = api.client.put(
        f"{V2}/miscellaneous/model/live", json=misc_payload("live", "new"), headers=h
    )
    assert (
        upd.status_code == 202
        and upd.json()["request_metadata"]["route"] == "update_v2_miscellaneous"
    )
    dup = api.client.post(f"{V2}/miscellaneous", json=misc_payload("live"), headers=h)
    assert dup.status_code == 409
    assert dup.json()["detail"].startswith("Model 'live' already exists")
    missing = api.client.put(
        f"{V2}/miscellaneous/model/ghost", json=misc_payload("ghost"), headers=h
    )
    assert missing.status_code == 404
    gone = api.client.delete(f"{V2}/miscellaneous/model/live", headers=h)
    assert gone.status_code == 202
    assert gone.json()["payload"]["name"] == "live"  # snapshot of the live record
    assert api.client.delete(f"{V2}/miscellaneous/model/ghost", headers=h).status_code == 404


def test_slash_names_on_put_and_delete(api: Api) -> None:
    from tests.factories import seed_catalog

    seed_catalog(api.services.db, "text_generation", TEXT | {"record_type": "text_generation"})
    h = api.h("requestor")
    for path in ("Org/Llama-3-8B-Instruct", "Org%2FLlama-3-8B-Instruct"):
        r = api.client.put(f"{V2}/text_generation/model/{path}", json=TEXT, headers=h)
        assert r.status_code == 202, (path, r.text)
        d = api.client.delete(f"{V2}/text_generation/model/{path}", headers=h)
        assert d.status_code == 202 and d.json()["model_name"] == "Org/Llama-3-8B-Instruct"


def test_invalid_names_and_bodies(api: Api) -> None:
    h = api.h("requestor")
    assert api.client.post(f"{V2}/miscellaneous", json={"name": "  "}, headers=h).status_code == 422
    assert (
        api.client.post(f"{V2}/miscellaneous", json={"name": "a\\b"}, headers=h).status_code == 422
    )
    assert (
        api.client.post(f"{V2}/miscellaneous", json={"name": "a\x00b"}, headers=h).status_code
        == 422
    )
    assert api.client.post(f"{V2}/unknown_cat", json={"name": "x"}, headers=h).status_code == 422
    lone = b'{"name": "x\\ud800y"}'
    r = api.client.post(
        f"{V2}/miscellaneous", content=lone, headers=h | {"content-type": "application/json"}
    )
    assert r.status_code == 422
    broken = api.client.post(
        f"{V2}/miscellaneous", content=b"{nope", headers=h | {"content-type": "application/json"}
    )
    assert broken.status_code in (400, 422)


def test_an_escaped_backslash_before_u_is_text_not_a_surrogate(api: Api) -> None:
    """``"\\\\ud800"`` in JSON is a backslash and the letters ``ud800``: a Windows path in a
    description must not be refused as a lone surrogate (it was, before the escape was counted);
    a real lone surrogate after an escaped backslash still is."""
    h = api.h("requestor") | {"content-type": "application/json"}
    path = b'{"name": "winpath", "description": "C:\\\\ud800\\\\dcff x"}'
    r = api.client.post(f"{V2}/miscellaneous", content=path, headers=h)
    assert r.status_code == 202, r.text
    assert r.json()["payload"]["description"] == "C:\\ud800\\dcff x"
    odd = b'{"name": "winpath2", "description": "C:\\\\\\ud800 x"}'
    refused = api.client.post(f"{V2}/miscellaneous", content=odd, headers=h)
    assert refused.status_code == 422
    assert api.services.review.list_changes().total == 1


def test_body_size_limit_is_413(api: Api) -> None:
    big = misc_payload("big", "x" * (3 * 1024 * 1024))
    r = api.client.post(f"{V2}/miscellaneous", json=big, headers=api.h("requestor"))
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "chunked", "description": "'
        for _ in range(300):
            yield b"y" * 10_000
        yield b'"}'

    r = api.client.post(
        f"{V2}/miscellaneous",
        content=chunks(),
        headers=api.h("requestor") | {"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert api.services.review.list_changes().total == 0


def test_a_large_body_from_an_unknown_key_is_refused_before_it_is_parsed(api: Api) -> None:
    """Over 64 KiB, the key is checked first (parsing megabytes would hold the event loop);
    below it, upstream's order stays: a malformed body with a wrong key is 422."""
    broken = b'{"name": "x", "config": {"x": [' + b"1.5," * 40_000 + b"oops"
    stranger = {"apikey": "no-such-key", "content-type": "application/json"}
    r = api.client.post(f"{V2}/miscellaneous", content=broken, headers=stranger)
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed", r.text
    assert r.headers["www-authenticate"] == "APIKey"

    def chunks() -> Iterator[bytes]:  # no Content-Length: checked once 64 KiB have arrived
        for start in range(0, len(broken), 8192):
            yield broken[start : start + 8192]

    r = api.client.post(f"{V2}/miscellaneous", content=chunks(), headers=stranger)
    assert r.status_code == 401
    anonymous = api.client.post(
        f"{Q2}/apply", content=broken, headers={"content-type": "application/json"}
    )
    assert anonymous.status_code == 401
    # A known key gets the same body parsed, and the parser's answer.
    known = api.h("requestor") | {"content-type": "application/json"}
    assert api.client.post(f"{V2}/miscellaneous", content=broken, headers=known).status_code in (
        400,
        422,
    )
    small = b'{"name": "x", "config": oops'
    r = api.client.post(f"{V2}/miscellaneous", content=small, headers=stranger)
    assert r.status_code in (400, 422)
    assert api.services.review.list_changes().total == 0


def test_notes_for_reviewers_are_kept(api: Api) -> None:
    r = api.client.post(
        f"{V2}/miscellaneous",
        json=misc_payload("noted"),
        params={"notes": "  mirrors the upstream file  "},
        headers=api.h("requestor"),
    )
    assert r.status_code == 202 and r.json()["notes"] == "mirrors the upstream file"
    too_long = api.client.post(
        f"{V2}/miscellaneous",
        json=misc_payload("noted2"),
        params={"notes": "x" * 2001},
        headers=api.h("requestor"),
    )
    assert too_long.status_code == 422
