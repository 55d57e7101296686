"""Remote mode: the CLI speaks the HTTP API of a running modelref (or upstream) server.

Paths and shapes are those of http-api.md (header ``apikey``; queue endpoints under
``/api/model_references/v2/pending_queue``), plus modelref's additive ones: ``force`` in apply
bodies, ``sort`` on listings, ``POST .../changes/{id}/withdraw``, ``POST .../revert`` and
``GET .../stats``. Non-2xx answers become the domain error they
stand for (:func:`modelref.http_status.error_from_wire`), exactly as local mode raises them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from modelref.cli.backend import Json, QueueQuery, Step
from modelref.cli.errors import UsageProblem
from modelref.http_status import error_from_wire

V2 = "/model_references/v2"
QUEUE = f"{V2}/pending_queue"


def api_base(server: str) -> str:
    """``http://host:port`` or ``http://host:port/api`` -> the ``/api`` base URL."""
    base = server.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UsageProblem(f"--server: expected an http:// or https:// URL, got {server!r}")
    return base if base.endswith("/api") else base + "/api"


def _detail(response: httpx.Response) -> tuple[str, Any]:
    """The error message of a failed call: ``detail`` (string or 422 list) or apply failure."""
    try:
        body = response.json()
    except ValueError:
        return (response.text.strip() or response.reason_phrase), None
    if isinstance(body, dict):
        detail = body.get("detail")
        if isinstance(detail, str):
            return detail, body
        if isinstance(detail, list):
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(x) for x in item.get("loc", []) if x != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg")))
            return "; ".join(parts) or str(detail), body
        if body.get("failed_error"):
            return str(body["failed_error"]), body
    return f"HTTP {response.status_code}", body


