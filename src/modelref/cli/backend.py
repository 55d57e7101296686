"""The interface every CLI command talks to, whatever the mode.

:class:`~modelref.cli.local.LocalBackend` calls the service layer on ``MODELREF_DATABASE_URL``;
:class:`~modelref.cli.remote.RemoteBackend` calls a server's HTTP API. Both return the same
JSON-able dicts (the API's wire shapes, http-api.md §6-8), so rendering is shared and
``--json`` output is identical in both modes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

Json = dict[str, Any]
Step = Callable[[str], None]


@dataclass(frozen=True)
class QueueQuery:
    """Filters shared by ``queue list`` and ``queue purge`` (every given filter must match)."""

    statuses: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    model_name: str | None = None
    requested_by: list[str] = field(default_factory=list)
    batch_id: int | None = None
    #: Listing order: ``change_id`` (upstream's), ``age`` (oldest first) or ``-age``.
    sort: str = "change_id"

    def is_empty(self) -> bool:
        return not (
            self.statuses
            or self.categories
            or (self.model_name and self.model_name.strip())
            or self.requested_by
            or self.batch_id is not None
        )


class Backend(Protocol):
    """Every operation of the CLI; results are the API's JSON shapes."""

    # queue reads
    def list_changes(self, query: QueueQuery, offset: int, limit: int) -> Json: ...
    def get_change(self, change_id: int) -> Json: ...
    def diff(self, change_id: int) -> Json: ...
    def diffs(self, change_ids: list[int]) -> Json: ...

    # queue writes
    def submit(
        self,
        category: str,
        model_name: str,
        operation: str,
        payload: Json | None,
        notes: str | None,
    ) -> Json: ...
    def review(
        self,
        title: str,
        approved: list[int],
        rejected: list[int],
        reason: str | None,
        override_checks: bool = False,
    ) -> Json: ...
    def withdraw(self, change_id: int) -> Json: ...
    def apply(
        self,
        change_ids: list[int],
        batch_id: int | None,
        job_id: str | None,
        force: bool,
        allow_mixed_batch: bool,
    ) -> Json: ...
    def purge(self, query: QueueQuery, purge_all: bool, dry_run: bool) -> Json: ...
    def recover(self) -> Json: ...
    def revert(self, batch_id: int | None, change_id: int | None) -> Json: ...
    def stats(self) -> Json: ...

    # catalog
    def catalog(self, category: str) -> Json: ...
    def record(self, category: str, model_name: str) -> Json: ...
    def import_path(self, path: Path, step: Step, replace: bool = False) -> Json: ...
    def import_reference(self, ref: str, step: Step, replace: bool = False) -> Json: ...
    def export(self, out_dir: Path, fmt: str, step: Step) -> Json: ...
    def db_upgrade(self) -> Json: ...

    # keys and audit
    def keys_create(self, user_id: str, username: str, role: str) -> Json: ...
    def keys_list(self) -> list[Json]: ...
    def keys_revoke(self, prefix: str) -> Json: ...
    def audit_log(self, change_id: int | None, batch_id: int | None, limit: int) -> list[Json]: ...
    def audit_verify(self, deep: bool = False) -> Json: ...

    # review checks
    def checks(self, change_id: int) -> Json: ...
    def rerun_checks(self, change_id: int) -> Json: ...

    # resources
    def close(self) -> None:
        """Release connections (the command is done)."""
