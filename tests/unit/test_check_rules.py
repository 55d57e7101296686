"""Pure rules of the review checks: digests, what is checked, sizes, content types, keys."""

from __future__ import annotations

from typing import Any

import pytest

from modelref.domain import checks, identity
from modelref.domain.categories import Category
from modelref.domain.identity import KeyKind, KeyMatch


def rec(url: str = "https://h.example/m.bin", sha: str = "ab" * 32, **extra: Any) -> dict[str, Any]:
    return {"name": "m", "config": {"download": [{"file_url": url, "sha256sum": sha}]}, **extra}


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("AB" * 32, "ab" * 32),
        (" " + "ab" * 32 + "\n", "ab" * 32),
        ("FIXME", None),
        ("0" * 64, None),
        ("ab" * 31, None),
        (None, None),
        (12, None),
    ],
)
def test_digests_are_normalised_and_placeholders_dropped(raw: object, want: str | None) -> None:
    assert checks.digest(raw) == want


def test_what_touches_downloads() -> None:
    live = rec()
    assert checks.touches_downloads(rec(), None)
    assert not checks.touches_downloads(rec(), live)
    assert not checks.touches_downloads(rec(sha="AB" * 32), live)  # case only
    assert checks.touches_downloads(rec(url="https://h.example/other.bin"), live)
    assert checks.touches_downloads(rec(size_on_disk_bytes=5), live)
    assert not checks.touches_downloads({"name": "m"}, live)  # nothing to download


def test_size_tolerance_is_one_percent_of_the_stated_size() -> None:
    assert checks.size_problem(1_000_000, 1_009_000) is None
    assert checks.size_problem(1_000_000, 990_100) is None
    problem = checks.size_problem(1_000_000, 1_020_000)
    assert problem is not None and "1,020,000" in problem


@pytest.mark.parametrize(
    ("ctype", "first", "name", "bad"),
    [
        ("application/octet-stream", b"\x00\x01", "m.safetensors", False),
        ("", b"", "m.ckpt", False),
        ("text/html; charset=utf-8", b"", "m.safetensors", True),
        ("application/octet-stream", b"  <!DOCTYPE html><html>", "m.safetensors", True),
        ("text/plain", b"", "m.safetensors", True),
        ("application/json", b"{}", "config.json", False),
        ("text/plain", b"a: 1", "cldm_v15.yaml", False),
        ("text/html", b"", "config.json", True),
    ],
)
def test_content_types(ctype: str, first: bytes, name: str, bad: bool) -> None:
    assert (checks.content_problem(ctype, first, name) is not None) is bad


def test_hash_plan() -> None:
    assert checks.hash_plan("always", 10, 10**12) is None
    assert checks.hash_plan("auto", 10, None) is None
    assert checks.hash_plan("auto", 10, 10) is None
    assert "limit" in (checks.hash_plan("auto", 10, 11) or "")
    assert "never" in (checks.hash_plan("never", 10, 1) or "")


def test_name_and_url_folding() -> None:
    assert identity.fold_name(" Deli berate ") == "deliberate"
    assert identity.fold_name("koboldcpp/Foo") == identity.fold_name("foo")
    assert identity.fold_name("Aphrodite/Org/Foo") == "org/foo"
    assert identity.fold_url("HTTPS://H.Example:443/A?b=1#x") == "https://h.example/A?b=1"
    assert identity.fold_url("http://h.example:8080/a") == "http://h.example:8080/a"


def test_text_keys_include_the_generated_name_and_the_author() -> None:
    keys = identity.keys(Category.text_generation, "TheBloke/Foo-7B", {"name": "x"})
    by_kind = {k.kind: k for k in keys}
    assert by_kind[KeyKind.variant].display == "koboldcpp/Foo-7B"
    assert by_kind[KeyKind.author].value == "thebloke"
    image = identity.keys(Category.image_generation, "Foo/Bar", rec())
    assert {k.kind for k in image} == {KeyKind.sha256, KeyKind.url, KeyKind.name}


def test_findings_skip_the_model_itself_and_name_at_most_three_others() -> None:
    mine = identity.keys(Category.miscellaneous, "m", rec())
    sha = next(k for k in mine if k.kind is KeyKind.sha256)
    others = [
        KeyMatch(sha.digest, sha.display, sha.field, "miscellaneous", f"o{i}", i or None)
        for i in range(5)
    ]
    self_match = KeyMatch(sha.digest, sha.display, sha.field, "miscellaneous", "m", None)
    (found,) = identity.findings(Category.miscellaneous, "m", mine, [*others, self_match])
    assert found.check == "duplicate_sha256" and "and 2 more" in found.message
    assert "'m'" not in found.message
    assert identity.findings(Category.miscellaneous, "m", mine, [self_match]) == []
