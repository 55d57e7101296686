"""The default database lives in the user's data folder, whatever the working directory (trap 2).

Each test points ``XDG_DATA_HOME`` (what platformdirs reads on Linux) at a temporary folder and
runs the CLI from other, empty folders.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from modelref.settings import Settings
from modelref.web.session import key_path
from tests.cli.inproc import invoke

OPS = Path(__file__).resolve().parents[1] / "ops_data"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty user data home; the default database is <home>/modelref/modelref.db."""
    data_home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    return data_home


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


@pytest.mark.parametrize(
    "command",
    [
        ["queue", "list"],
        ["catalog", "list", "blip"],
        ["audit", "verify"],
        ["keys", "list"],
        ["export", "out"],
        ["queue", "show", "1"],
    ],
)
def test_a_read_command_in_an_empty_folder_creates_no_database(
    command: list[str], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = invoke(*command)
    assert result.code == 5, result
    assert "no modelref database at" in result.err and "nothing was created" in result.err
    assert str(home / "modelref" / "modelref.db") in result.err
    assert files_under(cwd) == [] and files_under(home) == []


def test_the_same_database_from_any_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    assert invoke("import", str(OPS / "v2"), "-q").code == 0
    monkeypatch.chdir(second)
    listed = invoke("catalog", "list", "blip", "--json")
    assert listed.code == 0 and list(listed.json()) == ["OPS_BLIP"]
    assert files_under(first) == [] and files_under(second) == []
    assert (home / "modelref" / "modelref.db").is_file()


def test_verbose_names_the_database_and_where_it_came_from(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert invoke("db", "upgrade", "-q").code == 0
    shown = invoke("-v", "queue", "list", "--json")
    assert shown.code == 0
    assert f"database: sqlite:///{home / 'modelref' / 'modelref.db'}" in shown.err
    assert "(from the user data folder)" in shown.err
    other = tmp_path / "custom"
    monkeypatch.setenv("MODELREF_DATA_DIR", str(other))
    assert invoke("db", "upgrade", "-q").code == 0
    moved = invoke("queue", "list", "-v", "--json")
    assert f"database: sqlite:///{other / 'modelref.db'} (from MODELREF_DATA_DIR)" in moved.err
    url = f"sqlite:///{tmp_path / 'explicit.db'}"
    monkeypatch.setenv("MODELREF_DATABASE_URL", url)
    assert invoke("db", "upgrade", "-q").code == 0
    assert f"database: {url} (from MODELREF_DATABASE_URL)" in invoke("-v", "keys", "list").err


def test_session_key_sits_beside_the_database(home: Path, tmp_path: Path) -> None:
    assert key_path(Settings()) == home / "modelref" / "session.key"
    assert key_path(Settings(data_dir=tmp_path / "d")) == tmp_path / "d" / "session.key"
    postgres = Settings(database_url="postgresql://u@h/db", data_dir=tmp_path / "pg")
    assert key_path(postgres) == tmp_path / "pg" / "session.key"
