"""Local mode: the CLI calls the service layer on ``MODELREF_DATABASE_URL`` directly.

Who acts (requester, approver, applier) comes from ``--apikey`` (resolved with the deployment's
key provider, roles enforced exactly as the server does) or, for an operator on the database
host, from ``--as-user ID --as-username NAME`` (env ``MODELREF_USER_ID``/``MODELREF_USERNAME``),
which is trusted as given.
"""

from __future__ import annotations

import getpass
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from modelref.cli import database, wire
from modelref.cli.backend import Json, QueueQuery, Step
from modelref.cli.errors import UNREACHABLE, CliError, UsageProblem
from modelref.domain.actors import Actor
from modelref.domain.categories import Category
from modelref.domain.errors import ModelrefError, StorageError
from modelref.domain.queue_models import PendingQueueFilter
from modelref.service.audit import report_json
from modelref.service.auth import Role
from modelref.settings import Settings

if TYPE_CHECKING:
    from modelref.service.catalog_io import ImportReport
    from modelref.service.container import Services

#: upstream's enqueue route names, kept in ``request_metadata`` like the API does.
_ROUTES = {"create": "create_v2_{c}", "update": "update_v2_{c}", "delete": "delete_v2_model"}


class LocalBackend:
    """The service layer behind :class:`~modelref.cli.backend.Backend`."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        apikey: str | None = None,
        as_user: str | None = None,
        as_username: str | None = None,
        creates_database: bool = False,
    ) -> None:
        self.settings = settings or Settings()
        self.apikey = apikey
        self.as_user = as_user
        self.as_username = as_username
        self.creates_database = creates_database

    def describe_database(self) -> str:
        return database.describe(self.settings)

    @cached_property
    def services(self) -> Services:
        from modelref.service.container import Services

        absent = None if self.creates_database else database.missing(self.settings)
        if absent is not None:
            raise CliError(
                f"no modelref database at {absent} (from {self.settings.database_origin}); "
                "nothing was created. Load one with `modelref import` (or create an empty one "
                "with `modelref db upgrade`), or set MODELREF_DATABASE_URL / MODELREF_DATA_DIR",
                UNREACHABLE,
            )
        try:
            services = Services.open(self.settings)
        except ModelrefError:
            raise
        except Exception as exc:  # driver/migration failures: the database is unusable
            raise StorageError(f"cannot open the database: {exc}") from exc
        return services

    def close(self) -> None:
        if "services" in self.__dict__:  # opened: dispose its connection pool
            self.services.db.dispose()

    def reader(self) -> Services:
        """The services, after checking ``--apikey`` when one is given (as the server would)."""
        services = self.services
        if self.apikey:
            services.auth.require(self.apikey, Role.reader)
        return services

    def actor(self, role: Role, *, fallback: bool = False) -> Actor:
        """The acting user; ``fallback`` lets operator commands run as the OS user."""
        services = self.services
        if self.apikey:
            identity = services.auth.require(self.apikey, role)
            return Actor(identity.user_id, identity.username)
        if self.as_user:
            return Actor(self.as_user, self.as_username or self.as_user)
        if fallback:
            user = getpass.getuser()
            return Actor(f"local:{user}", user)
        raise UsageProblem(
            "say who is acting: --apikey KEY, or --as-user ID --as-username NAME "
            "(env MODELREF_APIKEY, or MODELREF_USER_ID and MODELREF_USERNAME)"
        )

    # ------------------------------------------------------------------ queue reads
    def list_changes(self, query: QueueQuery, offset: int, limit: int) -> Json:
        result = self.reader().review.list_changes(
            _filter(query), offset=offset, limit=limit, sort=query.sort
        )
        return wire.page(result)

    def get_change(self, change_id: int) -> Json:
        return wire.record(self.reader().review.get_change(change_id))

    def diff(self, change_id: int) -> Json:
        return wire.diff(self.reader().catalog.diff(change_id))

    def diffs(self, change_ids: list[int]) -> Json:
        return wire.diff_page(self.reader().catalog.diffs(change_ids))

    # ------------------------------------------------------------------ queue writes
    def submit(
        self,
        category: str,
        model_name: str,
        operation: str,
        payload: Json | None,
        notes: str | None,
    ) -> Json:
        actor = self.actor(Role.requestor)
        record = self.services.review.enqueue_change(
            category=category,
            model_name=model_name,
            operation=operation,
            payload=payload,
            requestor_id=actor.user_id,
            requestor_username=actor.username,
            notes=notes,
            request_metadata={"route": _ROUTES[operation].format(c=category)},
        )
        return wire.record(record, omit_nulls=True)

    def review(
        self,
        title: str,
        approved: list[int],
        rejected: list[int],
        reason: str | None,
        override_checks: bool = False,
    ) -> Json:
        actor = self.actor(Role.approver)
        result = self.services.review.process_batch(
            approver_id=actor.user_id,
            approver_username=actor.username,
            batch_title=title,
            approved_ids=approved or None,
            rejected_ids=rejected or None,
            reject_reason=reason,
            override_checks=override_checks,
        )
        return wire.batch(result)

    def withdraw(self, change_id: int) -> Json:
        actor = self.actor(Role.requestor)
        record = self.services.review.withdraw_change(
            change_id=change_id, requestor_id=actor.user_id, requestor_username=actor.username
        )
        return wire.record(record)

    def apply(
        self,
        change_ids: list[int],
        batch_id: int | None,
        job_id: str | None,
        force: bool,
        allow_mixed_batch: bool,
    ) -> Json:
        actor = self.actor(Role.approver)
        engine = self.services.apply
        if batch_id is not None:
            result = engine.apply_batch(
                batch_id, actor.user_id, actor.username, job_id=job_id, force=force
            )
        else:
            result = engine.apply_changes(
                change_ids,
                actor.user_id,
                actor.username,
                job_id=job_id,
                force=force,
                allow_mixed_batch=allow_mixed_batch,
            )
        return wire.apply(result)

    def purge(self, query: QueueQuery, purge_all: bool, dry_run: bool) -> Json:
        actor = self.actor(Role.approver)
        removed = self.services.review.purge_changes(
            _filter(query), actor.user_id, actor.username, purge_all=purge_all, dry_run=dry_run
        )
        return wire.purge(removed, dry_run)

    def recover(self) -> Json:
        if self.apikey:
            self.actor(Role.approver)
        reverted = self.services.reservations.scan_stuck_applying()
        return {"reverted": [wire.record(r) for r in reverted], "reverted_count": len(reverted)}

    def revert(self, batch_id: int | None, change_id: int | None) -> Json:
        actor = self.actor(Role.requestor)
        reverts = self.services.reverts
        if batch_id is not None:
            return reverts.revert_batch(batch_id, actor).wire()
        if change_id is None:
            raise UsageProblem("give --batch B or --change N")
        return reverts.revert_change(change_id, actor).wire()

    def stats(self) -> Json:
        return self.reader().backlog.stats().model_dump(mode="json")

    # ------------------------------------------------------------------ catalog
    def catalog(self, category: str) -> Json:
        records, _version = self.reader().catalog.records(_category(category))
        return records

    def record(self, category: str, model_name: str) -> Json:
        return self.reader().catalog.record(_category(category), model_name)

    def import_path(self, path: Path, step: Step, replace: bool = False) -> Json:
        actor = self.actor(Role.approver, fallback=True)
        report = self.services.files.import_path(path, actor, step, replace=replace)
        return _import_json(report)

    def import_reference(self, ref: str, step: Step, replace: bool = False) -> Json:
        from modelref.service import reference_fetch

        actor = self.actor(Role.approver, fallback=True)
        services = self.services
        fetched = reference_fetch.import_reference(
            services.files, services.settings, actor, ref=ref, progress=step, replace=replace
        )
        result = _import_json(fetched.imported)
        for item in result["categories"]:
            item["files"] = [f.removeprefix(str(Path(f).parents[1]) + "/") for f in item["files"]]
        result["fetched"] = [asdict(f) for f in fetched.files]
        result["ref"] = ref
        return result

    def export(self, out_dir: Path, fmt: str, step: Step) -> Json:
        self.reader()
        fmt_ = cast(Literal["v2", "legacy", "both"], fmt)
        paths = self.services.files.export(out_dir, fmt_, step)
        return {"format": fmt, "directory": str(out_dir), "files": [str(p) for p in paths]}

    def db_upgrade(self) -> Json:
        db = self.services.db  # Services.open migrated it
        return {"database": db.engine.url.render_as_string(hide_password=True), "upgraded": True}

    # ------------------------------------------------------------------ keys and audit
    def keys_create(self, user_id: str, username: str, role: str) -> Json:
        key = self.services.keys.create(user_id, username, role)
        return {
            "key": key,
            "key_prefix": key[:10],
            "user_id": user_id.strip(),
            "username": username.strip(),
            "role": role,
        }

    def keys_list(self) -> list[Json]:
        return self.services.keys.list()

    def keys_revoke(self, prefix: str) -> Json:
        return {"key_prefix": prefix, "revoked": self.services.keys.revoke(prefix)}

    def audit_log(self, change_id: int | None, batch_id: int | None, limit: int) -> list[Json]:
        events = self.reader().audit.recent(change_id, batch_id, limit)
        return [wire.event(e) for e in events]

    def audit_verify(self, deep: bool = False) -> Json:
        if deep:
            if self.apikey:
                self.actor(Role.approver)
            report = self.services.audit.verify_deep()
            return report_json(report.chain, report)
        return report_json(self.reader().audit.verify())

    # ------------------------------------------------------------------ review checks
    def checks(self, change_id: int) -> Json:
        return self.reader().checks.get(change_id).model_dump(mode="json")

    def rerun_checks(self, change_id: int) -> Json:
        actor = self.actor(Role.approver)
        return self.services.checks.rerun(change_id, actor).model_dump(mode="json")


def _import_json(report: ImportReport) -> Json:
    return {
        "categories": [asdict(c) for c in report.categories],
        "changed": report.changed,
        "skipped": report.skipped,
    }


def _filter(query: QueueQuery) -> PendingQueueFilter:
    data: dict[str, Any] = {
        "statuses": set(query.statuses) or None,
        "categories": set(query.categories) or None,
        "model_name": query.model_name,
        "requested_by": set(query.requested_by) or None,
        "batch_id": query.batch_id,
    }
    return PendingQueueFilter.model_validate(data)


def _category(value: str) -> Category:
    return Category(value)
