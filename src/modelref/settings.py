"""All configuration in one place: environment variables prefixed ``MODELREF_``.

The SQLite file and the UI's ``session.key`` live in the user's data folder (platformdirs:
``~/.local/share/modelref`` on Linux), never in the working directory, so every command and
every server finds the same database wherever it is started (design.md §8).
``MODELREF_DATA_DIR`` moves that folder; ``MODELREF_DATABASE_URL`` names any database.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import AliasChoices, Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATABASE_FILE = "modelref.db"


def default_data_dir() -> Path:
    """The platform's per-user data folder for modelref (not created here)."""
    return Path(platformdirs.user_data_dir("modelref", appauthor=False))


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``MODELREF_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="MODELREF_", extra="ignore", populate_by_name=True)

    #: Folder of the default SQLite file and of ``session.key`` (for non-SQLite databases).
    data_dir: Path = Field(default_factory=default_data_dir)
    #: Empty means ``sqlite:///<data_dir>/modelref.db``.
    database_url: str = ""
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
    #: Seconds any wait on the database may last (write lock, statement, pooled connection).
    db_timeout: float = 10.0
    #: Seconds to open a connection to PostgreSQL.
    db_connect_timeout: float = 5.0
    #: Seconds between checks of the catalog version by cached reads (0: check every read).
    cache_interval: float = 0.5
    #: Seconds between a serving process's sweeps for expired apply reservations.
    reaper_interval: float = 30.0
    #: Outbox worker threads per serving process (review checks, publication, webhooks);
    #: ``MODELREF_CHECK_WORKERS`` is accepted as another name for it.
    outbox_workers: int = Field(
        1, validation_alias=AliasChoices("MODELREF_OUTBOX_WORKERS", "MODELREF_CHECK_WORKERS")
    )
    #: Seconds an idle outbox worker waits before looking for due jobs again.
    outbox_poll_seconds: float = 1.0
    #: Seconds an outbox job's lease lasts; a worker that died loses its job after this.
    outbox_lease_seconds: int = 120
    log_json: bool = False
    max_body_bytes: int = 2 * 1024 * 1024
    #: Seconds a client has to send a request body (a stalled or dripping one gets 408).
    body_timeout: float = 10.0
    #: Signs UI session cookies; set it when instances run on several machines.
    session_secret: str | None = None
    #: Where ``import --from-github`` fetches the public reference (``{repo}/{ref}/{file}``).
    reference_base_url: str = "https://raw.githubusercontent.com/Haidra-Org/"
    #: Hosts (or addresses) the reference fetcher may reach although they are private/loopback.
    reference_allow_hosts: str = ""

    _origin: str = PrivateAttr(default="MODELREF_DATABASE_URL")

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url.strip():
            explicit_dir = "data_dir" in self.model_fields_set
            self._origin = "MODELREF_DATA_DIR" if explicit_dir else "the user data folder"
            self.database_url = f"sqlite:///{self.data_dir / DATABASE_FILE}"
        return self

    @property
    def database_origin(self) -> str:
        """Which setting chose the database (shown by ``modelref -v``)."""
        return self._origin

    # --- review checks (service/checks): what the checker may fetch, and its bounds
    #: Run review checks at all (duplicate findings at enqueue, model-file check jobs).
    checks: bool = True
    #: Stream and compare each file's sha256: ``auto`` up to ``verify_sha256_max_bytes``.
    verify_sha256: Literal["auto", "always", "never"] = "auto"
    verify_sha256_max_bytes: int = 8 * 1024**3
    #: Hosts, IPs or CIDR networks that URL fetchers (checks, webhooks) may reach although
    #: they are not public addresses (comma-separated).
    check_allow_hosts: str = ""
    #: Bounds of one check job: wall time, one network wait, bytes read, redirects per URL.
    check_time_limit_seconds: float = 3600.0
    check_io_timeout_seconds: float = 30.0
    check_max_bytes: int = 64 * 1024**3
    check_max_redirects: int = 5
    #: Tries of a job whose downloads could not be reached before it settles as unchecked.
    check_attempts: int = 3

    # --- publication (service/versions, gitpublish, webhooks)
    #: Base URL of this deployment (links to UI change pages in webhook events).
    public_url: str | None = None
    #: Webhook deliveries: seconds per attempt, attempts before a delivery is dead.
    webhook_timeout: float = 10.0
    webhook_max_attempts: int = 8
    #: Git work tree the catalog is published into (one commit per catalog version).
    git_publish_dir: Path | None = None
    #: Remote (name or URL) pushed after every publication commit.
    git_push_remote: str | None = None
    git_committer_name: str = "modelref"
    git_committer_email: str = "modelref@users.modelref.invalid"

    @staticmethod
    def id_list(raw: str) -> frozenset[str]:
        """Parse a comma-separated allow-list, trimming blanks."""
        return frozenset(part.strip() for part in raw.split(",") if part.strip())
