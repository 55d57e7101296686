"""The remaining commands in local mode, and the help texts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import DATA, Env, fails, ok, run_cli

UPDATE = ("queue", "submit", "--category", "blip", "--model", "BLIP-tiny", "--update")


def test_reject_withdraw_purge(local_env: Env) -> None:
    one = ok(local_env.run(*UPDATE, "--set", "description=a", "-q", key="alice")).out.strip()
    two = ok(local_env.run(*UPDATE, "--set", "description=b", "-q", key="alice")).out.strip()
    three = ok(local_env.run(*UPDATE, "--set", "description=c", "-q", key="alice")).out.strip()
    rejected = ok(
        local_env.run("queue", "reject", one, "--reason", "duplicate", "--json", key="bob")
    ).json()
    assert rejected["rejected"][0]["reject_reason"] == "duplicate"
    fails(local_env.run("queue", "withdraw", two, key="carol"), 4, f"Change {two}")
    assert ok(local_env.run("queue", "withdraw", two, "-q", key="alice")).out.strip() == two
    fails(local_env.run("queue", "withdraw", two, key="alice"), 1, f"Change {two}")
    listed = ok(local_env.run("queue", "list", "--status", "rejected", "-q")).out.split()
    assert listed == [one, two]
    dry = ok(
        local_env.run("queue", "purge", "--status", "rejected", "--dry-run", "--json", key="bob")
    ).json()
    assert dry == {"removed_count": 2, "removed_change_ids": [int(one), int(two)], "dry_run": True}
    purged = ok(local_env.run("queue", "purge", "--status", "rejected", "--yes", key="bob")).out
    assert "removed 2 change(s)" in purged
    remaining = ok(local_env.run("queue", "list", "--json")).json()
    assert [i["change_id"] for i in remaining["items"]] == [int(three)]
    fails(local_env.run("queue", "show", one), 1, f"Change {one} not found.")


def test_list_filters_and_paging(local_env: Env) -> None:
    for text in ("a", "b", "c"):
        ok(local_env.run(*UPDATE, "--set", f"description={text}", key="alice"))
    page = ok(local_env.run("queue", "list", "--limit", "2", "--offset", "1", "--json")).json()
    assert [i["change_id"] for i in page["items"]] == [2, 3] and page["total"] == 3
    by_user = ok(local_env.run("queue", "list", "--requested-by", "2002", "--json")).json()
    assert by_user["total"] == 0
    by_model = ok(local_env.run("queue", "list", "--model", "bli", "--category", "blip", "-q"))
    assert by_model.out.split() == ["1", "2", "3"]
    marks = ok(local_env.run("queue", "list")).out
    assert "conflict #2,#3" in marks


def test_apply_batch_and_recover(local_env: Env) -> None:
    ids = [
        ok(local_env.run(*UPDATE, "--set", "description=x", "-q", key="alice")).out.strip(),
        ok(
            local_env.run(
                "queue",
                "submit",
                "--category",
                "clip",
                "--model",
                "ViT-Q/16",
                "--update",
                "--set",
                "description=slash",
                "-q",
                key="alice",
            )
        ).out.strip(),
    ]
    batch = ok(local_env.run("queue", "approve", *ids, "--title", "b", "-q", key="bob")).out
    result = ok(local_env.run("queue", "apply", "--batch", batch.strip(), "--json", key="bob"))
    assert [r["change_id"] for r in result.json()["applied"]] == [int(i) for i in ids]
    shown = ok(local_env.run("catalog", "show", "clip", "ViT-Q/16", "--json")).json()
    assert shown["description"] == "slash"
    recovered = ok(local_env.run("queue", "recover", "--json")).json()
    assert recovered == {"reverted": [], "reverted_count": 0}
    log = ok(local_env.run("audit", "log", "--batch", batch.strip(), "--json")).json()
    assert {e["action"] for e in log} >= {"approve", "apply"}
    human = ok(local_env.run("audit", "log", "--change", ids[1])).out
    assert "clip/ViT-Q/16" in human and "bob#2002" in human


def test_keys(local_env: Env) -> None:
    keys = ok(local_env.run("keys", "list", "--json")).json()
    assert {k["username"] for k in keys} >= {"alice#1001", "bob#2002"}
    assert all("key" not in k for k in keys)
    alice_prefix = next(k["key_prefix"] for k in keys if k["username"] == "alice#1001")
    assert ok(local_env.run("keys", "revoke", alice_prefix, "-q")).out.strip() == "1"
    fails(local_env.run("queue", "list", key="alice"), 4, "Invalid API key")
    fails(local_env.run("keys", "revoke", alice_prefix), 1, alice_prefix)
    fails(local_env.run("keys", "create", "--user-id", "9", "--username", "x", "--role", "god"), 2)


def test_catalog_import_export(local_env: Env, tmp_path: Path) -> None:
    listed = ok(local_env.run("catalog", "list", "esrgan", "--json")).json()
    assert listed == json.loads((DATA / "v2" / "esrgan.json").read_text())
    assert "3 model(s) in esrgan" in ok(local_env.run("catalog", "list", "esrgan")).out
    again = ok(local_env.run("import", str(DATA / "v2"), "--json", key="bob")).json()
    assert again["changed"] == []
    out = tmp_path / "export"
    exported = ok(local_env.run("export", str(out), "--format", "v2", "--json")).json()
    assert str(out / "v2" / "esrgan.json") in exported["files"]
    assert json.loads((out / "v2" / "esrgan.json").read_text()) == listed
    fails(local_env.run("import", str(tmp_path / "missing")), 1, "missing")
    fails(local_env.run("export", str(out), "--format", "yaml"), 2)


def test_db_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = ok(run_cli("db", "upgrade", "--json", db=db)).json()
    assert result["upgraded"] is True and db.exists()


ROOT_COMMANDS = [
    "queue",
    "catalog",
    "import",
    "export",
    "db",
    "keys",
    "audit",
    "publish",
    "webhooks",
    "serve",
    "worker",
]
GROUPS = {
    "queue": [
        "list",
        "show",
        "diff",
        "submit",
        "checks",
        "approve",
        "reject",
        "withdraw",
        "apply",
        "purge",
        "recover",
        "revert",
        "stats",
    ],
    "catalog": ["list", "show", "changes", "version"],
    "db": ["upgrade"],
    "keys": ["create", "list", "revoke"],
    "audit": ["log", "verify"],
    "publish": ["status"],
    "webhooks": ["add", "list", "remove", "failures", "replay"],
}


def _listed(help_text: str) -> dict[str, str]:
    """Command name -> its one-line purpose, from the help screen's command list."""
    found: dict[str, str] = {}
    for line in help_text.splitlines():
        match = re.match(r"^[│|]?\s+([a-z]+)\s{2,}(\S.*?)\s*[│|]?$", line)
        if match:
            found.setdefault(match.group(1), match.group(2))
    return found


