"""What the publication commands (catalog changes, publish status, webhooks) talk to.

Local mode calls the service layer through the :class:`~modelref.cli.local.LocalBackend` of
the command (same database, same key checks); remote mode calls the server's HTTP API through
its :class:`~modelref.cli.remote.RemoteBackend`. Both return the API's JSON shapes.
"""

from __future__ import annotations

from typing import Any, Protocol

from modelref.cli.backend import Json
from modelref.cli.common import Cli
from modelref.cli.local import LocalBackend
from modelref.cli.remote import V2, RemoteBackend
from modelref.service.auth import Role
from modelref.service.webhooks import failure_wire


class Publication(Protocol):
    def catalog_changes(self, since: int, limit: int) -> Json: ...
    def catalog_version(self, version: int | None) -> Json: ...
    def publish_status(self) -> Json: ...
    def webhooks_add(self, url: str, events: list[str], fmt: str, secret: str | None) -> Json: ...
    def webhooks_list(self) -> list[Json]: ...
    def webhooks_remove(self, subscription_id: int) -> Json: ...
    def webhooks_failures(self, limit: int) -> list[Json]: ...
    def webhooks_replay(self, job_id: int) -> Json: ...


def publication(cli: Cli) -> Publication:
    backend = cli.backend
    if isinstance(backend, RemoteBackend):
        return RemotePublication(backend)
    assert isinstance(backend, LocalBackend)
    return LocalPublication(backend)


class LocalPublication:
    def __init__(self, local: LocalBackend) -> None:
        self.local = local

    def catalog_changes(self, since: int, limit: int) -> Json:
        return self.local.reader().feed.changes(since, limit).wire()

    def catalog_version(self, version: int | None) -> Json:
        feed = self.local.reader().feed
        release = feed.latest() if version is None else feed.manifest(version)
        return release.manifest()

    def publish_status(self) -> Json:
        services = self.local.reader()
        if services.git is None:
            return {
                "configured": False,
                "latest_version": services.feed.latest_version(),
                "detail": "git publication is off: set MODELREF_GIT_PUBLISH_DIR",
            }
        return {"configured": True, **services.git.status()}

    def webhooks_add(self, url: str, events: list[str], fmt: str, secret: str | None) -> Json:
        actor = self.local.actor(Role.approver, fallback=True)
        sub, generated = self.local.services.webhooks.add(url, events, fmt, secret, actor)
        return {**sub.public(), "secret": generated}

    def _approver(self) -> None:
        self.local.actor(Role.approver, fallback=True)

    def webhooks_list(self) -> list[Json]:
        self._approver()
        return [s.public() for s in self.local.services.webhooks.subscriptions()]

    def webhooks_remove(self, subscription_id: int) -> Json:
        self._approver()
        self.local.services.webhooks.remove(subscription_id)
        return {"subscription_id": subscription_id, "deleted": True}

    def webhooks_failures(self, limit: int) -> list[Json]:
        self._approver()
        return [failure_wire(j) for j in self.local.services.webhooks.failures(limit)]

    def webhooks_replay(self, job_id: int) -> Json:
        self._approver()
        return failure_wire(self.local.services.webhooks.replay(job_id))


class RemotePublication:
    def __init__(self, remote: RemoteBackend) -> None:
        self.remote = remote

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.remote._call(method, path, **kwargs)

    def catalog_changes(self, since: int, limit: int) -> Json:
        params = {"since": since, "limit": limit}
        result: Json = self._call("GET", f"{V2}/catalog/changes", params=params)
        return result

    def catalog_version(self, version: int | None) -> Json:
        which = "latest" if version is None else str(version)
        result: Json = self._call("GET", f"{V2}/catalog/versions/{which}")
        return result

    def publish_status(self) -> Json:
        raise self.remote._local_only("publish status")

    def webhooks_add(self, url: str, events: list[str], fmt: str, secret: str | None) -> Json:
        body = {"url": url, "events": events, "format": fmt, "secret": secret}
        result: Json = self._call("POST", f"{V2}/webhooks", json=body)
        return result

    def webhooks_list(self) -> list[Json]:
        result: list[Json] = self._call("GET", f"{V2}/webhooks")
        return result

    def webhooks_remove(self, subscription_id: int) -> Json:
        result: Json = self._call("DELETE", f"{V2}/webhooks/{subscription_id}")
        return result

    def webhooks_failures(self, limit: int) -> list[Json]:
        result: list[Json] = self._call("GET", f"{V2}/webhooks/failures", params={"limit": limit})
        return result

    def webhooks_replay(self, job_id: int) -> Json:
        result: Json = self._call("POST", f"{V2}/webhooks/failures/{job_id}/replay")
        return result
