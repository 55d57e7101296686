"""Text model names: backend variants, the base-name grouper and the text name rules.

Backend-prefixed names (``aphrodite/…``, ``koboldcpp/…``) are never stored; they exist only in
the legacy db.json view, generated from each base entry (spec data-model §8). The grouper gives
``text_model_group``: the model's name with size, version, quantisation and flavour suffixes
removed, so that the sizes and revisions of one family share a group. Its rules were derived
from, and are tested against, every ``text_model_group`` in the upstream-converted catalog.
"""

from __future__ import annotations

import re

from modelref.domain.categories import TEXT_BACKEND_PREFIXES
from modelref.domain.errors import ValidationFailed

_APHRODITE, _KOBOLDCPP = TEXT_BACKEND_PREFIXES


def has_backend_prefix(name: str) -> bool:
    """True if ``name`` starts with a text backend prefix (case-sensitive, like upstream)."""
    return name.startswith(TEXT_BACKEND_PREFIXES)


def backend_variants(name: str) -> list[str]:
    """The two legacy db.json names generated for base name ``name``.

    ``aphrodite/`` keeps the full name; ``koboldcpp/`` keeps what follows the first ``/``
    (the whole name when there is none).
    """
    _org, sep, rest = name.partition("/")
    return [f"{_APHRODITE}{name}", f"{_KOBOLDCPP}{rest if sep else name}"]


def text_name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a stored text model name, or ``None`` when it can."""
    if has_backend_prefix(name):
        prefixes = ", ".join(TEXT_BACKEND_PREFIXES)
        return (
            f"Model name {name!r} contains a backend prefix ({prefixes}). Submit only the base "
            "model name; the backend variants are generated from it."
        )
    if "://" in name:
        return f"Model name {name!r} must not contain '://' (a URL is not a model name)."
    return None


def check_text_name(name: str) -> str:
    """Return ``name`` unchanged, or raise ``ValidationFailed`` if it breaks the text name rules."""
    problem = text_name_problem(name)
    if problem is not None:
        raise ValidationFailed(problem)
    return name


# --- the base-name grouper --------------------------------------------------------------------
# Each rule removes its FIRST match only: later matches are usually part of the family name
# (`mpt-1b-redpajama-200b` -> `mpt-redpajama-200b`, `Behemoth-v1.1-Magnum-v4` keeps `-v4`).

#: Parameter count: `13B`, `1.3b`, `125M`, `7b1`, MoE `4x8B`; never right after a letter, so
#: active-parameter tags (`A3B`, `E4B`) stay.
_SIZE = re.compile(r"(?<![A-Za-z])\d+(?:x\d)?(?:\.\d+)?[BbMm]\d*(?![A-Za-z])")
#: Version tag: `-v0.1`, `_V2`, `-V1.1.0`, `-v01`; not `-V8p4`.
_VERSION = re.compile(r"[-_][vV]\d+(?:\.\d+)*(?![A-Za-z0-9])")
#: Flavour words that do not make a new family.
_FLAVOUR = re.compile(
    r"-(?:instruct|chat|base|thinking|reasoning|preview|uncensored)(?=-|$)", re.IGNORECASE
)
#: Release dates: `-2507`, `-0414`, `-08-2024`.
_DATE = re.compile(r"-(?:\d{2}-)?\d{4}(?=-|$)")
#: A version number in front of the name: `4.2.0-Broken-Tutu`.
_LEADING_VERSION = re.compile(r"^\d+(?:\.\d+)+[-_]")
#: GGUF quantisation: `Q4_K_M`, `q4_0`, `IQ3_XS`.
_QUANT = re.compile(r"[-_]?(?<![A-Za-z0-9])I?Q\d+(?:_[A-Za-z0-9]{1,2})*", re.IGNORECASE)
_SEPARATOR_RUN = re.compile(r"([-_])\1+")
_EDGE_CHARS = "-_. "


def text_model_group(name: str) -> str:
    """The family a text model belongs to, e.g. ``Org/Llama-3-8B-Instruct-Q4_K_M`` -> ``Llama-3``.

    Only the part after the last ``/`` counts (the organisation is not part of the family).
    Falls back to that part unchanged if the rules would leave nothing.
    """
    base = name.rsplit("/", 1)[-1]
    group = _SEPARATOR_RUN.sub(r"\1", _SIZE.sub("", base, count=1))
    for rule in (_VERSION, _FLAVOUR, _DATE, _LEADING_VERSION, _QUANT):
        group = rule.sub("", group, count=1)
    group = _SEPARATOR_RUN.sub(r"\1", group).strip(_EDGE_CHARS)
    return group or base
