"""Check one download entry: it resolves, is the file (not a page), has the size and the sha256.

HEAD first, falling back to a ranged GET (some hosts refuse HEAD or send no length); then,
when the sha256 policy says so, one streamed GET hashes the whole file, reporting progress.
A network failure makes the entry *unreachable* (the job retries, then settles as
``unchecked``); it is never reported as a pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from modelref.domain import checks
from modelref.domain.checks import Download, Finding, Severity
from modelref.service.checks.fetch import (
    Answer,
    BadLink,
    Budget,
    Fetcher,
    OverBudget,
    Refused,
    Unreachable,
)
from modelref.settings import Settings

#: (field, bytes done, bytes total or None): called while a file is hashed.
Progress = Callable[[str, int, int | None], None]

#: Answers that may mean "try again later" rather than "this link is broken".
TRANSIENT = frozenset({408, 425, 429, 500, 502, 503, 504})
LOGIN = frozenset({401, 403, 407})
GONE = frozenset({404, 410})
SNIFF_BYTES = 1024

E, W, INFO = Severity.error, Severity.warning, Severity.info


@dataclass
class Observed:
    """What one answer said about the file."""

    status: int
    content_type: str
    size: int | None
    first: bytes = b""


@dataclass
class FileReport:
    """The findings about one download; ``unreachable`` says why it could not be checked."""

    findings: list[Finding] = field(default_factory=list)
    size: int | None = None
    unreachable: str | None = None


class Prober:
    """Runs the model-file checks of one download entry."""

    def __init__(self, fetcher: Fetcher, settings: Settings) -> None:
        self.fetcher = fetcher
        self.mode = settings.verify_sha256
        self.cap = settings.verify_sha256_max_bytes

    def check(self, d: Download, budget: Budget, progress: Progress) -> FileReport:
        report = FileReport()
        url_field = d.field("file_url")
        try:
            seen = self._look(d.file_url, budget)
            if not self._answer_ok(d, seen, report):
                return report
            self._size(d, seen.size, report)
            self._sha256(d, seen.size, budget, progress, report)
        except Refused as exc:
            report.findings.append(checks.finding(checks.ADDRESS, E, url_field, str(exc)))
        except BadLink as exc:
            report.findings.append(checks.finding(checks.URL, E, url_field, str(exc)))
        except Unreachable as exc:
            report.unreachable = str(exc)
            report.findings.append(checks.finding(checks.URL, W, url_field, f"unchecked: {exc}"))
        return report

    # ------------------------------------------------------------------ steps
    def _look(self, url: str, budget: Budget) -> Observed:
        """HEAD; a ranged GET of the first bytes when HEAD is refused or says no size."""
        with self.fetcher.open("HEAD", url, budget) as head:
            seen = Observed(head.status, head.content_type(), head.size())
        if seen.status == 200 and seen.size is not None:
            return seen
        if seen.status in GONE:
            return seen
        headers = {"Range": f"bytes=0-{SNIFF_BYTES - 1}"}
        with self.fetcher.open("GET", url, budget, headers) as get:
            return Observed(get.status, get.content_type(), get.size(), _first(get, budget))

    def _answer_ok(self, d: Download, seen: Observed, report: FileReport) -> bool:
        url_field = d.field("file_url")
        status = seen.status
        if status in GONE:
            message = f"not found: the server answered {status}"
        elif status in LOGIN:
            message = f"the server answered {status}: the file needs a login or is forbidden"
        elif status in TRANSIENT:
            raise Unreachable(f"the server answered {status} (try again later)")
        elif status not in (200, 206):
            message = f"the server answered {status}, not the file"
        else:
            problem = checks.content_problem(seen.content_type, seen.first, d.file_name)
            if problem is not None:
                report.findings.append(checks.finding(checks.CONTENT_TYPE, E, url_field, problem))
                return False
            kind = seen.content_type.split(";", 1)[0].strip() or "no content type"
            size = f"{seen.size:,} bytes" if seen.size is not None else "size not given"
            report.findings.append(
                checks.finding(checks.URL, INFO, url_field, f"answered {status} ({kind}, {size})")
            )
            return True
        report.findings.append(checks.finding(checks.URL, E, url_field, message))
        return False

    def _size(self, d: Download, size: int | None, report: FileReport) -> None:
        report.size = size
        if d.size_bytes is None or size is None or size == d.size_bytes:
            return
        report.findings.append(
            checks.finding(
                checks.SIZE,
                E,
                d.field("size_bytes"),
                f"the server sends {size:,} bytes but size_bytes says {d.size_bytes:,}",
            )
        )

    def _sha256(
        self, d: Download, size: int | None, budget: Budget, progress: Progress, r: FileReport
    ) -> None:
        sha_field = d.field("sha256sum")
        if d.sha256 is None:
            stated = d.stated_sha256 if d.stated_sha256 is not None else "nothing"
            r.findings.append(
                checks.finding(
                    checks.SHA256, W, sha_field, f"no sha256 to verify (the record says {stated!r})"
                )
            )
            return
        reason = checks.hash_plan(self.mode, self.cap, size)
        if reason is not None:
            r.findings.append(checks.finding(checks.SHA256, INFO, sha_field, reason))
            return
        limit = self.cap if self.mode == "auto" else None
        hasher = hashlib.sha256()
        done = 0
        try:
            with self.fetcher.open("GET", d.file_url, budget) as get:
                if get.status != 200:
                    raise Unreachable(f"the full download answered {get.status}")
                total = get.size() if get.size() is not None else size
                first = b""
                for chunk in get.chunks(budget):
                    if len(first) < SNIFF_BYTES:
                        first += chunk[: SNIFF_BYTES - len(first)]
                    hasher.update(chunk)
                    done += len(chunk)
                    if limit is not None and done > limit:
                        r.findings.append(
                            checks.finding(
                                checks.SHA256,
                                INFO,
                                sha_field,
                                f"not verified: the file is over the {limit:,}-byte limit",
                            )
                        )
                        return
                    progress(d.field("file_url"), done, total)
        except OverBudget as exc:
            text = f"not verified: {exc}"
            r.findings.append(checks.finding(checks.SHA256, INFO, sha_field, text))
            return
        self._hashed(d, done, first, hasher.hexdigest(), r)

    def _hashed(self, d: Download, done: int, first: bytes, got: str, r: FileReport) -> None:
        problem = checks.content_problem("", first, d.file_name)
        if problem is not None:
            r.findings.append(checks.finding(checks.CONTENT_TYPE, E, d.field("file_url"), problem))
        if r.size is not None and r.size != done:
            raise Unreachable(f"the server announced {r.size:,} bytes but sent {done:,}")
        if r.size is None:
            self._size(d, done, r)
        sha_field = d.field("sha256sum")
        if got == d.sha256:
            text = f"sha256 verified over {done:,} bytes"
            r.findings.append(checks.finding(checks.SHA256, INFO, sha_field, text))
        else:
            text = f"the file's sha256 is {got}, the record says {d.sha256} ({done:,} bytes read)"
            r.findings.append(checks.finding(checks.SHA256, E, sha_field, text))


def _first(answer: Answer, budget: Budget) -> bytes:
    data = b""
    for chunk in answer.chunks(budget, SNIFF_BYTES):
        data += chunk
        if len(data) >= SNIFF_BYTES:
            break
    return data[:SNIFF_BYTES]
