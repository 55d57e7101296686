"""All configuration in one place: environment variables prefixed ``MODELREF_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./modelref-data/modelref.db"


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``MODELREF_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODELREF_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    publish_dir: Path | None = None
    canonical_format: Literal["v2", "legacy"] = "v2"
    auth: Literal["local", "horde"] = "local"
    horde_url: str = "https://aihorde.net/api/"
    horde_cache_ttl: float = 60.0
    requestor_ids: str = ""
    approver_ids: str = ""
    two_person_rule: bool = True
    apply_lease_seconds: int = 300
    log_json: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    #: Seconds between two checks of the catalog versions by the read cache (another instance's
    #: apply is served within this bound); 0 checks on every read.
    cache_interval: float = 0.5
    #: Signs UI session cookies; set it when instances run on several machines.
    session_secret: str | None = None

    @staticmethod
    def id_list(raw: str) -> frozenset[str]:
        """Parse a comma-separated allow-list, trimming blanks."""
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