def test_root_help_lists_every_command() -> None:
    listed = _listed(ok(run_cli("--help")).out)
    for name in ROOT_COMMANDS:
        assert listed.get(name), f"{name} missing from modelref --help"


@pytest.mark.parametrize("group", ["queue", "keys"])
def test_group_help_lists_every_command(group: str) -> None:
    listed = _listed(ok(run_cli(group, "--help")).out)
    for name in GROUPS[group]:
        assert listed.get(name), f"{name} missing from modelref {group} --help"


def test_every_command_takes_json_and_quiet_and_has_a_purpose() -> None:
    from typer.main import get_command

    from modelref.cli.main import app

    root: Any = get_command(app)
    for group, names in GROUPS.items():
        sub = root.commands[group]
        assert list(sub.commands) == names
        for name in names:
            command = sub.commands[name]
            options = {opt for param in command.params for opt in param.opts}
            assert {"--json", "--quiet", "--apikey"} <= options, f"{group} {name}"
            local_only = group in ("db", "keys") or name == "recover"
            assert ("--server" in options) is not local_only, f"{group} {name}"
            assert command.get_short_help_str(limit=200), f"{group} {name} has no purpose"
    for name in ("import", "export"):
        options = {opt for param in root.commands[name].params for opt in param.opts}
        assert {"--json", "--quiet"} <= options
        assert "--server" not in options
