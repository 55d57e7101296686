"""Review checks over HTTP: the checks route, the diff's summary, re-runs, and old clients.

The deployment's own outbox worker (started by the ASGI lifespan, as in ``modelref serve``)
runs the checks against a local file server; the test polls the API like a reviewer's client.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.api.conftest import Q2, V2, Api
from tests.checks.fileserver import Files, Server, generated, serving

BLOB = generated(1024 * 1024, seed=7)
SHA = hashlib.sha256(BLOB).hexdigest()


@pytest.fixture
def files() -> Iterator[Server]:
    with serving(Files(blobs={"m.safetensors": BLOB})) as server:
        yield server


@pytest.fixture
def checked_api(api_factory: Callable[..., Api]) -> Api:
    return api_factory(check_allow_hosts="127.0.0.1", check_attempts=1)


def propose(api: Api, name: str, url: str, sha: str = SHA) -> int:
    body = {
        "name": name,
        "config": {"download": [{"file_name": "m.safetensors", "file_url": url, "sha256sum": sha}]},
    }
    r = api.client.post(f"{V2}/miscellaneous", json=body, headers=api.h("requestor"))
    assert r.status_code == 202, r.text
    return int(r.json()["change_id"])


def settled(api: Api, change_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """Poll the checks route until they are done or unchecked (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        r = api.client.get(f"{Q2}/changes/{change_id}/checks", headers=api.h("reader"))
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["state"] in ("done", "unchecked"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.05)


def test_the_checks_route_answers_the_documented_shape(checked_api: Api, files: Server) -> None:
    change_id = propose(checked_api, "good", files.url("/files/m.safetensors"))
    body = settled(checked_api, change_id)
    assert body["change_id"] == change_id and body["state"] == "done"
    for item in body["findings"]:
        assert set(item) == {"check", "severity", "field", "message"}
        assert item["severity"] in ("error", "warning", "info")
    assert {(f["check"], f["severity"]) for f in body["findings"]} == {
        ("url", "info"),
        ("sha256", "info"),
    }


def test_the_diff_carries_a_summary_and_keeps_upstream_fields(
    checked_api: Api, files: Server
) -> None:
    bad = propose(checked_api, "bad", files.url("/files/m.safetensors"), "0f" * 32)
    settled(checked_api, bad)
    r = checked_api.client.get(f"{Q2}/changes/{bad}/diff", headers=checked_api.h("reader"))
    diff = r.json()
    assert diff["checks"] == {"state": "done", "errors": 1, "warnings": 0, "infos": 1}
    for upstream in ("change_id", "net_operation", "field_diffs", "is_critical", "current_state"):
        assert upstream in diff
    page = checked_api.client.get(
        f"{Q2}/diffs", params={"change_ids": [bad]}, headers=checked_api.h("reader")
    ).json()
    assert page["diffs"][0]["checks"]["errors"] == 1


def test_error_findings_do_not_block_the_default_approval(checked_api: Api, files: Server) -> None:
    bad = propose(checked_api, "bad", files.url("/missing"))
    assert settled(checked_api, bad)["state"] == "done"
    batch = checked_api.client.post(
        f"{Q2}/batches",
        json={"batch_title": "old client", "approved_ids": [bad]},
        headers=checked_api.h("approver"),
    )
    assert batch.status_code == 200 and batch.json()["approved"][0]["change_id"] == bad


def test_a_rerun_checks_again_and_is_for_approvers(checked_api: Api, files: Server) -> None:
    files.files.blobs["m.safetensors"] = b"an older, different file"
    change_id = propose(checked_api, "moving", files.url("/files/m.safetensors"))
    first = settled(checked_api, change_id)
    assert any(f["check"] == "sha256" and f["severity"] == "error" for f in first["findings"])
    files.files.blobs["m.safetensors"] = BLOB  # fixed upstream
    path = f"{Q2}/changes/{change_id}/checks/rerun"
    assert checked_api.client.post(path, headers=checked_api.h("requestor")).status_code == 403
    r = checked_api.client.post(path, headers=checked_api.h("approver"))
    assert r.status_code == 202 and r.json()["state"] in ("pending", "running", "done")
    again = settled(checked_api, change_id)
    assert not any(f["severity"] == "error" for f in again["findings"])


def test_unknown_and_closed_changes(checked_api: Api, files: Server) -> None:
    r = checked_api.client.get(f"{Q2}/changes/999/checks", headers=checked_api.h("reader"))
    assert r.status_code == 404 and r.json() == {"detail": "Change not found", "code": "not_found"}
    change_id = propose(checked_api, "withdrawn", files.url("/files/m.safetensors"))
    checked_api.client.post(
        f"{Q2}/changes/{change_id}/withdraw", headers=checked_api.h("requestor")
    )
    r = checked_api.client.post(
        f"{Q2}/changes/{change_id}/checks/rerun", headers=checked_api.h("approver")
    )
    assert r.status_code == 400 and "open changes" in r.json()["detail"]
