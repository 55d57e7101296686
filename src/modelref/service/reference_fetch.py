"""Seed the catalog from the public reference repositories (``import --from-github``).

The public reference is two repositories of legacy files: the image repo holds one JSON file
per image category at its root (``stable_diffusion.json``, ``blip.json``...), the text repo
``models.csv`` (its ``db.json`` is generated from it). No public repository publishes v2 files
(upstream's v2 files are its converter's output), so the legacy files are fetched and
converted by the import, as upstream's own start-up does.

Every file is fetched over HTTPS from ``MODELREF_REFERENCE_BASE_URL`` + ``{repo}/{ref}/{file}``
into a temporary folder, bounded in time and bytes, with its sha256; only when every file
arrived complete does one import transaction load them. A 404, a refused address, a
truncated or oversized download aborts with nothing imported. Private, loopback and
link-local hosts are refused unless listed in ``MODELREF_REFERENCE_ALLOW_HOSTS`` (which also
allows plain ``http`` for them, for local mirrors and tests).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx

from modelref.domain.actors import Actor
from modelref.domain.categories import V2_FILE_NAMES, Category
from modelref.domain.errors import NotFound, ServiceUnavailable, ValidationFailed
from modelref.domain.legacy_image import LEGACY_IMAGE_CATEGORIES
from modelref.service.catalog import CatalogService
from modelref.service.catalog_io import CatalogFiles, ImportReport
from modelref.settings import Settings

IMAGE_REPO = "AI-Horde-image-model-reference"
TEXT_REPO = "AI-Horde-text-model-reference"
#: (repository, file at its root, where it goes in the import folder)
MANIFEST: tuple[tuple[str, str, str], ...] = (
    *sorted(
        (IMAGE_REPO, V2_FILE_NAMES[c], f"image/{V2_FILE_NAMES[c]}") for c in LEGACY_IMAGE_CATEGORIES
    ),
    (TEXT_REPO, "models.csv", "text/models.csv"),
)

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
FILE_SECONDS = 120.0
CHUNK = 64 * 1024

Progress = Callable[[str], None]
_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,199}")


@dataclass(frozen=True)
class FetchedFile:
    url: str
    path: str
    bytes: int
    sha256: str


@dataclass
class FetchReport:
    files: list[FetchedFile]
    imported: ImportReport


class ReferenceFetcher:
    """Downloads the manifest's files; see the module docstring for the rules."""

    def __init__(
        self,
        settings: Settings,
        *,
        client: httpx.Client | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        max_total_bytes: int = MAX_TOTAL_BYTES,
        file_seconds: float = FILE_SECONDS,
    ) -> None:
        self.base = settings.reference_base_url.rstrip("/") + "/"
        self.allowed = {h.lower() for h in Settings.id_list(settings.reference_allow_hosts)}
        self.client = client or httpx.Client(
            timeout=httpx.Timeout(10.0, read=30.0), follow_redirects=False
        )
        self.max_file = max_file_bytes
        self.max_total = max_total_bytes
        self.file_seconds = file_seconds

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    def url(self, repo: str, ref: str, name: str) -> str:
        return f"{self.base}{quote(repo)}/{quote(ref, safe='')}/{quote(name)}"

    def check_base(self) -> None:
        """Refuse a base URL that is not HTTPS or points at a private address (unless allowed)."""
        parts = urlsplit(self.base)
        host = (parts.hostname or "").lower()
        if not host or parts.scheme not in ("https", "http"):
            raise ValidationFailed(
                f"reference_base_url: expected an https:// URL, got {self.base!r}"
            )
        if host in self.allowed:
            return
        if parts.scheme != "https":
            raise ValidationFailed(
                f"reference_base_url: {self.base} is not HTTPS (only hosts in "
                "MODELREF_REFERENCE_ALLOW_HOSTS may use http)"
            )
        for address in _addresses(host, parts.port or 443):
            if not address.is_global:
                raise ValidationFailed(
                    f"reference_base_url: {host} resolves to the non-public address {address}; "
                    "add the host to MODELREF_REFERENCE_ALLOW_HOSTS to allow it"
                )

    def fetch_all(
        self, ref: str, target: Path, progress: Progress | None = None
    ) -> list[FetchedFile]:
        """Every manifest file under ``target``; raises on the first file that fails."""
        self.check_base()
        fetched: list[FetchedFile] = []
        total = 0
        for repo, name, rel in MANIFEST:
            url = self.url(repo, ref, name)
            item = self._fetch(url, target / rel, rel, self.max_total - total)
            total += item.bytes
            fetched.append(item)
            if progress:
                progress(rel)
        return fetched

    def _fetch(self, url: str, dest: Path, rel: str, budget: int) -> FetchedFile:
        limit = min(self.max_file, budget)
        deadline = time.monotonic() + self.file_seconds
        digest = hashlib.sha256()
        size = 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            # identity: the bytes counted and hashed are the file's bytes (no gzip layer)
            headers = {"Accept-Encoding": "identity"}
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 404:
                    raise NotFound(f"{url}: 404 not found (is the ref right?); nothing imported")
                if response.status_code != 200:
                    raise ServiceUnavailable(
                        f"{url}: HTTP {response.status_code}; nothing imported"
                    )
                declared = response.headers.get("content-length")
                if declared is not None and declared.isdigit() and int(declared) > limit:
                    raise ValidationFailed(
                        f"{url}: {declared} bytes is over the {limit}-byte limit"
                    )
                with dest.open("wb") as out:
                    for chunk in response.iter_raw(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise ValidationFailed(
                                f"{url}: more than {limit} bytes; nothing imported"
                            )
                        if time.monotonic() > deadline:
                            raise ServiceUnavailable(
                                f"{url}: took longer than {self.file_seconds:.0f} s; "
                                "nothing imported"
                            )
                        digest.update(chunk)
                        out.write(chunk)
                if declared is not None and declared.isdigit() and int(declared) != size:
                    raise ServiceUnavailable(
                        f"{url}: truncated download ({size} of {declared} bytes); nothing imported"
                    )
        except httpx.RemoteProtocolError as exc:
            raise ServiceUnavailable(
                f"{url}: truncated download after {size} bytes ({exc}); nothing imported"
            ) from None
        except httpx.TimeoutException:
            raise ServiceUnavailable(f"{url}: timed out; nothing imported") from None
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"{url}: {exc or type(exc).__name__}; nothing imported"
            ) from None
        return FetchedFile(url=url, path=rel, bytes=size, sha256=digest.hexdigest())


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise ServiceUnavailable(f"cannot resolve {host}: {exc}") from None
    return [ipaddress.ip_address(str(info[4][0])) for info in infos]


