"""Approval policies written as TOML: parsed with :mod:`tomllib`, every mistake named.

The file format (every key but ``approvals`` of a rule is optional)::

    # Changes no rule matches need this many distinct approvers (default 1).
    default_approvals = 1

    [[rules]]
    name = "downloads"                  # shown to reviewers; unique
    approvals = 2                       # distinct approvers, never the requester
    fields = ["config.download.*.file_url", "config.download.*.sha256sum"]
    categories = ["image_generation"]   # all categories when absent
    operations = ["create", "update"]   # all operations when absent

A rule without ``fields`` matches every change of its categories and operations. Errors name
the file, the rule (by position and name) and the key, so a bad file is refused at start-up
with a message that says what to fix.
"""

from __future__ import annotations

import tomllib
from typing import Any

from modelref.domain.categories import AuditOperation, Category
from modelref.domain.errors import ValidationFailed
from modelref.domain.policy import MAX_APPROVALS, Policy, Rule, path_problem

_TOP_KEYS = {"default_approvals", "rules"}
_RULE_KEYS = {"name", "approvals", "fields", "categories", "operations"}


def parse_policy(text: str, source: str) -> Policy:
    """The policy ``text`` (read from ``source``, named in errors) describes."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValidationFailed(f"approval policy {source}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _bad(source, f"unknown key(s) {', '.join(unknown)}; expected {_keys(_TOP_KEYS)}")
    default = _approvals(data.get("default_approvals", 1), source, "default_approvals")
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        raise _bad(source, "rules: must be an array of tables ([[rules]])")
    rules: list[Rule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules, start=1):
        rule = _rule(raw, source, index)
        if rule.name in seen:
            raise _bad(source, f"rules[{index}]: name {rule.name!r} is used by an earlier rule")
        seen.add(rule.name)
        rules.append(rule)
    return Policy(name=source, default=default, rules=tuple(rules))


def _bad(source: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"approval policy {source}: {message}")


def _keys(keys: set[str]) -> str:
    return ", ".join(sorted(keys))


def _approvals(value: Any, source: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(source, f"{where}: must be a whole number of approvers, got {value!r}")
    if not 1 <= value <= MAX_APPROVALS:
        raise _bad(source, f"{where}: must be between 1 and {MAX_APPROVALS}, got {value}")
    return value


def _strings(value: Any, source: str, where: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise _bad(source, f"{where}: must be a non-empty array of strings")
    if not all(isinstance(v, str) for v in value):
        raise _bad(source, f"{where}: every entry must be a string")
    return list(value)


def _rule(raw: Any, source: str, index: int) -> Rule:
    if not isinstance(raw, dict):
        raise _bad(source, f"rules[{index}]: must be a table")
    name = raw.get("name", f"rule {index}")
    if not isinstance(name, str) or not name.strip():
        raise _bad(source, f"rules[{index}]: name: must be a non-empty string")
    where = f"rules[{index}] ({name!r})"
    unknown = sorted(set(raw) - _RULE_KEYS)
    if unknown:
        raise _bad(
            source, f"{where}: unknown key(s) {', '.join(unknown)}; expected {_keys(_RULE_KEYS)}"
        )
    if "approvals" not in raw:
        raise _bad(source, f"{where}: approvals: required")
    approvals = _approvals(raw["approvals"], source, f"{where}: approvals")
    categories: frozenset[Category] | None = None
    if "categories" in raw:
        values = _strings(raw["categories"], source, f"{where}: categories")
        bad = [v for v in values if v not in Category.__members__]
        if bad:
            valid = ", ".join(c.value for c in Category)
            raise _bad(source, f"{where}: categories: unknown {bad[0]!r}; expected one of {valid}")
        categories = frozenset(Category(v) for v in values)
    operations: frozenset[AuditOperation] | None = None
    if "operations" in raw:
        values = _strings(raw["operations"], source, f"{where}: operations")
        known = {o.value for o in AuditOperation}
        bad = [v for v in values if v not in known]
        if bad:
            raise _bad(
                source, f"{where}: operations: unknown {bad[0]!r}; expected create, update, delete"
            )
        operations = frozenset(AuditOperation(v) for v in values)
    fields: tuple[str, ...] | None = None
    if "fields" in raw:
        values = _strings(raw["fields"], source, f"{where}: fields")
        for value in values:
            problem = path_problem(value)
            if problem is not None:
                raise _bad(source, f"{where}: fields: {value!r}: {problem}")
        fields = tuple(values)
    return Rule(name.strip(), approvals, categories, operations, fields)
