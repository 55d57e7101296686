"""Review checks: findings and states, and what a record asks the checker to verify.

A change's checks are in one of four states: ``pending`` (queued), ``running``, ``done`` (every
download gave a definite answer) and ``unchecked`` (some download could not be reached; the
findings say why). ``unchecked`` is never a pass. Findings are ``error``, ``warning`` or
``info``; duplicate and identity findings are warnings (:mod:`modelref.domain.identity`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class CheckState(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    unchecked = "unchecked"


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"


#: Check ids (the ``check`` of a finding).
URL = "url"
ADDRESS = "address"
CONTENT_TYPE = "content_type"
SIZE = "size"
SHA256 = "sha256"
DUPLICATE_SHA256 = "duplicate_sha256"
DUPLICATE_URL = "duplicate_url"
SIMILAR_NAME = "similar_name"
VARIANT_COLLISION = "variant_collision"
AUTHOR_CASE = "author_case"


class Finding(BaseModel):
    """One thing a check found, at the record field it is about."""

    check: str
    severity: Severity
    field: str = Field(description="Dotted path in the record, e.g. config.download.0.file_url")
    message: str


class CheckProgress(BaseModel):
    """How far a running check job is (updated with its heartbeat)."""

    field: str | None = Field(default=None, description="The download being checked")
    bytes_done: int = 0
    bytes_total: int | None = None


class ChangeChecks(BaseModel):
    """The checks of one change, as ``GET .../changes/{id}/checks`` returns them."""

    change_id: int
    state: CheckState
    findings: list[Finding] = Field(default_factory=list)
    progress: CheckProgress | None = None
    attempts: int = 0
    updated_at: int | None = None


class ChecksSummary(BaseModel):
    """The counts a list or a diff shows (modelref extension of the diff response)."""

    state: CheckState
    errors: int = 0
    warnings: int = 0
    infos: int = 0

    @classmethod
    def of(cls, checks: ChangeChecks) -> ChecksSummary:
        count = {s: 0 for s in Severity}
        for finding in checks.findings:
            count[finding.severity] += 1
        return cls(
            state=checks.state,
            errors=count[Severity.error],
            warnings=count[Severity.warning],
            infos=count[Severity.info],
        )


def finding(check: str, severity: Severity, field: str, message: str) -> Finding:
    return Finding(check=check, severity=severity, field=field, message=message)


# --- what a record asks to be checked ----------------------------------------------------------

_HEX64 = re.compile(r"[0-9a-f]{64}")

#: A record's ``size_on_disk_bytes`` may differ from the bytes served by this fraction of it:
#: it is measured on disk and some records count a small config file or not. A download's own
#: ``size_bytes`` must match exactly.
SIZE_TOLERANCE = 0.01


def digest(raw: object) -> str | None:
    """A stated sha256 as lower-case hex, or ``None`` for ``FIXME``, blanks and placeholders."""
    if not isinstance(raw, str):
        return None
    value = raw.strip().lower()
    if not _HEX64.fullmatch(value) or len(set(value)) == 1:
        return None
    return value


@dataclass(frozen=True)
class Download:
    """One entry of ``config.download`` as the checker needs it."""

    index: int
    file_name: str
    file_url: str
    stated_sha256: str | None
    size_bytes: int | None

    def field(self, name: str) -> str:
        return f"config.download.{self.index}.{name}"

    @property
    def sha256(self) -> str | None:
        return digest(self.stated_sha256)


def downloads(record: dict[str, Any] | None) -> list[Download]:
    """The downloads of a (v2) record, in order; entries without a URL are skipped."""
    config = (record or {}).get("config") or {}
    entries = config.get("download") if isinstance(config, dict) else None
    found = []
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(entry, dict) or not isinstance(entry.get("file_url"), str):
            continue
        size = entry.get("size_bytes")
        found.append(
            Download(
                index=index,
                file_name=str(entry.get("file_name") or ""),
                file_url=entry["file_url"].strip(),
                stated_sha256=entry.get("sha256sum")
                if isinstance(entry.get("sha256sum"), str)
                else None,
                size_bytes=size if isinstance(size, int) and not isinstance(size, bool) else None,
            )
        )
    return found


def stated_size(record: dict[str, Any] | None) -> int | None:
    size = (record or {}).get("size_on_disk_bytes")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _download_facts(record: dict[str, Any] | None) -> tuple[Any, ...]:
    files = tuple(
        (d.file_url, (d.stated_sha256 or "").lower(), d.size_bytes) for d in downloads(record)
    )
    return files, stated_size(record)


def touches_downloads(proposed: dict[str, Any] | None, live: dict[str, Any] | None) -> bool:
    """Whether a proposal changes what workers download (URLs, digests, sizes)."""
    if not downloads(proposed):
        return False
    return live is None or _download_facts(proposed) != _download_facts(live)


def size_problem(served: int, stated: int) -> str | None:
    """Why ``served`` bytes do not match a record's ``size_on_disk_bytes``, or ``None``."""
    if abs(served - stated) <= stated * SIZE_TOLERANCE:
        return None
    return (
        f"the files are {served:,} bytes but size_on_disk_bytes says {stated:,} "
        f"(more than {SIZE_TOLERANCE:.0%} apart)"
    )


def hash_plan(mode: str, cap: int, size: int | None) -> str | None:
    """``None`` when the sha256 should be streamed, else why it is not."""
    if mode == "never":
        return "not verified (MODELREF_VERIFY_SHA256=never)"
    if mode == "auto" and size is not None and size > cap:
        return (
            f"not verified: {size:,} bytes is over the {cap:,}-byte limit of "
            "MODELREF_VERIFY_SHA256=auto"
        )
    return None


#: File names whose content is text, so a ``text/*`` or JSON content type is right for them.
TEXT_FILE_SUFFIXES = (".json", ".yaml", ".yml", ".txt", ".md", ".csv", ".cfg", ".ini", ".toml")
_HTML_START = (b"<!doctype html", b"<html", b"<head", b"<body")


def content_problem(content_type: str, first_bytes: bytes, file_name: str) -> str | None:
    """Why an answer is not the model file (an HTML page, a text type), or ``None``."""
    kind = content_type.split(";", 1)[0].strip().lower()
    start = first_bytes[:1024].lstrip().lower()
    if kind in ("text/html", "application/xhtml+xml") or start.startswith(_HTML_START):
        return (
            f"the server sent an HTML page ({kind or 'no content type'}), not the file: an "
            "error page or a login wall"
        )
    textual = file_name.lower().endswith(TEXT_FILE_SUFFIXES)
    if not textual and (kind.startswith("text/") or kind in ("application/json", "text/xml")):
        return f"expected a binary file, the server sent {kind}"
    return None
