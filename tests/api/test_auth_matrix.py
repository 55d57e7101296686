"""Every endpoint x {no key, unknown key, reader, requestor, approver}.

Refused calls answer 401 (missing or unknown key) or 403 (valid key, role missing) and change
nothing: the queue listing, the audit event count and the catalog versions are compared
before and after each refused call. The call by the least-privileged allowed role then answers
its documented status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.conftest import Q1, Q2, V1, V2, Api
from tests.factories import misc_payload, seed_catalog

RANK = {"reader": 0, "requestor": 1, "approver": 2}


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    role: str | None  # None: public
    ok: int
    json: Any = None
    params: Any = None

    def call(self, api: Api, headers: dict[str, str]) -> Any:
        return api.client.request(
            self.method, self.path, json=self.json, params=self.params, headers=headers
        )


def _queue(q: str) -> list[Endpoint]:
    return [
        Endpoint("GET", f"{q}/changes", "reader", 200),
        Endpoint("GET", f"{q}/changes/1", "reader", 200),
        Endpoint("GET", f"{q}/changes/1/diff", "reader", 200),
        Endpoint("GET", f"{q}/diffs", "reader", 200, params={"change_ids": [1, 2]}),
        Endpoint("GET", f"{q}/my_changes", "requestor", 200),
        Endpoint("POST", f"{q}/changes/1/withdraw", "requestor", 200),
        Endpoint(
            "POST", f"{q}/batches", "approver", 200, json={"batch_title": "t", "approved_ids": [1]}
        ),
        Endpoint("POST", f"{q}/purge", "approver", 200, json={"statuses": ["pending"]}),
        Endpoint("POST", f"{q}/changes/2/apply", "approver", 200, json={}),
        Endpoint("POST", f"{q}/apply", "approver", 200, json={"change_ids": [2]}),
        Endpoint("POST", f"{q}/apply_batch/1", "approver", 200),
        Endpoint("GET", f"{q}/audit/current", "reader", 200),
        Endpoint("GET", f"{q}/audit/batches", "reader", 200),
        Endpoint("GET", f"{q}/audit/batches/1", "reader", 200),
        Endpoint("GET", f"{q}/audit/batches/1/net_changes", "reader", 200),
        Endpoint("GET", f"{q}/audit/verify", "reader", 200),
        Endpoint("GET", f"{q}/audit/events", "reader", 200, params={"change_id": 1}),
        Endpoint("GET", f"{q}/stats", "reader", 200),
        # Nothing is applied in the set-up: the state error (400) shows the role passed.
        Endpoint("POST", f"{q}/batches/1/revert", "requestor", 400),
        Endpoint("POST", f"{q}/changes/2/revert", "requestor", 400),
    ]


ENDPOINTS = [
    *_queue(Q2),
    *_queue(Q1),
    # review checks (v2 only)
    Endpoint("GET", f"{Q2}/changes/1/checks", "reader", 200),
    Endpoint("POST", f"{Q2}/changes/1/checks/rerun", "approver", 202),
    Endpoint("GET", f"{V2}/miscellaneous/pending", "reader", 200),
    Endpoint("GET", f"{V2}/me/roles", "reader", 200),
    Endpoint("POST", f"{V2}/miscellaneous", "requestor", 202, json=misc_payload("brand_new")),
    Endpoint("POST", f"{V2}/miscellaneous/add", "requestor", 202, json=misc_payload("brand_new")),
    Endpoint(
        "PUT",
        f"{V2}/miscellaneous/model/existing",
        "requestor",
        202,
        json=misc_payload("existing", "v2"),
    ),
    Endpoint("DELETE", f"{V2}/miscellaneous/model/existing", "requestor", 202),
    Endpoint(
        "PUT",
        f"{V2}/text_generation/group/common_fields",
        "requestor",
        202,
        params={"group_name": "Foo"},
        json={"nsfw": True},
    ),
    Endpoint(
        "PUT",
        f"{V2}/text_generation/Org/Foo-7B/name_exception",
        "requestor",
        202,
        json={"reason": "kept for compatibility"},
    ),
    Endpoint("GET", "/api/heartbeat", None, 200),
    Endpoint("GET", "/api/replicate_mode", None, 200),
    Endpoint("GET", "/api/", None, 200),
    Endpoint("GET", f"{V2}/info", None, 200),
    Endpoint("GET", f"{V2}/model_categories", None, 200),
    Endpoint("GET", f"{V2}/miscellaneous", None, 200),
    Endpoint("GET", f"{V2}/miscellaneous/model/existing", None, 200),
    Endpoint("GET", f"{V2}/metadata/miscellaneous", None, 200),
    Endpoint("GET", f"{V2}/metadata/last_updated", None, 200),
    Endpoint("GET", f"{V1}/miscellaneous", None, 200),
    Endpoint("GET", f"{V1}/metadata/metadata", None, 200),
    Endpoint("GET", f"{V2}/catalog/changes", None, 200),
    Endpoint("GET", f"{V2}/webhooks", "approver", 200),
    Endpoint(
        "POST",
        f"{V2}/webhooks",
        "approver",
        201,
        json={"url": "https://hooks.example.org/modelref", "events": ["apply"]},
    ),
    Endpoint("DELETE", f"{V2}/webhooks/1", "approver", 404),  # authorized; none exists
    Endpoint("GET", f"{V2}/webhooks/failures", "approver", 200),
    Endpoint("POST", f"{V2}/webhooks/failures/1/replay", "approver", 404),
]

DESIGNATED = {"reader": "reader", "requestor": "requestor", "approver": "approver"}


def _setup(api: Api) -> None:
    """Change 1: pending create by alice. Change 2: update by alice, approved by carol (batch 1)."""
    api.seed("existing")
    seed_catalog(
        api.services.db,
        "text_generation",
        {
            "record_type": "text_generation",
            "name": "Org/Foo-7B",
            "parameters": 7_000_000_000,
            "text_model_group": "Foo",
            "config": {"download": []},
        },
    )
    assert api.propose("new_a") == 1
    r = api.client.put(
        f"{V2}/miscellaneous/model/existing",
        json=misc_payload("existing", "proposed"),
        headers=api.h("requestor"),
    )
    assert r.json()["change_id"] == 2
    assert api.approve([2], who="approver2") == 1


@pytest.mark.parametrize("ep", ENDPOINTS, ids=lambda e: f"{e.method} {e.path}")
def test_auth_matrix(api: Api, ep: Endpoint) -> None:
    _setup(api)
    callers: list[tuple[str, dict[str, str]]] = [
        ("no key", {}),
        ("unknown key", {"apikey": "mr_not_a_real_key"}),
        *((who, api.h(who)) for who in ("reader", "requestor", "approver")),
    ]
    for who, headers in callers:
        if ep.role is None:
            assert ep.call(api, headers).status_code == ep.ok, who
            continue
        refused = who in ("no key", "unknown key") or RANK[who] < RANK[ep.role]
        if not refused:
            continue
        before = api.state()
        r = ep.call(api, headers)
        expected = 401 if who in ("no key", "unknown key") else 403
        assert r.status_code == expected, (who, r.text)
        detail = r.json()["detail"]
        if who == "no key":
            assert detail == "Not authenticated"
        elif who == "unknown key":
            assert detail == "Invalid API key"
        else:
            assert detail == f"Your key has the {who} role; this needs the {ep.role} role."
        assert api.state() == before, f"{who} changed state"
    if ep.role is not None:
        r = ep.call(api, api.h(DESIGNATED[ep.role]))
        assert r.status_code == ep.ok, r.text


def test_every_authenticated_route_is_in_the_matrix(api: Api) -> None:
    """A new route that needs a key must be added to ENDPOINTS."""
    doc = api.client.get("/openapi.json").json()
    secured = {
        (method.upper(), path)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if op.get("security")
    }
    covered = set()
    for ep in ENDPOINTS:
        for path, ops in doc["paths"].items():
            pattern = path.replace("{change_id}", "1").replace("{batch_id}", "1")
            pattern = pattern.replace("{category}", "miscellaneous").replace(
                "{model_name}", "existing"
            )
            if pattern == re.sub(r"/\d+(?=/|$)", "/1", ep.path) and ep.method.lower() in ops:
                covered.add((ep.method, path))
    typed_writes = {
        (m, p)
        for m, p in secured - covered
        if p.startswith(f"{V2}/") and "pending_queue" not in p and "/me/" not in p
    }
    # The per-category POST/PUT routes share one handler; miscellaneous stands for all of them.
    assert secured - covered - typed_writes == set()