def import_reference(
    catalog_files: CatalogFiles,
    settings: Settings,
    actor: Actor,
    *,
    ref: str = "main",
    progress: Progress | None = None,
    replace: bool = False,
    fetcher: ReferenceFetcher | None = None,
) -> FetchReport:
    """Fetch the public reference at ``ref`` and import it (all files or nothing)."""
    ref = ref.strip()
    if not _REF.fullmatch(ref) or ".." in ref:
        raise ValidationFailed(f"ref: {ref!r} is not a branch, tag or commit name")
    own = fetcher is None
    fetcher = fetcher or ReferenceFetcher(settings)
    try:
        with tempfile.TemporaryDirectory(prefix="modelref-reference-") as tmp:
            root = Path(tmp)
            files = fetcher.fetch_all(ref, root, progress)
            report = catalog_files.import_path(root, actor, replace=replace)
    finally:
        if own:
            fetcher.close()
    return FetchReport(files=files, imported=report)


def catalog_is_empty(catalog: CatalogService) -> bool:
    """No category holds a record (a database that was never imported into)."""
    return all(not catalog.stored(category)[0] for category in Category)


def seed_if_empty(
    files: CatalogFiles, settings: Settings, actor: Actor, *, ref: str = "main"
) -> FetchReport | None:
    """``serve --seed-from-github``: import the public reference into an empty catalog only."""
    if not catalog_is_empty(files.catalog):
        return None
    return import_reference(files, settings, actor, ref=ref)