class RemoteBackend:
    """A modelref server behind :class:`~modelref.cli.backend.Backend`."""

    def __init__(self, server: str, apikey: str | None, *, timeout: float = 30.0) -> None:
        headers = {"apikey": apikey} if apikey else {}
        self.server = server
        self.client = httpx.Client(base_url=api_base(server), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        if response.status_code >= 400:
            message, body = _detail(response)
            raise error_from_wire(response.status_code, message, body)
        if not response.content:
            return {}
        return response.json()

    def _local_only(self, what: str) -> UsageProblem:
        return UsageProblem(
            f"{what} works on the server's database only: run it on the server host "
            "without --server (MODELREF_DATABASE_URL names the database)"
        )

    # ------------------------------------------------------------------ queue reads
    def list_changes(self, query: QueueQuery, offset: int, limit: int) -> Json:
        params: dict[str, Any] = {"offset": offset, "limit": limit}
        if query.statuses:
            params["statuses"] = query.statuses
        if query.categories:
            params["categories"] = query.categories
        if query.model_name:
            params["model_name"] = query.model_name
        if query.requested_by:
            params["requested_by"] = query.requested_by
        if query.batch_id is not None:
            params["batch_id"] = query.batch_id
        if query.sort != "change_id":
            params["sort"] = query.sort
        result: Json = self._call("GET", f"{QUEUE}/changes", params=params)
        return result

    def get_change(self, change_id: int) -> Json:
        result: Json = self._call("GET", f"{QUEUE}/changes/{change_id}")
        return result

    def diff(self, change_id: int) -> Json:
        result: Json = self._call("GET", f"{QUEUE}/changes/{change_id}/diff")
        return result

    def diffs(self, change_ids: list[int]) -> Json:
        result: Json = self._call("GET", f"{QUEUE}/diffs", params={"change_ids": change_ids})
        return result

    # ------------------------------------------------------------------ queue writes
    def submit(
        self,
        category: str,
        model_name: str,
        operation: str,
        payload: Json | None,
        notes: str | None,
    ) -> Json:
        params = {"notes": notes} if notes else None
        model_path = f"{V2}/{category}/model/{quote(model_name, safe='/')}"
        if operation == "create":
            result: Json = self._call("POST", f"{V2}/{category}", json=payload, params=params)
        elif operation == "update":
            result = self._call("PUT", model_path, json=payload, params=params)
        else:
            result = self._call("DELETE", model_path, params=params)
        return result

    def review(
        self,
        title: str,
        approved: list[int],
        rejected: list[int],
        reason: str | None,
        override_checks: bool = False,
    ) -> Json:
        body: Json = {"batch_title": title}
        if override_checks:
            body["override_checks"] = True
        if approved:
            body["approved_ids"] = approved
        if rejected:
            body["rejected_ids"] = rejected
            body["reject_reason"] = reason
        result: Json = self._call("POST", f"{QUEUE}/batches", json=body)
        return result

    def withdraw(self, change_id: int) -> Json:
        result: Json = self._call("POST", f"{QUEUE}/changes/{change_id}/withdraw")
        return result

    def apply(
        self,
        change_ids: list[int],
        batch_id: int | None,
        job_id: str | None,
        force: bool,
        allow_mixed_batch: bool,
    ) -> Json:
        if batch_id is not None:
            params: dict[str, Any] = {"job_id": job_id} if job_id else {}
            if force:
                params["force"] = "true"
            result: Json = self._call("POST", f"{QUEUE}/apply_batch/{batch_id}", params=params)
            return result
        body: Json = {"change_ids": change_ids, "job_id": job_id}
        if force:
            body["force"] = True
        if allow_mixed_batch:
            body["allow_mixed_batch"] = True
        result = self._call("POST", f"{QUEUE}/apply", json=body)
        return result

    def purge(self, query: QueueQuery, purge_all: bool, dry_run: bool) -> Json:
        body: Json = {"purge_all": purge_all, "dry_run": dry_run}
        if query.statuses:
            body["statuses"] = query.statuses
        if query.categories:
            body["categories"] = query.categories
        if query.model_name:
            body["model_name"] = query.model_name
        if query.requested_by:
            body["requested_by"] = query.requested_by
        if query.batch_id is not None:
            raise UsageProblem("--batch: the server's purge endpoint has no batch filter")
        result: Json = self._call("POST", f"{QUEUE}/purge", json=body)
        return result

    def recover(self) -> Json:
        raise self._local_only("queue recover")

    def revert(self, batch_id: int | None, change_id: int | None) -> Json:
        if batch_id is not None:
            path = f"{QUEUE}/batches/{batch_id}/revert"
        elif change_id is not None:
            path = f"{QUEUE}/changes/{change_id}/revert"
        else:
            raise UsageProblem("give --batch B or --change N")
        result: Json = self._call("POST", path)
        return result

    def stats(self) -> Json:
        result: Json = self._call("GET", f"{QUEUE}/stats")
        return result

    # ------------------------------------------------------------------ catalog
    def catalog(self, category: str) -> Json:
        result: Json = self._call("GET", f"{V2}/{category}")
        return result

    def record(self, category: str, model_name: str) -> Json:
        result: Json = self._call("GET", f"{V2}/{category}/model/{quote(model_name, safe='/')}")
        return result

    def import_path(self, path: Path, step: Step, replace: bool = False) -> Json:
        raise self._local_only("import")

    def import_reference(self, ref: str, step: Step, replace: bool = False) -> Json:
        raise self._local_only("import --from-github")

    def export(self, out_dir: Path, fmt: str, step: Step) -> Json:
        raise self._local_only("export")

    def db_upgrade(self) -> Json:
        raise self._local_only("db upgrade")

    # ------------------------------------------------------------------ keys and audit
    def keys_create(self, user_id: str, username: str, role: str) -> Json:
        raise self._local_only("keys create")

    def keys_list(self) -> list[Json]:
        raise self._local_only("keys list")

    def keys_revoke(self, prefix: str) -> Json:
        raise self._local_only("keys revoke")

    def audit_log(self, change_id: int | None, batch_id: int | None, limit: int) -> list[Json]:
        params: dict[str, Any] = {"limit": limit}
        if change_id is not None:
            params["change_id"] = change_id
        if batch_id is not None:
            params["batch_id"] = batch_id
        result: list[Json] = self._call("GET", f"{QUEUE}/audit/events", params=params)
        return result

    def audit_verify(self, deep: bool = False) -> Json:
        params = {"deep": "true"} if deep else None
        result: Json = self._call("GET", f"{QUEUE}/audit/verify", params=params)
        return result

    # ------------------------------------------------------------------ review checks
    def checks(self, change_id: int) -> Json:
        result: Json = self._call("GET", f"{QUEUE}/changes/{change_id}/checks")
        return result

    def rerun_checks(self, change_id: int) -> Json:
        result: Json = self._call("POST", f"{QUEUE}/changes/{change_id}/checks/rerun")
        return result
