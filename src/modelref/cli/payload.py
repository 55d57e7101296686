"""Building a ``queue submit`` payload from ``--file`` and ``--set field.path=value`` edits.

``--set`` edits a copy of a base record (the live record for an update): the path is split on
``.``, numeric parts index lists (``config.download.0.file_url``), missing objects are created,
and the value is parsed as JSON when it parses (``true``, ``42``, ``["a"]``, ``null``), else
kept as a string (``--set description=Mostly NSFW``).
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path
from typing import Any

from modelref.cli.errors import UsageProblem

Json = dict[str, Any]


def parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_assignment(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a", "b", "c"], parsed value)."""
    path, sep, raw = text.partition("=")
    parts = path.strip().split(".")
    if not sep or any(not p for p in parts):
        raise UsageProblem(f"--set {text!r}: expected field.path=value")
    return parts, parse_value(raw)


def set_path(target: Json, parts: list[str], value: Any) -> None:
    """Assign ``value`` at ``parts`` inside ``target`` (in place)."""
    node: Any = target
    dotted = ".".join(parts)
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UsageProblem(f"--set {dotted}: no list item {part!r} (length {len(node)})")
            if last:
                node[int(part)] = value
                return
            node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
                return
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            elif not isinstance(child, dict | list):
                where = ".".join(parts[: depth + 1])
                raise UsageProblem(f"--set {dotted}: {where} is {child!r}, not an object")
            node = child
        else:
            where = ".".join(parts[:depth])
            raise UsageProblem(f"--set {dotted}: {where} is not an object or a list")


def apply_edits(base: Json, assignments: list[str]) -> Json:
    """A deep copy of ``base`` with every ``--set`` applied in order."""
    result = copy.deepcopy(base)
    for text in assignments:
        parts, value = parse_assignment(text)
        set_path(result, parts, value)
    return result


def typed_value_hint(message: str, assignments: list[str]) -> str | None:
    """A hint when an error names a field that a ``--set`` gave a non-string JSON value.

    ``--set version=1.5`` sets the number 1.5, which a string field refuses; the hint says how
    to pass the string.
    """
    for text in assignments:
        parts, value = parse_assignment(text)
        if isinstance(value, str) or value is None:
            continue
        dotted = ".".join(parts)
        if re.search(rf"(^|[\s.:]){re.escape(dotted)}\b", message):
            raw = text.partition("=")[2]
            kind = "a boolean" if isinstance(value, bool) else "a number"
            return (
                f"--set {dotted}={raw} gives {kind}, not a string; for the string write "
                f"--set '{dotted}=\"{raw}\"'"
            )
    return None


def read_file(path: str) -> Json:
    """A JSON object from ``path`` (``-`` reads stdin)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"--file {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise UsageProblem(f"--file {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise UsageProblem(f"--file {path}: expected a JSON object (one record)")
    return data
