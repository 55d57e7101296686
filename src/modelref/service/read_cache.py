"""Serialized catalog reads, cached per (category, catalog version) with strong ETags.

The cache is shared by every instance's fast path and its FastAPI fallback routes. Freshness
across processes: the catalog's per-category versions are re-read with one small indexed query
at most every ``interval`` seconds (0.5 s by default), so an apply committed by any process is
served by every other process within ``interval`` plus one query's time (well under 1 s).
The container registers :meth:`ReadCache.on_commit` on the database, so a catalog write
committed by this process (from any edge) is served by it at once.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from modelref.domain.categories import LEGACY_CATEGORIES, Category
from modelref.domain.errors import ModelrefError
from modelref.service.catalog import CatalogService
from modelref.service.rendering import dump_v2
from modelref.store.unit_of_work import Transaction

log = logging.getLogger("modelref.cache")

_CATEGORIES = {c.value: c for c in Category}

#: Entries below this size are not worth compressing.
GZIP_MIN_BYTES = 1024
JSON_TYPE = b"application/json"


def _etag(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


@dataclass
class Rendered:
    """One serialized body with its precomputed headers (identity and gzip variants)."""

    body: bytes
    etag: bytes
    gz_body: bytes | None
    headers: list[tuple[bytes, bytes]]
    gz_headers: list[tuple[bytes, bytes]]
    not_modified_headers: list[tuple[bytes, bytes]]

    @classmethod
    def of(cls, body: bytes, version: int) -> Rendered:
        etag = _etag(body)
        common = [
            (b"etag", etag),
            (b"cache-control", b"no-cache"),
            (b"vary", b"accept-encoding"),
        ]
        gz_body = (
            gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        )
        headers = [
            (b"content-type", JSON_TYPE),
            (b"content-length", str(len(body)).encode()),
            *common,
        ]
        gz_headers = headers
        if gz_body is not None:
            gz_headers = [
                (b"content-type", JSON_TYPE),
                (b"content-length", str(len(gz_body)).encode()),
                (b"content-encoding", b"gzip"),
                *common,
            ]
        return cls(body, etag, gz_body, headers, gz_headers, common)

    def matches(self, if_none_match: bytes) -> bool:
        """Weak comparison, as RFC 9110 prescribes for If-None-Match."""
        if if_none_match == self.etag:
            return True
        if if_none_match.strip() == b"*":
            return True
        for tag in if_none_match.split(b","):
            tag = tag.strip()
            if tag.startswith(b"W/"):
                tag = tag[2:]
            if tag == self.etag:
                return True
        return False

    def response(
        self, if_none_match: bytes | None, accept_gzip: bool
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, headers, body) for a GET with these request headers."""
        if if_none_match is not None and self.matches(if_none_match):
            return 304, self.not_modified_headers, b""
        if accept_gzip and self.gz_body is not None:
            return 200, self.gz_headers, self.gz_body
        return 200, self.headers, self.body


@dataclass
class Entry:
    """A category's serialized view at one version (v2 keeps records for single-model reads)."""

    version: int
    rendered: Rendered
    records: dict[str, Any] | None = None
    models: dict[str, Rendered] = field(default_factory=dict)

    def model(self, name: str) -> Rendered | None:
        hit = self.models.get(name)
        if hit is not None or self.records is None:
            return hit
        record = self.records.get(name)
        if record is None:
            return None
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        hit = self.models[name] = Rendered.of(body, self.version)
        return hit


