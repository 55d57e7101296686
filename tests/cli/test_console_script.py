"""The installed ``modelref`` console script in real processes: the entry point, real pipes and
the exit statuses a shell sees. (Everything else runs in-process, see conftest.py.)"""

from __future__ import annotations

import json
from pathlib import Path

from modelref.domain.categories import Category
from tests.cli.conftest import Env, fails, free_port, ok, run_script
from tests.corpus import v2_record


def test_entry_point_prints_version_and_help() -> None:
    version = ok(run_script("--version"))
    assert version.out.startswith("modelref ")
    listed = ok(run_script("--help")).out
    for group in ("queue", "catalog", "import", "export", "keys", "audit", "serve"):
        assert group in listed


def test_db_upgrade_creates_a_fresh_database(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    result = ok(run_script("db", "upgrade", "--json", db=db)).json()
    assert result["upgraded"] is True and db.exists()


def test_submit_reads_the_record_from_a_pipe(local_env: Env) -> None:
    record = v2_record(Category.blip, "BLIP-tiny")
    submitted = ok(
        local_env.run(
            "queue",
            "submit",
            "--category",
            "blip",
            "--model",
            "BLIP-tiny",
            "--update",
            "--file",
            "-",
            "--set",
            "description=piped in",
            "--json",
            key="alice",
            stdin=json.dumps(record),
            real=True,
        )
    ).json()
    diff = ok(local_env.run("queue", "diff", str(submitted["change_id"]), "--json"))
    assert [d["field_path"] for d in diff.json()["field_diffs"]] == ["description"]


def test_exit_statuses_seen_by_the_shell(local_env: Env) -> None:
    """Usage and domain errors; the in-process tests cover every other code."""
    fails(local_env.run("queue", "frobnicate", real=True), 2)
    fails(local_env.run("queue", "show", "999", real=True), 1, "Change 999 not found.")


def test_unreachable_server_is_exit_5_with_a_json_error(local_env: Env) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    result = fails(local_env.run("queue", "show", "1", "--server", server, "--json", real=True), 5)
    error = json.loads(result.err)
    assert error["exit_code"] == 5 and "127.0.0.1" in error["detail"]
    assert result.out == ""
