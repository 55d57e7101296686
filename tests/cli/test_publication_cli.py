"""``modelref catalog changes|version``, ``publish status`` and ``webhooks`` (in-process, local
mode on a real SQLite file with a git work tree, and remote mode against a real server)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from modelref.service.container import Services
from modelref.settings import Settings
from tests.catalog.helpers import IMPORTER, apply, approve, enqueue, misc_record
from tests.cli.conftest import Env, Result, fails, ok, run_cli
from tests.contract.test_catalog_feed import write_reference


def run(env: dict[str, str], *args: str) -> Result:
    """``modelref ARGS`` with the deployment settings ``env``: in-process, but the worker
    (it installs a log handler on the process's stderr) through the console script."""
    return run_cli(*args, env=env, real=args[0] == "worker")


@pytest.fixture
def deployment(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'modelref.db'}"
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    env = {
        "MODELREF_DATABASE_URL": url,
        "MODELREF_GIT_PUBLISH_DIR": str(tmp_path / "tree"),
        "MODELREF_GIT_PUSH_REMOTE": str(remote),
        "MODELREF_USER_ID": "2002",
        "MODELREF_USERNAME": "bob#2002",
        "MODELREF_CHECKS": "false",  # only publication jobs in this outbox
    }
    svc = Services.open(
        Settings(
            database_url=url,
            git_publish_dir=tmp_path / "tree",
            git_push_remote=str(remote),
            checks=False,  # only publication jobs in this outbox
        )
    )
    ref = write_reference(tmp_path / "ref", {"miscellaneous.json": {"m1": misc_record("m1")}})
    svc.files.import_path(ref, IMPORTER)
    cid = enqueue(svc, "miscellaneous", "cli-made", "create", misc_record("cli-made"))
    approve(svc, [cid], "from the CLI test")
    apply(svc, [cid])
    svc.db.dispose()
    return env


def test_catalog_changes_and_versions(deployment: dict[str, str]) -> None:
    page = ok(run(deployment, "catalog", "changes", "--since", "0", "--limit", "1", "--json"))
    assert page.json()["next"] == 1 and page.json()["changes"][0]["operation"] == "import"
    every = ok(run(deployment, "catalog", "changes", "--limit", "1", "--all", "--json")).json()
    assert every["pages"] == 2 and every["next"] is None and every["version"] == 2
    quiet = ok(run(deployment, "catalog", "changes", "--since", "1", "-q")).out.split("\n")
    assert quiet[0] == "2 create miscellaneous cli-made"
    table = ok(run(deployment, "catalog", "changes")).out
    assert "import" in table and "at version 2 of 2; up to date" in table
    manifest = ok(run(deployment, "catalog", "version", "--json")).json()
    assert manifest["version"] == 2 and manifest["title"] == "from the CLI test"
    text = ok(run(deployment, "catalog", "version", "1")).out
    assert "catalog version 1 (import)" in text and "miscellaneous *" in text
    fails(run(deployment, "catalog", "version", "9"), 1, "Catalog version 9 does not exist")
    fails(run(deployment, "catalog", "changes", "--since", "9"), 1, "does not exist")


def test_publish_status_before_and_after_the_worker(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    before = ok(run(deployment, "publish", "status", "--json")).json()
    assert before["configured"] and before["published_version"] == 0
    assert before["latest_version"] == 2 and before["behind"] == 2
    assert before["waiting_jobs"] == 2
    assert "ran 2 jobs" in ok(run(deployment, "worker", "--once")).out
    after = ok(run(deployment, "publish", "status")).out
    assert "published version 2 of 2: up to date" in after and "all pushed" in after
    off = {k: v for k, v in deployment.items() if "GIT" not in k}
    assert "git publication is off" in ok(run(off, "publish", "status")).out
    # Publication turned on later, into a new tree: the worker catches up by itself.
    late = off | {"MODELREF_GIT_PUBLISH_DIR": str(tmp_path / "late")}
    behind = ok(run(late, "publish", "status", "--json")).json()
    assert (behind["behind"], behind["waiting_jobs"], behind["remote"]) == (2, 0, None)
    assert "ran 1 jobs" in ok(run(late, "worker", "--once")).out
    assert ok(run(late, "publish", "status", "--json")).json()["behind"] == 0
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=tmp_path / "late", capture_output=True, text=True
    )
    assert log.stdout.splitlines() == ["from the CLI test", "Import of miscellaneous"]


def test_webhooks_add_list_failures_replay(deployment: dict[str, str]) -> None:
    added = ok(
        run(
            deployment,
            "webhooks",
            "add",
            "https://hooks.example.org/modelref",
            "--events",
            "approve,apply",
            "--format",
            "discord",
            "--json",
        )
    ).json()
    assert added["events"] == ["approve", "apply"] and added["format"] == "discord"
    assert added["secret"] and added["created_username"] == "bob#2002"
    shown = ok(run(deployment, "webhooks", "add", "https://hooks.example.org/b")).out
    assert "signing secret:" in shown and "not shown again" in shown
    listed = ok(run(deployment, "webhooks", "list", "--json")).json()
    assert [s["subscription_id"] for s in listed] == [1, 2]
    assert all("secret" not in s for s in listed)
    fails(
        run(deployment, "webhooks", "add", "https://h.example.org", "--events", "boom"),
        1,
        "events: unknown event(s) boom",
    )
    fails(run(deployment, "webhooks", "add", "http://10.0.0.1/x"), 1, "url: 10.0.0.1")
    assert "no failed deliveries" in ok(run(deployment, "webhooks", "failures")).out
    fails(run(deployment, "webhooks", "replay", "999"), 1, "No failed webhook delivery 999")
    assert ok(run(deployment, "webhooks", "remove", "2", "-q")).out.strip() == "2"
    fails(run(deployment, "webhooks", "remove", "2"), 1, "No webhook subscription 2")


def test_remote_mode(remote_env: Env) -> None:
    page = ok(remote_env.run("catalog", "changes", "--since", "0", "--json")).json()
    assert page["version"] == 1 and page["changes"][0]["operation"] == "import"
    assert ok(remote_env.run("webhooks", "list", "--json", key="bob")).json() == []
    fails(remote_env.run("webhooks", "list", key="rita"), 4, "approver")
    made = ok(
        remote_env.run(
            "webhooks",
            "add",
            "https://hooks.example.org/r",
            "--secret",
            "s" * 20,
            "--json",
            key="bob",
        )
    ).json()
    assert made["secret"] is None and made["created_username"] == "bob#2002"
    fails(remote_env.run("publish", "status"), 2, "publish status works on the server's database")
