"""``queue submit`` refuses what would be queued under another name, and explains typed --set
values (traps 3 and 6), in-process on a real SQLite file holding the ops corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelref.service.container import Services
from modelref.settings import Settings
from tests.cli.inproc import Outcome, invoke

OPS = Path(__file__).resolve().parents[1] / "ops_data"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'modelref.db'}"
    variables = {"MODELREF_DATABASE_URL": url, "MODELREF_USER_ID": "7", "MODELREF_USERNAME": "u"}
    assert invoke("import", str(OPS / "v2"), "-q", env=variables).code == 0
    return variables


def queued(env: dict[str, str]) -> int:
    services = Services.open(Settings(database_url=env["MODELREF_DATABASE_URL"]))
    try:
        return services.review.list_changes().total
    finally:
        services.db.dispose()


def payload_file(tmp_path: Path, record: dict[str, object]) -> str:
    path = tmp_path / "payload.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return str(path)


def submit(env: dict[str, str], *args: str) -> Outcome:
    return invoke("queue", "submit", "--category", "blip", *args, env=env)


def test_create_with_another_name_in_the_file_is_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = payload_file(tmp_path, {"name": "OTHER_BLIP", "config": {"download": []}})
    result = submit(env, "--model", "NEW_BLIP", "--create", "--file", path)
    assert result.code == 2
    assert "--model 'NEW_BLIP' does not match the name 'OTHER_BLIP' in --file" in result.err
    assert "HTTP" not in result.err and "path" not in result.err
    assert queued(env) == 0


def test_update_with_another_name_is_refused_in_cli_words(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = payload_file(tmp_path, {"name": "OTHER_BLIP", "config": {"download": []}})
    result = submit(env, "--model", "OPS_BLIP", "--update", "--file", path)
    assert result.code == 2 and "does not match the name 'OTHER_BLIP'" in result.err
    renamed = submit(env, "--model", "OPS_BLIP", "--update", "--set", "name=X")
    assert renamed.code == 2 and "'X' in the payload" in renamed.err
    assert "Model name in the path" not in result.err + renamed.err
    assert queued(env) == 0


def test_a_matching_name_is_queued(env: dict[str, str]) -> None:
    result = submit(env, "--model", "OPS_BLIP", "--update", "--set", "description=x", "-q")
    assert result.code == 0 and result.out.strip().isdigit()
    assert queued(env) == 1


def test_create_of_an_existing_model_names_the_cli_way(env: dict[str, str]) -> None:
    result = submit(env, "--model", "OPS_BLIP", "--create", "--set", "description=x")
    assert result.code == 3
    assert "already exists" in result.err and "queue submit --update" in result.err
    assert "PUT" not in result.err


def test_a_number_where_a_string_belongs_gets_a_hint(env: dict[str, str]) -> None:
    result = submit(env, "--model", "OPS_BLIP", "--update", "--set", "version=1.5")
    assert result.code == 1
    assert "version" in result.err and "gives a number, not a string" in result.err
    assert """--set 'version="1.5"'""" in result.err
    fixed = submit(env, "--model", "OPS_BLIP", "--update", "--set", 'version="1.5"', "-q")
    assert fixed.code == 0


def test_a_missing_change_has_one_wording(env: dict[str, str]) -> None:
    for command in (["queue", "show", "999"], ["queue", "diff", "999"], ["queue", "apply", "999"]):
        result = invoke(*command, env=env)
        assert result.code == 1 and "Change 999 not found." in result.err, (command, result)
    diff = invoke("queue", "diff", "998", "999", env=env)
    assert diff.code == 1 and "Change 998" in diff.err
