"""Which database local mode works on, and whether it exists (no SQL: no driver import)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from modelref.settings import Settings


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL (any driver suffix), else None."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0] != "sqlite":
        return None
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///rel or sqlite:////abs
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def describe(settings: Settings) -> str:
    """``sqlite:////home/u/.local/share/modelref/modelref.db (the user data folder)``."""
    url = settings.database_url
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    return f"{url} (from {settings.database_origin})"


def missing(settings: Settings) -> Path | None:
    """The SQLite file named by ``settings`` when it does not exist yet (None otherwise)."""
    path = sqlite_file(settings.database_url)
    if path is None or path.exists():
        return None
    return path
