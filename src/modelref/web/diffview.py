"""Presentation of a change's diff: field rows, readable long values and a side-by-side view.

Only layout lives here. What changed, and which changes are critical, comes from the domain
(:mod:`modelref.domain.diff`) through :class:`~modelref.service.catalog.CatalogService`.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from modelref.domain import diff as domain_diff
from modelref.domain import records
from modelref.domain.errors import ValidationFailed
from modelref.domain.queue_models import PendingChangeDiff

#: Strings longer than this are diffed word by word instead of shown whole twice.
LONG_TEXT = 48
_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass
class Segment:
    """A run of text that is unchanged (``same``), removed (``del``) or added (``ins``)."""

    kind: str
    text: str


@dataclass
class FieldRow:
    """One changed field as the change page shows it."""

    path: str
    change_type: str
    critical: bool
    style: str  # "words" | "items" | "plain"
    old: list[Segment] = field(default_factory=list)
    new: list[Segment] = field(default_factory=list)


@dataclass
class SideRow:
    """One line of the side-by-side JSON view; a side is blank when it has no line here."""

    left_no: int | None
    left: str
    left_kind: str
    right_no: int | None
    right: str
    right_kind: str


def show(value: Any) -> str:
    """A JSON value as a reviewer reads it: strings bare, everything else as JSON."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def word_diff(old: str, new: str) -> tuple[list[Segment], list[Segment]]:
    """Word-level diff of two texts: the old side marks removals, the new side additions."""
    a, b = _TOKENS.findall(old), _TOKENS.findall(new)
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            left.append(Segment("same", "".join(a[i1:i2])))
            right.append(Segment("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            left.append(Segment("del", "".join(a[i1:i2])))
        if j2 > j1:
            right.append(Segment("ins", "".join(b[j1:j2])))
    return left, right


def item_diff(old: list[Any], new: list[Any]) -> tuple[list[Segment], list[Segment]]:
    """Per-item diff of two lists (URL lists, download entries): one segment per item."""
    a = [show(item) for item in old]
    b = [show(item) for item in new]
    left: list[Segment] = []
    right: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        kind_old, kind_new = ("same", "same") if op == "equal" else ("del", "ins")
        left.extend(Segment(kind_old, text) for text in a[i1:i2])
        right.extend(Segment(kind_new, text) for text in b[j1:j2])
    return left, right


def field_row(category: str, item: dict[str, Any]) -> FieldRow:
    path = str(item["field_path"])
    old, new = item.get("old_value"), item.get("new_value")
    row = FieldRow(
        path=path,
        change_type=str(item["change_type"]),
        critical=domain_diff.is_critical(category, [path]),
        style="plain",
    )
    if isinstance(old, str) and isinstance(new, str) and max(len(old), len(new)) > LONG_TEXT:
        row.style = "words"
        row.old, row.new = word_diff(old, new)
    elif isinstance(old, list) and isinstance(new, list):
        row.style = "items"
        row.old, row.new = item_diff(old, new)
    else:
        if item["change_type"] != "added":
            row.old = [Segment("del", _pretty(old))]
        if item["change_type"] != "removed":
            row.new = [Segment("ins", _pretty(new))]
    return row


def field_rows(diff: PendingChangeDiff) -> list[FieldRow]:
    return [field_row(diff.category.value, item) for item in diff.field_diffs]


def _pretty(value: Any) -> str:
    if isinstance(value, dict | list) and value:
        return json.dumps(value, ensure_ascii=False, indent=2)
    return show(value)


def _lines(record: dict[str, Any] | None) -> list[str]:
    if record is None:
        return []
    return json.dumps(record, ensure_ascii=False, indent=2).splitlines()


def comparable(diff: PendingChangeDiff, *, legacy: bool = False) -> dict[str, Any] | None:
    """The live record spelled as a validated payload is (category defaults filled in), so the
    side-by-side view highlights what the field table lists, not defaults the file omits."""
    current = diff.current_state
    if current is None or legacy or diff.proposed_state is None:
        return current
    try:
        return records.validate_record(diff.category, current)
    except ValidationFailed:
        return current


def side_by_side(current: dict[str, Any] | None, proposed: dict[str, Any] | None) -> list[SideRow]:
    """Both records as pretty JSON, aligned line by line, changed lines marked."""
    a, b = _lines(current), _lines(proposed)
    rows: list[SideRow] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend(
                SideRow(i + 1, a[i], "same", j + 1, b[j], "same")
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        span = max(i2 - i1, j2 - j1)
        for k in range(span):
            i, j = i1 + k, j1 + k
            left = i < i2
            right = j < j2
            rows.append(
                SideRow(
                    i + 1 if left else None,
                    a[i] if left else "",
                    "del" if left else "blank",
                    j + 1 if right else None,
                    b[j] if right else "",
                    "ins" if right else "blank",
                )
            )
    return rows
