"""propose -> diff -> approve -> apply -> audit verify through the real CLI, local and remote.

The same script runs on two copies of one database: once in local mode (service layer) and
once against a real ``modelref serve``; the ``--json`` outputs must be identical once
timestamps are normalised.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import DATA, Env, copy_env, ok

TIMESTAMP_KEYS = {
    "requested_at",
    "updated_at",
    "approved_at",
    "rejected_at",
    "applied_at",
    "created_at",
    "timestamp",
    "generated_at",
}


def normalise(value: Any) -> Any:
    """Replace timestamps (and the audit hashes computed over them) by placeholders, and the
    review-check summary of diffs: the server's worker checks in the background, local mode
    has no worker, so its progress differs between the two runs."""
    if isinstance(value, dict):
        return {
            k: (
                "<ts>"
                if k in TIMESTAMP_KEYS and isinstance(v, int)
                else "<hash>"
                if k in ("hash", "prev_hash")
                else "<checks>"
                if k == "checks" and isinstance(v, dict)
                else normalise(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def scenario_payload(tmp_path: Path) -> Path:
    change = json.loads((DATA / "scenarios" / "01_create_image_sdxl_finetune.json").read_text())[0]
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "lumen.json"
    path.write_text(json.dumps(change["payload"]))
    return path


def run_flow(env: Env, tmp_path: Path) -> dict[str, Any]:
    """The whole review flow; returns every step's parsed ``--json`` output."""
    out: dict[str, Any] = {}
    payload = scenario_payload(tmp_path)
    created = ok(
        env.run(
            "queue",
            "submit",
            "--category",
            "image_generation",
            "--model",
            "Kelp Forest XL",
            "--create",
            "--file",
            str(payload),
            "--json",
            key="alice",
        )
    ).json()
    updated = ok(
        env.run(
            "queue",
            "submit",
            "--category",
            "image_generation",
            "--model",
            "Lantern Anime",
            "--update",
            "--set",
            "nsfw=true",
            "--set",
            "description=Semi-realistic anime characters. Mostly NSFW.",
            "--notes",
            "reported by a worker",
            "--json",
            key="alice",
        )
    ).json()
    out["submit_create"], out["submit_update"] = created, updated
    ids = [str(created["change_id"]), str(updated["change_id"])]
    out["list_pending"] = ok(
        env.run("queue", "list", "--status", "pending", "--json", key="rita")
    ).json()
    out["diff_one"] = ok(env.run("queue", "diff", ids[1], "--json", key="rita")).json()
    out["diff_many"] = ok(env.run("queue", "diff", *ids, "--json", key="rita")).json()
    out["approve"] = ok(
        env.run("queue", "approve", *ids, "--title", "flow batch", "--json", key="bob")
    ).json()
    out["apply"] = ok(
        env.run("queue", "apply", *ids, "--job-id", "flow-job-1", "--json", key="carol")
    ).json()
    out["show"] = ok(env.run("queue", "show", ids[1], "--json", key="rita")).json()
    out["record"] = ok(
        env.run("catalog", "show", "image_generation", "Kelp Forest XL", "--json", key="rita")
    ).json()
    out["list_applied"] = ok(
        env.run("queue", "list", "--status", "applied", "--json", key="rita")
    ).json()
    out["verify"] = ok(env.run("audit", "verify", "--json", key="rita")).json()
    out["audit_change"] = ok(
        env.run("audit", "log", "--change", ids[1], "--json", key="rita")
    ).json()
    return out


def check_flow(out: dict[str, Any]) -> None:
    created, updated = out["submit_create"], out["submit_update"]
    assert created["status"] == "pending" and created["requested_by"] == "1001"
    assert updated["operation"] == "update" and updated["payload"]["nsfw"] is True
    assert updated["notes"] == "reported by a worker"
    assert [i["change_id"] for i in out["list_pending"]["items"]] == [
        created["change_id"],
        updated["change_id"],
    ]
    diff = out["diff_one"]
    assert diff["is_critical"] is True and diff["is_stale"] is False
    assert diff["fields_modified"] == ["description", "nsfw"]
    assert diff["fields_added"] == [] and diff["fields_removed"] == []
    assert [d["change_id"] for d in out["diff_many"]["diffs"]] == [
        created["change_id"],
        updated["change_id"],
    ]
    assert out["diff_many"]["diffs"][0]["net_operation"] == "added"
    assert out["approve"]["batch_id"] == 1
    assert [r["status"] for r in out["approve"]["approved"]] == ["approved", "approved"]
    applied = out["apply"]["applied"]
    assert [r["status"] for r in applied] == ["applied", "applied"]
    assert all(r["applied_by"] == "3003" and r["applied_job_id"] == "flow-job-1" for r in applied)
    assert out["apply"]["batch_split_occurred"] is False
    assert out["show"]["status"] == "applied" and out["show"]["approved_by"] == "2002"
    assert out["record"]["name"] == "Kelp Forest XL"
    assert out["record"]["baseline"] == "stable_diffusion_xl"
    assert out["list_applied"]["total"] == 2
    assert out["verify"]["ok"] is True and out["verify"]["broken_event_id"] is None
    actions = [e["action"] for e in out["audit_change"] if e["category"] == "pending_queue"]
    assert actions == ["enqueue", "approve", "reserve", "apply"]


@pytest.fixture(scope="module")
def local_flow(template: Env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The flow in local mode, run once for both tests below."""
    tmp = tmp_path_factory.mktemp("local_flow")
    return run_flow(copy_env(template, tmp / "db"), tmp)


def test_local_flow(local_flow: dict[str, Any]) -> None:
    check_flow(local_flow)


@pytest.mark.slow
def test_remote_flow_matches_local(
    local_flow: dict[str, Any], remote_env: Env, tmp_path: Path
) -> None:
    remote = run_flow(remote_env, tmp_path)
    check_flow(remote)
    assert remote.keys() == local_flow.keys()
    for step in local_flow:
        assert normalise(remote[step]) == normalise(local_flow[step]), f"step {step!r} differs"


def test_human_output_of_the_flow(local_env: Env) -> None:
    """Tables and diffs render (no colour codes off a terminal) and name what matters."""
    ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            "image_generation",
            "--model",
            "Lantern Anime",
            "--update",
            "--set",
            "nsfw=true",
            key="alice",
        )
    )
    table = ok(local_env.run("queue", "list")).out
    assert "Lantern Anime" in table and "pending" in table and "alice#1001" in table
    assert "critical" in table and "\x1b[" not in table
    diff = ok(local_env.run("queue", "diff", "1")).out
    assert "nsfw (critical)" in diff and "CRITICAL" in diff and "\x1b[" not in diff
    assert ok(local_env.run("queue", "list", "--quiet")).out.split() == ["1"]
