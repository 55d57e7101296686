"""One error envelope on every route: ``{"detail": ..., "code": ...}``.

Every path of the OpenAPI document is called in a way that must fail (no key, unknown ids,
an unknown category, an empty body); the answer is a 4xx whose JSON body has exactly the keys
``detail`` and ``code``. A route that cannot fail that way must be named in ``ALWAYS_OK``, so a
new route is either covered or consciously listed.
"""

from __future__ import annotations

from typing import Any

import httpx2 as httpx  # what the TestClient answers with

from tests.api.conftest import Q2, V1, V2, Api

#: Routes with no key, no input and no failure mode: they answer 200 to anyone.
ALWAYS_OK = {
    ("GET", "/api/"),
    ("GET", "/api/heartbeat"),
    ("GET", "/api/health/ready"),
    ("GET", "/api/replicate_mode"),
    ("GET", f"{V2}/info"),
    ("GET", f"{V2}/model_categories"),
    ("GET", f"{V2}/metadata/last_updated"),
    ("GET", f"{V2}/metadata"),
    ("GET", f"{V2}/metadata/metadata"),
    ("GET", f"{V2}/catalog/changes"),  # since=0 is always a valid page
    ("GET", f"{V1}/"),
    ("GET", f"{V1}/info"),
    ("GET", f"{V1}/model_categories"),
    ("GET", f"{V1}/metadata/last_updated"),
    ("GET", f"{V1}/metadata"),
    ("GET", f"{V1}/metadata/metadata"),
}

FILL = {
    "{category}": "not_a_category",
    "{model_name}": "no-such-model",
    "{change_id}": "999999",
    "{batch_id}": "999999",
    "{group_name}": "no-such-group",
}


def _failing_call(api: Api, method: str, path: str) -> httpx.Response:
    url = path
    for placeholder, value in FILL.items():
        url = url.replace(placeholder, value)
    body: dict[str, Any] | None = {} if method in ("POST", "PUT") else None
    response: httpx.Response = api.client.request(method, url, json=body)
    return response


def _assert_envelope(response: httpx.Response, what: str) -> None:
    assert 400 <= response.status_code < 600, (what, response.status_code, response.text)
    body: Any = response.json()
    assert isinstance(body, dict), what
    assert set(body) == {"detail", "code"}, (what, body)
    assert isinstance(body["code"], str) and body["code"], what
    assert isinstance(body["detail"], str | list), what


def test_every_openapi_route_fails_with_the_one_envelope(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    seen_ok: set[tuple[str, str]] = set()
    for path, ops in doc["paths"].items():
        for method in ops:
            m = method.upper()
            response = _failing_call(api, m, path)
            if response.status_code < 400:
                seen_ok.add((m, path))
                continue
            _assert_envelope(response, f"{m} {path}")
    assert seen_ok == {(m, p) for m, p in ALWAYS_OK if p in doc["paths"]}


def test_errors_outside_the_routes_share_the_envelope(api: Api) -> None:
    cases = [
        api.client.get("/api/no/such/route"),
        api.client.delete(f"{V2}/info"),  # method not allowed
        api.client.get(f"{V2}/not_a_category"),  # fast-path read of an unknown category
        api.client.get(f"{V2}/miscellaneous/model/none-such"),
        api.client.post(
            f"{V2}/miscellaneous",
            content=b"{not json",
            headers={**api.h("requestor"), "content-type": "application/json"},
        ),
        api.client.post(
            f"{Q2}/apply",
            content=b"x" * (3 * 1024 * 1024),
            headers={**api.h("approver"), "content-type": "application/json"},
        ),
    ]
    for response in cases:
        _assert_envelope(response, str(response.request.url))


def test_a_failed_bulk_apply_keeps_upstreams_fields_and_adds_the_envelope(api: Api) -> None:
    first = api.propose("bulk-a")
    api.approve([first])
    second = api.propose("bulk-a-again")  # pending: cannot be applied
    r = api.client.post(
        f"{Q2}/apply",
        json={"change_ids": [first, second], "allow_mixed_batch": True},
        headers=api.h("approver2"),
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["applied"] == [] and body["failed_change_id"] == second
    assert body["failed_error_type"] == "PendingChangeStateError"
    assert body["code"] == "invalid_transition"
    assert (
        body["detail"]
        == body["failed_error"]
        == f"Change {second} is not approved (status=pending)."
    )
