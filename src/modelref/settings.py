"""All configuration in one place: environment variables prefixed ``MODELREF_``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
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
    #: ``upstream`` (one approval approves), ``critical-two`` (critical fields and deletes need
    #: two distinct approvers) or the path of a TOML policy file (see domain/policy_file.py).
    approval_policy: str = "upstream"
    #: Pending changes older than this many days are rejected as "expired" (0: never).
    proposal_ttl_days: int = Field(default=0, ge=0)
    apply_lease_seconds: int = 300
    #: Seconds between checks of the catalog version by cached reads (0: check every read).
    cache_interval: float = 0.5
    #: Seconds between a serving process's sweeps for expired apply reservations.
    reaper_interval: float = 30.0
    #: Outbox worker threads per serving process (review checks, publication, webhooks).
    outbox_workers: int = 1
    #: Seconds an idle outbox worker waits before looking for due jobs again.
    outbox_poll_seconds: float = 1.0
    log_json: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    #: Signs UI session cookies; set it when instances run on several machines.
    session_secret: str | None = None

    @staticmethod
    def id_list(raw: str) -> frozenset[str]:
        """Parse a comma-separated allow-list, trimming blanks."""
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
