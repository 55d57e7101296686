"""The feed and webhook routes over HTTP: shapes, ETags, errors naming the field, roles."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from modelref.domain.categories import Category
from tests.api.conftest import V2, Api
from tests.catalog.helpers import IMPORTER, misc_record
from tests.contract.test_catalog_feed import write_reference
from tests.receiver import receiving

CATALOG = f"{V2}/catalog"


def imported(api: Api, tmp_path: Path) -> None:
    ref = write_reference(tmp_path / "ref", {"miscellaneous.json": {"m1": misc_record("m1")}})
    api.services.files.import_path(ref, IMPORTER)


def test_versions_and_changes_with_etags(api: Api, tmp_path: Path) -> None:
    assert api.client.get(f"{CATALOG}/versions/latest").status_code == 404
    imported(api, tmp_path)
    cid = api.propose("fresh")
    api.approve([cid], title="fresh batch")
    api.apply(cid)
    r = api.client.get(f"{CATALOG}/versions/latest")
    assert r.status_code == 200
    manifest = r.json()
    assert manifest["version"] == 2 and manifest["change_ids"] == [cid]
    assert manifest["title"] == "fresh batch" and manifest["source"] == "apply"
    assert set(manifest["categories"]) == {"miscellaneous"}
    assert api.client.get(f"{CATALOG}/versions/1").json()["source"] == "import"
    again = api.client.get(f"{CATALOG}/versions/2", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    page = api.client.get(f"{CATALOG}/changes", params={"since": 0, "limit": 1})
    body = page.json()
    assert (body["version"], body["next"], body["latest"]) == (1, 1, 2)
    assert body["changes"][0]["operation"] == "import"
    rest = api.client.get(f"{CATALOG}/changes", params={"since": 1}).json()
    assert rest["next"] is None
    assert rest["changes"] == [
        {
            "version": 2,
            "category": "miscellaneous",
            "model": "fresh",
            "operation": "create",
            "after": api.services.catalog.record(Category.miscellaneous, "fresh"),
        }
    ]
    tag = page.headers["etag"]
    same = api.client.get(
        f"{CATALOG}/changes", params={"since": 0, "limit": 1}, headers={"If-None-Match": tag}
    )
    assert same.status_code == 304
    zipped = api.client.get(f"{CATALOG}/changes", headers={"Accept-Encoding": "gzip"})
    assert json.loads(zipped.content)["version"] == 2  # httpx inflates it


def test_bad_feed_requests_are_422_or_404(api: Api) -> None:
    for params, status, field in (
        ({"since": -1}, 422, "since"),
        ({"limit": 0}, 422, "limit"),
        ({"limit": 1001}, 422, "limit"),
        ({"since": 5}, 404, None),
    ):
        r = api.client.get(f"{CATALOG}/changes", params=params)
        assert r.status_code == status, (params, r.text)
        assert set(r.json()) == {"detail", "code"}
        if field:
            assert field in json.dumps(r.json()["detail"])
    assert api.client.get(f"{CATALOG}/versions/0").status_code == 422
    assert api.client.get(f"{CATALOG}/versions/7").json()["code"] == "not_found"


def test_webhook_routes_for_approvers(api: Api) -> None:
    h = api.h("approver")
    r = api.client.post(f"{V2}/webhooks", json={"url": "https://hooks.example.org/x"}, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["events"] == ["enqueue", "approve", "apply"] and created["format"] == "json"
    assert len(created["secret"]) >= 32  # generated, shown this once
    listed = api.client.get(f"{V2}/webhooks", headers=h).json()
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]
    given = {"url": "https://hooks.example.org/y", "secret": "s" * 20, "events": ["reject"]}
    assert api.client.post(f"{V2}/webhooks", json=given, headers=h).json()["secret"] is None
    for body, needle in (
        ({"url": "https://h.example.org", "events": ["explode"]}, "events"),
        ({"url": "http://192.168.1.20/hook"}, "url: 192.168.1.20 is a private address"),
        ({"url": "https://h.example.org", "secret": "short"}, "secret"),
        ({"url": "https://h.example.org", "format": "xml"}, "format"),
    ):
        r = api.client.post(f"{V2}/webhooks", json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert needle in json.dumps(r.json()["detail"]), r.text
    sub = created["subscription_id"]
    assert api.client.delete(f"{V2}/webhooks/{sub}", headers=h).json()["deleted"] is True
    assert api.client.delete(f"{V2}/webhooks/{sub}", headers=h).status_code == 404
    assert len(api.client.get(f"{V2}/webhooks", headers=h).json()) == 1
    r = api.client.get(f"{V2}/webhooks", headers=api.h("requestor"))
    assert r.status_code == 403


def wait_for(check: Callable[[], Any], within: float = 15.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_failed_deliveries_are_listed_and_replayed_over_http(
    api_factory: Callable[..., Api],
) -> None:
    api = api_factory(check_allow_hosts="127.0.0.1", webhook_max_attempts=1)
    h = api.h("approver")
    with receiving(default=500) as receiver:
        body = {"url": receiver.url(), "events": ["enqueue"], "secret": "s" * 20}
        assert api.client.post(f"{V2}/webhooks", json=body, headers=h).status_code == 201
        cid = api.propose("watched")
        # The serving process's own outbox worker delivers (the app's lifespan started it).
        (dead,) = wait_for(lambda: api.client.get(f"{V2}/webhooks/failures", headers=h).json())
        assert dead["change_id"] == cid and dead["event"] == "enqueue"
        assert dead["attempts"] == 1 and "HTTP 500" in dead["last_error"]
        receiver.default = 200
        r = api.client.post(f"{V2}/webhooks/failures/{dead['job_id']}/replay", headers=h)
        assert r.status_code == 200 and r.json()["state"] == "pending"
        wait_for(receiver.accepted)
        assert api.client.get(f"{V2}/webhooks/failures", headers=h).json() == []
        again = api.client.post(f"{V2}/webhooks/failures/{dead['job_id']}/replay", headers=h)
        assert again.status_code == 404
