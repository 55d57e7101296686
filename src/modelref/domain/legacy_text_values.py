"""Cell-level value rules of the text reference, shared by the CSV and db.json conversions.

They mirror the text repo's ``convert.py`` (float arithmetic, round-half-even size tags,
second-segment ``model_name``) because its published numbers and tags are the compatibility
target (spec data-model §6).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from modelref.domain.errors import ValidationFailed

JsonDict = dict[str, Any]

_SPACE_RUN = re.compile(" {2,}")


def parameters_from_bn(text: str) -> int:
    """``parameters_bn`` text → parameter count, floored after a *float* product like convert.py.

    Using floats (not Decimal) is deliberate: it is what produced the published numbers.
    """
    try:
        value = float(text)
    except ValueError:
        raise ValidationFailed(f"parameters_bn must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValidationFailed(f"parameters_bn must be a finite non-negative number, got {text!r}")
    return int(value * 1e9)


def bn_from_parameters(parameters: int) -> str:
    """Shortest decimal text that ``parameters_from_bn`` maps back to exactly ``parameters``.

    The float product can land one below the exact value (``1.001`` → 1000999999), so the
    shortest candidates *around* the exact quotient are tried, then the mid-point of the
    interval that floors to ``parameters``, which always works.
    """
    exact = Decimal(parameters) / Decimal(10**9)
    for digits in range(10):
        step = Decimal(1).scaleb(-digits)
        base = exact.quantize(step, rounding=ROUND_DOWN)
        for candidate in (base, base + step):
            text = _plain(candidate)
            if parameters_from_bn(text) == parameters:
                return text
    return _plain((Decimal(parameters) + Decimal("0.5")) / Decimal(10**9))


def _plain(value: Decimal) -> str:
    """Decimal without exponent or trailing zeros (``3``, ``0.124``, ``1.5``)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def split_tags(text: str) -> list[str]:
    """CSV ``tags`` cell → trimmed, non-empty tags in file order."""
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_settings(text: str) -> JsonDict | None:
    """CSV ``settings`` cell (a JSON object) → dict, or None when the cell is empty."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"settings is not valid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise ValidationFailed("settings must be a JSON object")
    return value


def record_parameters(record: Mapping[str, Any]) -> int:
    """The record's parameter count (``parameters`` or input alias ``parameters_count``)."""
    value = record.get("parameters", record.get("parameters_count"))
    if isinstance(value, bool) or value is None:
        raise ValidationFailed(f"{record.get('name')}: parameters must be an integer")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationFailed(f"{record.get('name')}: parameters must be an integer") from None
    if not number.is_finite() or number != number.to_integral_value():
        raise ValidationFailed(f"{record.get('name')}: parameters must be an integer")
    return int(number)


def size_tag(parameters_bn: float) -> str:
    """convert.py's size tag: billions rounded half-to-even (``0.124`` → ``0B``, 2.5 → ``2B``)."""
    return f"{round(parameters_bn):.0f}B"


def model_name_of(name: str) -> str:
    """convert.py's ``model_name``: the second ``/`` segment, or the whole name."""
    parts = name.split("/")
    return parts[1] if len(parts) > 1 else name


def auto_display_name(name: str) -> str:
    """convert.py's display name: ``model_name`` with ``-``/``_`` as spaces, runs collapsed."""
    return _SPACE_RUN.sub(" ", model_name_of(name).replace("-", " ").replace("_", " "))