class ReadCache:
    """Catalog views keyed by (kind, category), valid while the category's version holds.

    In a serving process a refresher thread re-reads the versions every ``interval`` seconds
    and rebuilds the entries that moved, so requests never wait on the database for
    freshness; commits of this process refresh at once (:meth:`on_commit`). When the database
    is unreachable the last good entries keep being served and :attr:`stale` says so. Without
    the thread (a library or test client that never started it) a read checks the versions
    itself once the interval has passed.
    """

    def __init__(self, catalog: CatalogService, interval: float = 0.5) -> None:
        self.catalog = catalog
        self.interval = interval
        self.versions: dict[str, int] = {}
        self.checked_at = float("-inf")
        self.entries: dict[tuple[str, str], Entry] = {}
        #: When the database last failed to answer a version check (None: it answers).
        self.failing_since: float | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ refresher
    def start(self) -> None:
        """Run the refresher thread (idempotent; not at an interval of 0: every read checks)."""
        if self._thread is None and self.interval > 0:
            self.refresh()  # a first look before any request is served
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="read-cache", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            try:
                if self.refresh():
                    self._rebuild_moved()
            except Exception:  # never let the refresher die: requests rely on it
                log.exception("read cache refresh failed; will retry")

    def _rebuild_moved(self) -> None:
        for (kind, category), entry in list(self.entries.items()):
            if entry.version != self.versions.get(category) and category in _CATEGORIES:
                try:
                    self.build(kind, _CATEGORIES[category])
                except ModelrefError:
                    return  # the database went away again; requests serve what they have

    # ------------------------------------------------------------------ freshness
    @property
    def stale(self) -> bool:
        """True while the database cannot be asked: entries may be older than the catalog."""
        return self.failing_since is not None

    def due(self) -> bool:
        """Whether a read must check the versions itself (no refresher thread running)."""
        never = self.checked_at == float("-inf")
        alone = self._thread is None or never
        return alone and time.monotonic() - self.checked_at >= self.interval

    def invalidate(self) -> None:
        """Make the next check happen now."""
        self.checked_at = float("-inf")
        self._wake.set()

    def on_commit(self, tx: Transaction) -> None:
        """After-commit listener: a catalog write of this process is served at once."""
        if tx.changed_categories:
            self.invalidate()
            self.refresh()
            self._wake.set()  # the refresher rebuilds what moved, off the request path

    def refresh(self) -> bool:
        """One indexed query: the current version of every category. False if it failed."""
        started = time.monotonic()
        try:
            versions = {c.value: v for c, v in self.catalog.versions().items()}
        except ModelrefError as exc:
            if self.failing_since is None:
                self.failing_since = started
                log.warning("catalog version check failed, serving cached reads: %s", exc)
            self.checked_at = started
            return False
        with self._lock:
            self.versions = versions
            self.checked_at = started
            if self.failing_since is not None:
                log.info("database answers again; cached reads are fresh")
            self.failing_since = None
        return True

    def refresh_if_due(self) -> None:
        if self.due():
            self.refresh()

    # ------------------------------------------------------------------ entries
    def lookup(self, kind: str, category: str) -> Entry | None:
        """The entry of the category's current version, if built."""
        entry = self.entries.get((kind, category))
        if entry is not None and entry.version == self.versions.get(category):
            return entry
        return None

    def last_good(self, kind: str, category: str) -> Entry | None:
        """The newest entry built, whatever version the catalog has moved to since."""
        return self.entries.get((kind, category))

    def build(self, kind: str, category: Category) -> Entry | None:
        """Serialize ``category`` from one consistent version (None if it has never existed)."""
        for _ in range(5):
            before = self.catalog.versions().get(category)
            if before is None:
                return None
            if kind == "v2":
                records, after = self.catalog.records(category)
                body = dump_v2(records)
            else:  # a category with no legacy form (controlnet_annotator...) is empty: 404
                records = None
                legacy = category in LEGACY_CATEGORIES
                view = self.catalog.legacy_view(category) if legacy else {}
                after = self.catalog.versions().get(category, 0)
                body = _dump_legacy(view) if view else b""
            if before == after:
                entry = Entry(after, Rendered.of(body, after), records)
                with self._lock:
                    self.entries[(kind, category.value)] = entry
                    if after >= self.versions.get(category.value, 0):
                        self.versions[category.value] = after
                # Long-lived: keep the cyclic GC from walking these records on every full
                # collection (a full collection's pause lands on some unlucky request's p99).
                gc.freeze()
                return entry
        return None  # the category is being written continuously; serve nothing stale

    def get(self, kind: str, category: Category) -> Entry | None:
        """Synchronous lookup-or-build (used by the FastAPI fallback routes).

        While the database is down the last good entry is returned (see :attr:`stale`);
        with none, the database's error is raised.
        """
        self.refresh_if_due()
        if category.value not in self.versions:
            return None
        found = self.lookup(kind, category.value)
        if found is not None:
            return found
        try:
            return self.build(kind, category)
        except ModelrefError:
            fallback = self.last_good(kind, category.value)
            if fallback is None:
                raise
            return fallback


def _dump_legacy(view: dict[str, Any]) -> bytes:
    return (json.dumps(view, indent=4, ensure_ascii=False) + "\n").encode("utf-8")
