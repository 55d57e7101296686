"""Approval rules: what a change touches, which rules match, TOML files and their errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modelref.domain.categories import AuditOperation, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.policy import CRITICAL_TWO, UPSTREAM, path_matches, touched_paths
from modelref.domain.policy_file import parse_policy
from modelref.service.container import Services
from modelref.service.governance import load_policy
from modelref.settings import Settings

IMG, TEXT = Category.image_generation, Category.text_generation
UPDATE, CREATE, DELETE = AuditOperation.UPDATE, AuditOperation.CREATE, AuditOperation.DELETE


def record(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "m",
        "description": "d",
        "nsfw": False,
        "baseline": "stable_diffusion_xl",
        "config": {
            "download": [
                {"file_name": "m.ckpt", "file_url": "https://x.invalid/m", "sha256sum": "a" * 64},
            ]
        },
    }
    base.update(changes)
    return base


def test_touched_paths_index_list_items_and_ignore_equal_values() -> None:
    old = record()
    new = record(description="e")
    new["config"] = {"download": [{**old["config"]["download"][0], "known_slow_download": True}]}
    assert touched_paths(old, new) == ["config.download.0.known_slow_download", "description"]
    assert touched_paths(old, old) == []
    assert touched_paths(record(nsfw=False), record(nsfw=0)) == ["nsfw"]  # false is not 0
    second = record()
    second["config"]["download"].append({"file_name": "b.ckpt", "sha256sum": "b" * 64})
    assert touched_paths(old, second) == [
        "config.download.1.file_name",
        "config.download.1.sha256sum",
    ]
    assert "nsfw" in touched_paths(old, None)  # a delete touches every field
    assert touched_paths(None, {"name": "m", "tags": []}) == ["name"]  # empty lists hold nothing


def test_field_patterns_match_list_items_and_ancestors() -> None:
    pattern = "config.download.*.sha256sum"
    assert path_matches(pattern, "config.download.3.sha256sum")
    assert not path_matches(pattern, "config.download.3.file_url")
    assert path_matches(pattern, "config")  # config replaced wholesale
    assert path_matches("nsfw", "nsfw") and not path_matches("nsfw", "nsfw_extra")


@pytest.mark.parametrize(
    ("category", "operation", "old", "new", "needed"),
    [
        (IMG, UPDATE, record(), record(description="e"), 1),
        (IMG, UPDATE, record(), record(nsfw=True), 2),
        (IMG, UPDATE, record(), record(baseline="flux_1"), 2),
        (IMG, DELETE, record(), None, 2),
        (IMG, CREATE, None, record(), 2),
        (TEXT, UPDATE, {"name": "m", "url": "a"}, {"name": "m", "url": "b"}, 2),
        (Category.miscellaneous, UPDATE, {"name": "m", "url": "a"}, {"name": "m", "url": "b"}, 1),
    ],
)
def test_critical_two(
    category: Category, operation: AuditOperation, old: Any, new: Any, needed: int
) -> None:
    assert CRITICAL_TWO.required(category, operation, touched_paths(old, new)).approvals == needed
    assert UPSTREAM.required(category, operation, touched_paths(old, new)).approvals == 1


def test_a_toml_policy_takes_the_largest_matching_rule() -> None:
    policy = parse_policy(
        """
        default_approvals = 1
        [[rules]]
        name = "hashes"
        approvals = 2
        fields = ["config.download.*.sha256sum"]
        [[rules]]
        name = "image deletes"
        approvals = 3
        operations = ["delete"]
        categories = ["image_generation"]
        """,
        "policy.toml",
    )
    hashes = record()
    hashes["config"]["download"][0]["sha256sum"] = "c" * 64
    assert policy.required(IMG, UPDATE, touched_paths(record(), hashes)).rules == ("hashes",)
    assert policy.required(IMG, UPDATE, touched_paths(record(), hashes)).approvals == 2
    assert policy.required(IMG, DELETE, touched_paths(record(), None)).approvals == 3
    assert policy.required(TEXT, DELETE, ["description"]).approvals == 1
    assert policy.quorum and policy.name == "policy.toml"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("default_approvals = [", "not valid TOML"),
        ("approvals = 2", "unknown key(s) approvals"),
        ("default_approvals = 0", "default_approvals: must be between 1 and 10, got 0"),
        ("[[rules]]\nname = 'x'", "rules[1] ('x'): approvals: required"),
        ("[[rules]]\nname = 'x'\napprovals = true", "rules[1] ('x'): approvals: must be a whole"),
        ("[[rules]]\napprovals = 2\nfield = ['nsfw']", "rules[1] ('rule 1'): unknown key(s) field"),
        (
            "[[rules]]\nname = 'c'\napprovals = 2\ncategories = ['sd']",
            "rules[1] ('c'): categories: unknown 'sd'",
        ),
        (
            "[[rules]]\nname = 'o'\napprovals = 2\noperations = ['upsert']",
            "rules[1] ('o'): operations: unknown 'upsert'",
        ),
        (
            "[[rules]]\nname = 'f'\napprovals = 2\nfields = ['config..url']",
            "rules[1] ('f'): fields: 'config..url': every dotted segment",
        ),
        (
            "[[rules]]\nname = 'f'\napprovals = 2\nfields = ['config.down*']",
            "'*' must be a whole segment",
        ),
        ("[[rules]]\nname = 'f'\napprovals = 2\nfields = []", "fields: must be a non-empty array"),
        (
            "[[rules]]\nname = 'a'\napprovals = 2\n[[rules]]\nname = 'a'\napprovals = 3",
            "rules[2]: name 'a' is used by an earlier rule",
        ),
    ],
)
def test_bad_policy_files_are_refused_naming_the_rule_and_key(text: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_policy(text, "/etc/modelref/policy.toml")
    assert caught.value.message.startswith("approval policy /etc/modelref/policy.toml: ")
    assert message in caught.value.message


def test_the_service_refuses_to_start_with_a_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[[rules]]\nname = 'downloads'\napprovals = 99\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with pytest.raises(ValidationFailed, match=r"rules\[1\] \('downloads'\): approvals"):
        Services.open(Settings(database_url=url, approval_policy=str(bad)))
    with pytest.raises(ValidationFailed, match="neither a built-in policy"):
        load_policy(Settings(approval_policy=str(tmp_path / "missing.toml")))
    good = tmp_path / "good.toml"
    good.write_text("[[rules]]\nname = 'all'\napprovals = 3\n", encoding="utf-8")
    services = Services.open(Settings(database_url=url, approval_policy=str(good)))
    assert services.review.policy.rules[0].approvals == 3
    assert services.apply.policy == services.review.policy
    assert load_policy(Settings(approval_policy=" critical-two ")) is CRITICAL_TWO
