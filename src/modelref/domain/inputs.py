"""One input policy for every edge: limits and character rules, enforced by the services.

The API, the reviewer UI, the CLI and the library all reach the same service calls, so a value
refused here is refused everywhere, with the same message naming the field, and on both
database engines alike (PostgreSQL cannot store NUL characters or lone surrogates; SQLite
would; neither will see them). Edges may check earlier (FastAPI's ``max_length``), never
looser. Model-name rules live with the record rules (``records_base.name_problem``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from modelref.domain.errors import ValidationFailed

#: Largest id anywhere: exact in JSON numbers (2**53) and far inside 64-bit columns.
MAX_ID = 2**53
MAX_TITLE = 120
MAX_REASON = 500
MAX_NOTES = 2000
MAX_JOB_ID = 120
MAX_USER_ID = 128
MAX_USERNAME = 256
MAX_FILTER_TEXT = 200
#: Ids in one request (approve/reject, apply, diffs): a large batch fits, a flood does not.
MAX_IDS = 10_000
#: Values in one list filter (``requested_by``) of a listing or a purge.
MAX_FILTER_VALUES = 100
#: Largest listing offset (deeper paging is a scan nobody needs).
MAX_OFFSET = 10**9
#: Nesting of a record payload: real records nest 4-5 levels.
MAX_DEPTH = 32

#: Characters that reorder or hide text: refused in model names (spoofing), never needed.
BIDI_AND_INVISIBLE = frozenset(
    [chr(c) for c in range(0x202A, 0x202F)]  # LRE RLE PDF LRO RLO
    + [chr(c) for c in range(0x2066, 0x206A)]  # LRI RLI FSI PDI
    + ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u200e", "\u200f", "\u061c"]
)


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored on every engine (NUL, lone surrogates), or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "must be valid Unicode (no lone surrogates)"
    return None


def text(value: str | None, field: str, max_length: int, *, required: bool = False) -> str | None:
    """``value`` trimmed (None when empty), or :class:`ValidationFailed` naming ``field``."""
    if value is None:
        cleaned = ""
    elif not isinstance(value, str):
        raise ValidationFailed(f"{field}: must be a string")
    else:
        problem = text_problem(value)
        if problem is not None:
            raise ValidationFailed(f"{field}: {problem}")
        cleaned = value.strip()
    if not cleaned:
        if required:
            raise ValidationFailed(f"{field}: must not be blank")
        return None
    if len(cleaned) > max_length:
        raise ValidationFailed(f"{field}: at most {max_length} characters")
    return cleaned


def ident(value: object, field: str) -> int:
    """A positive id within :data:`MAX_ID`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationFailed(f"{field}: ids must be integers, got {value!r}")
    if value <= 0:
        raise ValidationFailed(f"{field}: ids must be positive, got {value}")
    if value > MAX_ID:
        raise ValidationFailed(f"{field}: ids must be at most {MAX_ID}, got {value}")
    return value


def in_range(value: int) -> bool:
    """Whether an id can exist at all (lookups of others answer "not found")."""
    return 0 < value <= MAX_ID


def ids(values: Iterable[object] | None, field: str, cap: int = MAX_IDS) -> list[int]:
    """Distinct valid ids in first-seen order, at most ``cap`` of them (linear time)."""
    seen: dict[int, None] = {}
    for value in values or ():
        seen[ident(value, field)] = None
        if len(seen) > cap:
            raise ValidationFailed(f"{field}: at most {cap} change ids per request")
    return list(seen)


def filter_values(values: Iterable[str] | None, field: str, max_length: int) -> set[str]:
    """A list filter's distinct, trimmed, non-empty values (at most MAX_FILTER_VALUES)."""
    found: set[str] = set()
    for value in values or ():
        cleaned = text(value, field, max_length)
        if cleaned is not None:
            found.add(cleaned)
        if len(found) > MAX_FILTER_VALUES:
            raise ValidationFailed(f"{field}: at most {MAX_FILTER_VALUES} values")
    return found


def depth_problem(value: Any, limit: int = MAX_DEPTH) -> str | None:
    """Why a JSON value nests too deep or holds unstorable text, without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            if level > limit:
                return f"nests deeper than {limit} levels"
            for key, child in item.items():
                if isinstance(key, str) and text_problem(key):
                    return f"key {key!r}: {text_problem(key)}"
                stack.append((child, level + 1))
        elif isinstance(item, list):
            if level > limit:
                return f"nests deeper than {limit} levels"
            stack.extend((child, level + 1) for child in item)
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                return problem
    return None


def check_payload(value: Any, field: str = "payload") -> None:
    """Refuse a payload that nests too deep or carries text no engine can store."""
    problem = depth_problem(value)
    if problem is not None:
        raise ValidationFailed(f"{field}: {problem}")


def parse_json(raw: str, field: str) -> Any:
    """Parse JSON typed by a person (UI, CLI): bounded nesting, errors naming the field."""
    # Count brackets before parsing: the parser itself recurses and a 10,000-deep document
    # would exhaust the interpreter's stack before any check could run.
    level = deepest = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            level += 1
            deepest = max(deepest, level)
        elif ch in "]}":
            level -= 1
    if deepest > MAX_DEPTH:
        raise ValidationFailed(f"{field}: nests deeper than {MAX_DEPTH} levels")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{field}: not valid JSON ({exc.msg} at line {exc.lineno})"
        ) from None
    check_payload(data, field)
    return data
