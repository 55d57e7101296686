"""Every documented exit code, each produced by a real situation, never with a traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.cli.conftest import DATA, Env, fails, free_port, ok, run_cli

UPDATE = (
    "queue",
    "submit",
    "--category",
    "image_generation",
    "--model",
    "Lantern Anime",
    "--update",
)


def two_approved_updates(env: Env) -> tuple[str, str]:
    """Two approved updates of one model in one batch: applying one makes the other stale."""
    first = ok(env.run(*UPDATE, "--set", "nsfw=true", "--quiet", key="alice")).out.strip()
    second = ok(env.run(*UPDATE, "--set", 'version="9"', "--quiet", key="alice")).out.strip()
    ok(env.run("queue", "approve", first, second, "--title", "both", key="bob"))
    return first, second


def test_stale_change_is_a_conflict(local_env: Env) -> None:
    first, second = two_approved_updates(local_env)
    ok(local_env.run("queue", "apply", first, key="bob"))
    diff = ok(local_env.run("queue", "diff", second, key="bob")).out
    assert "stale" in diff
    result = fails(local_env.run("queue", "apply", second, key="bob"), 3, f"Change {second}")
    assert "Lantern Anime" in result.err and "stale" in result.err
    forced = ok(local_env.run("queue", "apply", second, "--force", "--json", key="bob")).json()
    assert forced["applied"][0]["status"] == "applied"


def test_create_of_an_existing_model_is_a_conflict(local_env: Env, tmp_path: Path) -> None:
    live = json.loads((DATA / "v2" / "stable_diffusion.json").read_text())["Lantern Anime"]
    (tmp_path / "cyrious.json").write_text(json.dumps(live))
    result = local_env.run(
        "queue",
        "submit",
        "--category",
        "image_generation",
        "--model",
        "Lantern Anime",
        "--create",
        "--file",
        str(tmp_path / "cyrious.json"),
        key="alice",
    )
    fails(result, 3, "Lantern Anime", "already exists")


def test_auth_errors(local_env: Env) -> None:
    local_env.keys["bogus"] = "mr_not-a-real-key"
    fails(local_env.run("queue", "list", key="bogus"), 4, "Invalid API key")
    change = ok(local_env.run(*UPDATE, "--set", "nsfw=true", "-q", key="alice")).out.strip()
    # a requestor may not approve; nobody approves their own change (two-person rule)
    fails(local_env.run("queue", "approve", change, "--title", "t", key="alice"), 4, "approver")
    local_env.keys["alice_approver"] = ok(
        run_cli(
            "keys",
            "create",
            "--user-id",
            "1001",
            "--username",
            "alice#1001",
            "--role",
            "approver",
            "-q",
            db=local_env.db,
        )
    ).out.strip()
    result = local_env.run("queue", "approve", change, "--title", "t", key="alice_approver")
    fails(result, 4, f"Change {change}", "two-person")


def test_unknown_change_is_a_domain_error(local_env: Env) -> None:
    fails(local_env.run("queue", "show", "999"), 1, "Change 999 not found.")
    fails(local_env.run("queue", "apply", "999", key="bob"), 1, "Change 999")
    fails(local_env.run("queue", "diff", "999", "998"), 1, "Change 999")
    fails(local_env.run("catalog", "show", "image_generation", "No Such Model"), 1, "No Such Model")


def test_invalid_field_value_names_the_field(local_env: Env) -> None:
    result = local_env.run(*UPDATE, "--set", 'nsfw="maybe"', key="alice")
    fails(result, 1, "nsfw")


@pytest.mark.parametrize(
    "args",
    [
        ("queue", "submit", "--category", "blip", "--model", "BLIP-tiny"),  # no operation
        ("queue", "submit", "--category", "blip", "--model", "BLIP-tiny", "--create", "--update"),
        ("queue", "submit", "--category", "blip", "--model", "BLIP-tiny", "--update"),  # no edit
        ("queue", "submit", "--category", "nope", "--model", "x", "--delete"),
        ("queue", "submit", "--category", "blip", "--model", "BLIP-tiny", "--update", "--set", "x"),
        ("queue", "apply", "1", "--batch", "1"),
        ("queue", "apply"),
        ("queue", "purge", "--status", "rejected"),  # no --yes
        ("queue", "purge", "--yes"),  # no filter
        ("queue", "list", "--limit", "0"),
        ("queue", "frobnicate"),
        ("catalog", "show", "blip"),
    ],
)
def test_usage_errors(local_env: Env, args: tuple[str, ...]) -> None:
    fails(local_env.run(*args), 2)


def test_local_writes_need_an_identity(local_env: Env) -> None:
    fails(local_env.run(*UPDATE, "--set", "nsfw=true"), 2, "--apikey", "--as-user")
    as_user = ("--as-user", "77", "--as-username", "op#77", "--json")
    change = ok(local_env.run(*UPDATE, "--set", "nsfw=true", *as_user)).json()
    assert (change["requested_by"], change["requested_username"]) == ("77", "op#77")


def test_server_down_is_unreachable(local_env: Env) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    result = local_env.run("queue", "list", "--server", server)
    fails(result, 5, "cannot reach", "127.0.0.1")
    json_err = local_env.run("queue", "show", "1", "--server", server, "--json")
    fails(json_err, 5, '"exit_code": 5')


def test_bad_server_url_is_usage(local_env: Env) -> None:
    fails(local_env.run("queue", "list", "--server", "ftp://example"), 2, "--server")


def test_broken_audit_chain_names_the_event(local_env: Env) -> None:
    ok(local_env.run(*UPDATE, "--set", "nsfw=true", key="alice"))
    ok(local_env.run("audit", "verify"))
    with sqlite3.connect(local_env.db) as conn:
        event_id = conn.execute("SELECT max(event_id) FROM audit_events").fetchone()[0]
        conn.execute("UPDATE audit_events SET username = 'mallory' WHERE event_id = ?", (event_id,))
    result = fails(local_env.run("audit", "verify"), 1, f"event {event_id}")
    assert "broken" in result.out


def test_local_only_commands_refuse_with_usage(local_env: Env) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    fails(local_env.run("keys", "list", "--server", server), 2, "--server")
    fails(local_env.run("--server", server, "keys", "list"), 2, "no remote mode", "server's host")


@pytest.mark.slow
def test_remote_errors_map_to_the_same_exit_codes(remote_env: Env) -> None:
    """One real server: 409 -> 3, 401/403 -> 4, 404/422 -> 1; stderr names the change."""
    first, second = two_approved_updates(remote_env)
    ok(remote_env.run("queue", "apply", first, key="bob"))
    fails(remote_env.run("queue", "apply", second, key="bob"), 3, f"Change {second}", "stale")
    ok(remote_env.run("queue", "apply", second, "--force", key="bob"))
    remote_env.keys["bogus"] = "mr_not-a-real-key"
    fails(remote_env.run("queue", "list", key="bogus"), 4, "Invalid API key")
    fails(remote_env.run("queue", "list"), 4, "Not authenticated")
    third = ok(remote_env.run(*UPDATE, "--set", "nsfw=false", "-q", key="alice")).out.strip()
    fails(remote_env.run("queue", "approve", third, "--title", "t", key="alice"), 4, "approver")
    fails(remote_env.run("queue", "show", "999", key="rita"), 1, "Change 999 not found.")
    fails(remote_env.run("queue", "apply", "999", key="bob"), 1, "Change 999")
    fails(remote_env.run(*UPDATE, "--set", 'nsfw="maybe"', key="alice"), 1, "nsfw")
    fails(remote_env.run("queue", "recover", key="bob"), 2, "--server")
    withdrawn = ok(remote_env.run("queue", "withdraw", third, "--json", key="alice")).json()
    assert withdrawn["status"] == "rejected" and withdrawn["reject_reason"] == "withdrawn"
