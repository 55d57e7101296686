"""Help shows flags as flags and lists choices; options work before or after the command;
commands without a remote mode do not offer --server (trap 6)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command

from modelref.cli.main import app
from modelref.domain.categories import Category
from tests.cli.inproc import invoke

OPS = Path(__file__).resolve().parents[1] / "ops_data"
LOCAL_ONLY = {"import", "export", "db upgrade", "keys create", "keys list", "keys revoke"}
LOCAL_ONLY |= {"queue recover"}


def all_commands() -> list[tuple[str, Any]]:
    root: Any = get_command(app)
    found = []
    for name, command in root.commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            found += [(f"{name} {sub}", cmd) for sub, cmd in subs.items()]
        else:
            found.append((name, command))
    return found


COMMANDS = [name for name, _cmd in all_commands()]


def help_of(name: str) -> str:
    result = invoke(*name.split(), "--help")
    assert result.code == 0, result
    return result.out


@pytest.mark.parametrize("name", COMMANDS)
def test_flags_are_shown_without_a_value(name: str) -> None:
    text = help_of(name).split("Options:", 1)[1]
    assert "<bool>" not in text and "<list[" not in text, text
    for flag in ("--json", "--quiet", "--help"):
        if flag in text:
            line = next(ln for ln in text.splitlines() if re.search(rf"{flag}\b", ln))
            after = line.split(flag, 1)[1]
            assert not after.lstrip().startswith(("<", "[", "TEXT")), line


@pytest.mark.parametrize("name", COMMANDS)
def test_server_is_offered_exactly_by_commands_with_a_remote_mode(name: str) -> None:
    offered = "--server" in help_of(name)
    assert offered is (name not in LOCAL_ONLY and name not in ("serve", "worker")), name


@pytest.mark.parametrize("name", ["queue list", "queue submit", "queue purge", "catalog list"])
def test_category_choices_are_listed(name: str) -> None:
    text = " ".join(help_of(name).split())
    for category in Category:
        assert category.value in text, (name, category.value)


def test_a_flag_given_a_value_is_refused() -> None:
    result = invoke("queue", "list", "--json", "true")
    assert result.code == 2


def test_global_options_before_the_command(tmp_path: Path) -> None:
    env = {"MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    assert invoke("--quiet", "import", str(OPS / "v2"), env=env).code == 0
    before = invoke("--json", "catalog", "list", "blip", env=env)
    after = invoke("catalog", "list", "blip", "--json", env=env)
    assert before.code == after.code == 0 and before.json() == after.json() == after.json()
    queued = invoke(
        "--as-user",
        "5",
        "--as-username",
        "eve",
        "-q",
        "queue",
        "submit",
        "--category",
        "blip",
        "--model",
        "OPS_BLIP",
        "--update",
        "--set",
        "description=edited",
        env=env,
    )
    assert queued.code == 0 and queued.out.strip().isdigit()
    shown = invoke("--json", "queue", "show", queued.out.strip(), env=env).json()
    assert shown["requested_by"] == "5" and shown["requested_username"] == "eve"


def test_server_before_the_command_reaches_the_server() -> None:
    result = invoke("--server", "http://127.0.0.1:9", "queue", "list")
    assert result.code == 5 and "cannot reach http://127.0.0.1:9" in result.err


def test_server_before_a_local_only_command_is_refused(tmp_path: Path) -> None:
    env = {"MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    result = invoke("--server", "http://127.0.0.1:9", "keys", "list", env=env)
    assert result.code == 2 and "keys list has no remote mode" in result.err
    assert not (tmp_path / "db.sqlite").exists()
    after = invoke("keys", "list", "--server", "http://127.0.0.1:9", env=env)
    assert after.code == 2 and "No such option" in after.err


def test_server_from_the_environment_warns_on_a_local_only_command(tmp_path: Path) -> None:
    env = {
        "MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MODELREF_SERVER": "http://127.0.0.1:9",
    }
    result = invoke("db", "upgrade", env=env)
    assert result.code == 0 and "db upgrade has no remote mode" in result.err
