"""``queue revert``, ``queue stats`` and ``queue list --sort`` through the real CLI, local and
remote; both modes print the same JSON."""

from __future__ import annotations

from typing import Any

from tests.cli.conftest import Env, fails, ok
from tests.cli.test_flow import normalise


def revert_flow(env: Env) -> dict[str, Any]:
    out: dict[str, Any] = {}
    edited = ok(
        env.run(
            "queue",
            "submit",
            "--category",
            "image_generation",
            "--model",
            "Lantern Anime",
            "--update",
            "--set",
            "description=edited by the revert test",
            "--json",
            key="alice",
        )
    ).json()
    cid = str(edited["change_id"])
    batch = ok(env.run("queue", "approve", cid, "--title", "edit", "--json", key="bob")).json()
    ok(env.run("queue", "apply", "--batch", str(batch["batch_id"]), "--json", key="carol"))
    out["revert"] = ok(
        env.run("queue", "revert", "--batch", str(batch["batch_id"]), "--json", key="alice")
    ).json()
    out["revert_text"] = ok(env.run("queue", "revert", "--change", cid, key="alice")).out
    out["stats"] = ok(env.run("queue", "stats", "--json", key="rita")).json()
    out["stats_text"] = ok(env.run("queue", "stats", key="rita")).out
    out["newest"] = ok(env.run("queue", "list", "--sort", "newest", "--json", key="rita")).json()
    out["not_applied"] = fails(
        env.run(
            "queue", "revert", "--change", str(out["revert"]["queued"][0]["change_id"]), key="alice"
        ),
        1,
        "is not applied (status=pending)",
    ).err
    out["reader"] = fails(env.run("queue", "revert", "--change", cid, key="rita"), 4).err
    return out


def check(out: dict[str, Any]) -> None:
    revert = out["revert"]
    (queued,) = revert["queued"]
    assert revert["reverted_change_ids"] == [1] and revert["reverted_batch_id"] == 1
    assert queued["operation"] == "update" and queued["model_name"] == "Lantern Anime"
    assert queued["notes"] == "revert of change 1 (batch 1)" and queued["requested_by"] == "1001"
    assert queued["payload"]["description"] != "edited by the revert test"
    assert (
        "queued #3 update image_generation/Lantern Anime: revert of change 1" in out["revert_text"]
    )
    stats = out["stats"]
    assert stats["counts_by_status"]["pending"] == 2 and stats["counts_by_status"]["applied"] == 1
    assert stats["oldest_pending"]["change_id"] == 2
    assert "oldest pending: #2 image_generation/Lantern Anime" in out["stats_text"]
    assert [i["change_id"] for i in out["newest"]["items"]] == [3, 2, 1]


def test_revert_and_stats_locally_and_remotely(local_env: Env, remote_env: Env) -> None:
    local, remote = revert_flow(local_env), revert_flow(remote_env)
    check(local)
    check(remote)
    for out in (local, remote):  # pinned to records whose apply times differ; wall-clock ages
        for rec in out["revert"]["queued"]:
            rec.pop("base_hash", None)
        out["stats"]["median_pending_age_seconds"] = (
            out["stats"]["oldest_pending"].pop("age_seconds") >= 0
        )
    for key in ("revert", "stats"):
        assert normalise(local[key]) == normalise(remote[key]), key


def test_usage_errors(local_env: Env) -> None:
    fails(local_env.run("queue", "revert", key="alice"), 2, "give --batch B or --change N")
    fails(local_env.run("queue", "list", "--sort", "size"), 2, "--sort: expected id, age")
