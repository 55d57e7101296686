"""Identity keys of a record and the duplicate findings they give (pure rules).

Each live record and each open change is indexed under a few keys: the sha256 and the URL of
every download (across all categories: the same file under two names is the problem), the
name folded for case, whitespace and a text backend prefix (per category), and for text
models the generated ``koboldcpp/`` name and the ``Author/`` part. A proposal whose key equals
another model's gets a warning naming that model.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from modelref.domain import checks
from modelref.domain.categories import TEXT_BACKEND_PREFIXES, Category
from modelref.domain.checks import Finding, Severity
from modelref.domain.text_variants import backend_variants

_SPACE = re.compile(r"\s+")
#: How many other models one finding names before it says "and N more".
NAMED = 3
#: Most holders of one key a lookup returns: a sha256 that thousands of open changes share
#: costs the same lookup as one held once, and its finding says "at least".
MATCHES_PER_KEY = 8


class KeyKind(StrEnum):
    sha256 = "sha256"
    url = "url"
    name = "name"
    variant = "variant"
    author = "author"


@dataclass(frozen=True)
class IdentityKey:
    """One key of one record: ``value`` is the folded form, ``display`` the form as written."""

    kind: KeyKind
    scope: str
    value: str
    display: str
    field: str

    @cached_property
    def digest(self) -> str:
        raw = f"{self.kind.value}\x00{self.scope}\x00{self.value}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyMatch:
    """Another model holding a key: live (``change_id`` None) or in an open change."""

    digest: str
    display: str
    field: str
    category: str
    model_name: str
    change_id: int | None


def fold_name(name: str) -> str:
    """The name as compared for identity: no backend prefix, no whitespace, case-folded."""
    folded = _SPACE.sub("", name).casefold()
    for prefix in TEXT_BACKEND_PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix) :]
    return folded


def fold_url(url: str) -> str:
    """Scheme and host case-folded, default port and fragment dropped; path and query kept."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.strip()
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path, parts.query, ""))


def keys(category: Category, name: str, record: dict[str, Any] | None) -> list[IdentityKey]:
    """Every identity key of a record named ``name`` in ``category``."""
    found: list[IdentityKey] = []
    for d in checks.downloads(record):
        sha = d.sha256
        if sha is not None:
            found.append(IdentityKey(KeyKind.sha256, "", sha, sha, d.field("sha256sum")))
        if d.file_url:
            found.append(
                IdentityKey(KeyKind.url, "", fold_url(d.file_url), d.file_url, d.field("file_url"))
            )
    cat = category.value
    found.append(IdentityKey(KeyKind.name, cat, fold_name(name), name, "name"))
    if category is Category.text_generation:
        variant = backend_variants(name)[1]
        found.append(IdentityKey(KeyKind.variant, cat, fold_name(variant), variant, "name"))
        author, sep, _model = name.partition("/")
        if sep and author.strip():
            folded = author.strip().casefold()
            found.append(IdentityKey(KeyKind.author, cat, folded, author.strip(), "name"))
    return found


def _where(match: KeyMatch) -> str:
    model = f"{match.category}/{match.model_name!r}"
    if match.change_id is None:
        return f"live model {model}"
    return f"open change #{match.change_id} ({model})"


def _named(matches: list[KeyMatch]) -> str:
    shown = ", ".join(_where(m) for m in matches[:NAMED])
    more = len(matches) - NAMED
    if len(matches) >= MATCHES_PER_KEY:  # the lookup stopped there: there may be more
        return f"{shown} and at least {more} more"
    return shown + (f" and {more} more" if more > 0 else "")


def findings(
    category: Category, name: str, mine: Iterable[IdentityKey], matches: Iterable[KeyMatch]
) -> list[Finding]:
    """Warnings for keys that other models hold (the model itself never counts)."""
    by_digest: dict[str, list[KeyMatch]] = {}
    for m in matches:
        if (m.category, m.model_name) != (category.value, name):
            by_digest.setdefault(m.digest, []).append(m)
    out: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for key in mine:
        others = sorted(
            by_digest.get(key.digest, []),
            key=lambda m: (m.change_id is not None, m.change_id or 0, m.category, m.model_name),
        )
        if key.kind is KeyKind.author:  # the same spelling is no finding
            others = [m for m in others if m.display != key.display]
        if not others or (key.kind.value, key.field) in seen:
            continue
        seen.add((key.kind.value, key.field))
        out.append(_finding(key, others))
    return out


def _finding(key: IdentityKey, others: list[KeyMatch]) -> Finding:
    warn = Severity.warning
    if key.kind is KeyKind.sha256:
        text = f"the same sha256 is already used by {_named(others)}"
        return checks.finding(checks.DUPLICATE_SHA256, warn, key.field, text)
    if key.kind is KeyKind.url:
        text = f"the same download URL is already used by {_named(others)}"
        return checks.finding(checks.DUPLICATE_URL, warn, key.field, text)
    if key.kind is KeyKind.name:
        text = (
            f"{key.display!r} equals {_named(others)} but for case, whitespace or a backend prefix"
        )
        return checks.finding(checks.SIMILAR_NAME, warn, key.field, text)
    if key.kind is KeyKind.variant:
        text = f"the generated legacy name {key.display!r} is also generated by {_named(others)}"
        return checks.finding(checks.VARIANT_COLLISION, warn, key.field, text)
    spellings = sorted({m.display for m in others})
    text = (
        f"the author {key.display!r} differs only in case from "
        f"{', '.join(repr(s) for s in spellings)} ({_named(others)})"
    )
    return checks.finding(checks.AUTHOR_CASE, warn, key.field, text)
