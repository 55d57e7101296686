"""Text backend variants, name rules and the base-name grouper, on the corpus and (reference
tier) on every name of the public text reference."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modelref.domain.errors import ValidationFailed
from modelref.domain.text_variants import (
    backend_variants,
    check_text_name,
    has_backend_prefix,
    text_model_group,
)


def _load(root: Path, relative: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads((root / relative).read_text(encoding="utf-8"))
    return result


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("aphrodite/Org/M", True),
        ("koboldcpp/M", True),
        ("Org/M", False),
        ("Aphrodite/Org/M", False),  # the prefix test is case-sensitive, like upstream
        ("aphrodite", False),
        ("my-aphrodite/M", False),
    ],
)
def test_has_backend_prefix(name: str, expected: bool) -> None:
    assert has_backend_prefix(name) is expected


@pytest.mark.parametrize(
    ("name", "variants"),
    [
        (
            "ReadyArt/Broken-Tutu-24B",
            ["aphrodite/ReadyArt/Broken-Tutu-24B", "koboldcpp/Broken-Tutu-24B"],
        ),
        ("gpt2", ["aphrodite/gpt2", "koboldcpp/gpt2"]),
        ("a/b/c", ["aphrodite/a/b/c", "koboldcpp/b/c"]),
    ],
)
def test_backend_variants(name: str, variants: list[str]) -> None:
    assert backend_variants(name) == variants


def test_variants_of_the_catalog_are_exactly_the_legacy_db_json_keys(data_dir: Path) -> None:
    v2_text = _load(data_dir, "v2/text_generation.json")
    db = _load(data_dir, "legacy/text/db.json")
    expected = set(v2_text)
    for name in v2_text:
        expected.update(backend_variants(name))
    assert len(db) == 3 * len(v2_text)
    assert set(db) == expected


def test_text_model_group_reproduces_every_catalog_group(data_dir: Path) -> None:
    v2_text = _load(data_dir, "v2/text_generation.json")
    assert v2_text
    mismatches = {
        name: (record["text_model_group"], text_model_group(name))
        for name, record in v2_text.items()
        if text_model_group(name) != record["text_model_group"]
    }
    assert mismatches == {}


@pytest.mark.parametrize(
    ("name", "group"),
    [
        ("Org/Llama-3-8B-Instruct-Q4_K_M", "Llama-3"),
        ("acrastt/Marx-3B-V3", "Marx"),
        ("Qwen/Qwen3-30B-A3B-Instruct-2507", "Qwen3-A3B"),
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral"),
        ("CohereForAI/c4ai-command-r-08-2024", "c4ai-command-r"),
        ("gpt2-xl", "gpt2-xl"),
        ("Org/7B", "7B"),  # nothing would be left: fall back to the name itself
    ],
)
def test_text_model_group_examples(name: str, group: str) -> None:
    assert text_model_group(name) == group


@pytest.mark.parametrize("name", ["aphrodite/Org/M", "koboldcpp/M"])
def test_backend_prefixed_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        check_text_name(name)
    message = str(info.value)
    assert name in message
    assert "contains a backend prefix (aphrodite/, koboldcpp/)" in message
    assert "Submit only the base model name" in message


def test_url_like_names_are_refused() -> None:
    with pytest.raises(ValidationFailed, match="://"):
        check_text_name("https://huggingface.co/Org/M")


def test_plain_names_pass_unchanged(data_dir: Path) -> None:
    for name in _load(data_dir, "v2/text_generation.json"):
        assert check_text_name(name) == name
