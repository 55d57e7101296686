"""Approval rules: how many distinct approvers a change needs, from what it touches.

A :class:`Policy` is a default quorum plus rules; each rule names categories, operations and
field paths (any of them may be left open) and a quorum. A change needs the largest quorum
among the rules it matches (the default when none does). What a change *touches* is the set of
leaf paths that differ between the live record and the record the change would write
(:func:`touched_paths`, list items by index), so a rule on ``config.download.*.sha256sum`` sees
a new hash of the second download and not its ``known_slow_download`` flag. A delete touches
every field of the live record; a create every field it writes.

``upstream`` is not a quorum policy: it keeps upstream's behaviour (one approval approves, no
approval records). Every other policy records approvals and never counts the requester.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from modelref.domain.categories import AuditOperation, Category

UPSTREAM_NAME = "upstream"
CRITICAL_TWO_NAME = "critical-two"

#: The most approvers any rule may ask for (a typo like 20 should not lock a change forever).
MAX_APPROVALS = 10

#: Field paths ``critical-two`` treats as critical, whatever the category: the nsfw flag, the
#: baseline, and each download's URL, hash and file name.
CRITICAL_FIELDS: tuple[str, ...] = (
    "nsfw",
    "baseline",
    "config.download.*.file_url",
    "config.download.*.sha256sum",
    "config.download.*.file_name",
)
#: The text backend: the model repository a text worker's backend loads (``url``).
TEXT_BACKEND_FIELDS: tuple[str, ...] = ("url",)


@dataclass(frozen=True)
class Rule:
    """Changes matching every given filter need ``approvals`` distinct approvers.

    ``None`` leaves a filter open; ``fields`` match when the change touches one of them.
    """

    name: str
    approvals: int
    categories: frozenset[Category] | None = None
    operations: frozenset[AuditOperation] | None = None
    fields: tuple[str, ...] | None = None

    def matches(
        self, category: Category, operation: AuditOperation, touched: Iterable[str]
    ) -> bool:
        if self.categories is not None and category not in self.categories:
            return False
        if self.operations is not None and operation not in self.operations:
            return False
        if self.fields is None:
            return True
        return any(path_matches(pattern, path) for path in touched for pattern in self.fields)


@dataclass(frozen=True)
class Requirement:
    """How many distinct approvers a change needs, and the rules that asked for them."""

    approvals: int
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class Policy:
    """A named set of rules; ``quorum`` is False only for upstream's single-approval mode."""

    name: str
    default: int = 1
    rules: tuple[Rule, ...] = field(default_factory=tuple)
    quorum: bool = True

    @property
    def upstream(self) -> bool:
        return not self.quorum

    def required(
        self, category: Category, operation: AuditOperation, touched: Iterable[str]
    ) -> Requirement:
        """The quorum of a change that touches ``touched``: the largest matching rule's."""
        if not self.quorum:
            return Requirement(1)
        paths = list(touched)
        matched = [r for r in self.rules if r.matches(category, operation, paths)]
        most = max([self.default, *(r.approvals for r in matched)])
        return Requirement(most, tuple(r.name for r in matched if r.approvals == most))


UPSTREAM = Policy(UPSTREAM_NAME, quorum=False)

CRITICAL_TWO = Policy(
    CRITICAL_TWO_NAME,
    default=1,
    rules=(
        Rule("critical fields", 2, fields=CRITICAL_FIELDS),
        Rule(
            "text backend",
            2,
            categories=frozenset({Category.text_generation}),
            fields=TEXT_BACKEND_FIELDS,
        ),
        Rule("deletes", 2, operations=frozenset({AuditOperation.DELETE})),
    ),
)

BUILT_IN: dict[str, Policy] = {UPSTREAM_NAME: UPSTREAM, CRITICAL_TWO_NAME: CRITICAL_TWO}


# ---------------------------------------------------------------------- field paths
def path_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a field path (``a.b``, ``*`` for any key or list item)."""
    if not pattern or pattern != pattern.strip():
        return "must be a non-empty dotted path without surrounding spaces"
    parts = pattern.split(".")
    if any(not p or any(c.isspace() for c in p) for p in parts):
        return "every dotted segment must be non-empty and contain no spaces"
    if any("*" in p and p != "*" for p in parts):
        return "'*' must be a whole segment (it matches one key or list item)"
    return None


def path_matches(pattern: str, path: str) -> bool:
    """True if ``path`` is ``pattern`` or lies under it, or replaces an ancestor of it whole."""
    want, have = pattern.split("."), path.split(".") if path else []
    return all(w in ("*", h) for w, h in zip(want, have, strict=False))


def touched_paths(old: Any, new: Any) -> list[str]:
    """Leaf paths where ``old`` and ``new`` differ (lists by index, an absent key as null)."""
    return sorted(set(_walk(old, new, "")))


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _leaves(value: Any, prefix: str) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, _join(prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, _join(prefix, index))
    elif value is not None and prefix:
        yield prefix


def _walk(old: Any, new: Any, prefix: str) -> Iterator[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in old.keys() | new.keys():
            yield from _walk(old.get(key), new.get(key), _join(prefix, key))
    elif isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            yield from _walk(a, b, _join(prefix, index))
    elif _same_scalar(old, new):
        return
    elif isinstance(old, dict | list) or isinstance(new, dict | list):
        yield from _leaves(old, prefix)
        yield from _leaves(new, prefix)
        if old is not None and new is not None and prefix:
            yield prefix  # a value replaced by one of another shape
    elif prefix:
        yield prefix


def _same_scalar(old: Any, new: Any) -> bool:
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    return bool(old == new)
