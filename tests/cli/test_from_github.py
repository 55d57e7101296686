"""``modelref import --from-github`` against a local server in the public repositories' layout.

A complete fetch imports everything and reports each file's sha256; a 404, a truncated
download or a refused address imports nothing and says why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from modelref.domain.categories import Category
from modelref.service.container import Services
from modelref.settings import Settings
from tests.cli.inproc import invoke
from tests.service.reference_server import TEXT_REPO, ReferenceServer, repository_files


@pytest.fixture
def reference() -> Iterator[ReferenceServer]:
    files = repository_files("main") | repository_files("v1.2")
    server = ReferenceServer(files).start()
    yield server
    server.stop()


def environment(tmp_path: Path, server: ReferenceServer, *, allow: bool = True) -> dict[str, str]:
    env = {
        "MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "MODELREF_REFERENCE_BASE_URL": server.base_url,
    }
    if allow:
        env["MODELREF_REFERENCE_ALLOW_HOSTS"] = "127.0.0.1"
    return env


def catalog_size(env: dict[str, str]) -> int:
    services = Services.open(Settings(database_url=env["MODELREF_DATABASE_URL"]))
    try:
        return sum(len(services.catalog.stored(c)[0]) for c in Category)
    finally:
        services.db.dispose()


def test_a_complete_fetch_is_imported_with_each_files_sha256(
    reference: ReferenceServer, tmp_path: Path
) -> None:
    env = environment(tmp_path, reference)
    result = invoke("import", "--from-github", "--ref", "v1.2", "--json", env=env)
    assert result.code == 0, result
    report = result.json()
    assert report["ref"] == "v1.2"
    fetched = {item["url"]: item for item in report["fetched"]}
    for url, item in fetched.items():
        body = reference.files[url.removeprefix(reference.base_url.rstrip("/"))]
        assert item["sha256"] == hashlib.sha256(body).hexdigest()
        assert item["bytes"] == len(body)
    assert any(u.endswith(f"/{TEXT_REPO}/v1.2/models.csv") for u in fetched)
    assert all("/v1.2/" in path for path in reference.requests)
    assert set(report["changed"]) == {"blip", "image_generation", "text_generation"}
    assert catalog_size(env) == 5
    exported = tmp_path / "out"
    assert invoke("export", str(exported), "--format", "legacy", "-q", env=env).code == 0
    sd = json.loads((exported / "legacy/image/stable_diffusion.json").read_text())
    assert sd["Ops Lantern"]["config"]["files"][0]["md5sum"] == "0f343b0931126a20f133d67c2b018a3b"
    text = invoke("import", "--from-github", "--ref", "v1.2", env=env)
    assert text.code == 0 and "fetched " in text.out and "sha256 " in text.out


def test_a_404_imports_nothing(reference: ReferenceServer, tmp_path: Path) -> None:
    env = environment(tmp_path, reference)
    result = invoke("import", "--from-github", "--ref", "no-such-branch", env=env)
    assert result.code == 1
    assert "404" in result.err and "no-such-branch" in result.err
    assert "nothing imported" in result.err
    assert catalog_size(env) == 0


def test_a_truncated_download_imports_nothing(reference: ReferenceServer, tmp_path: Path) -> None:
    truncated = f"/{TEXT_REPO}/main/models.csv"
    reference.truncate.add(truncated)
    env = environment(tmp_path, reference)
    result = invoke("import", "--from-github", env=env)
    assert result.code == 5, result
    assert "truncated download" in result.err and "models.csv" in result.err
    assert "nothing imported" in result.err
    assert reference.requests[-1] == truncated and len(reference.requests) > 1
    assert catalog_size(env) == 0


def test_a_loopback_base_url_is_refused_unless_allowed(
    reference: ReferenceServer, tmp_path: Path
) -> None:
    env = environment(tmp_path, reference, allow=False)
    plain = invoke("import", "--from-github", env=env)
    assert plain.code == 1 and "is not HTTPS" in plain.err
    env["MODELREF_REFERENCE_BASE_URL"] = reference.base_url.replace("http://", "https://")
    secure = invoke("import", "--from-github", env=env)
    assert secure.code == 1 and "non-public address 127.0.0.1" in secure.err
    assert reference.requests == []


def test_path_and_from_github_exclude_each_other(tmp_path: Path) -> None:
    env = {"MODELREF_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}"}
    assert invoke("import", str(tmp_path), "--from-github", env=env).code == 2
    assert invoke("import", env=env).code == 2
