"""Shared helpers for the catalog / apply-engine tests: services, actors, snapshots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.audit import AuditEvent
from modelref.domain.categories import Category
from modelref.domain.clock import Clock
from modelref.domain.queue_models import PendingChangeRecord
from modelref.service.container import Services
from modelref.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

#: Three distinct people: the two-person rule forbids approving or applying one's own change.
REQUESTER = Actor("1001", "alice#1001")
APPROVER = Actor("2002", "bob#2002")
APPLIER = Actor("3003", "carol#3003")
IMPORTER = Actor("9009", "admin#9009")


def open_services(
    url: str,
    publish_dir: Path | None = None,
    *,
    recover: bool = True,
    clock: Clock | None = None,
) -> Services:
    settings = Settings(database_url=url, publish_dir=publish_dir)
    return Services.open(settings, recover=recover, clock=clock)


def misc_record(name: str, description: str = "helper model", sha: str = "0") -> dict[str, Any]:
    """A small valid ``miscellaneous`` v2 record (written for these tests)."""
    return {
        "name": name,
        "description": description,
        "config": {
            "download": [
                {
                    "file_name": f"{name}.safetensors",
                    "file_url": f"https://example.invalid/{name}.safetensors",
                    "sha256sum": sha * 64,
                }
            ]
        },
    }


def enqueue(
    svc: Services,
    category: str | Category,
    name: str,
    operation: str,
    payload: dict[str, Any] | None = None,
    who: Actor = REQUESTER,
) -> int:
    rec = svc.review.enqueue_change(
        category=category,
        model_name=name,
        operation=operation,
        payload=payload,
        requestor_id=who.user_id,
        requestor_username=who.username,
    )
    return rec.change_id


def approve(svc: Services, ids: list[int], title: str = "review") -> int:
    result = svc.review.process_batch(
        approver_id=APPROVER.user_id,
        approver_username=APPROVER.username,
        batch_title=title,
        approved_ids=ids,
        rejected_ids=None,
    )
    assert result.batch_id is not None
    return result.batch_id


def apply(svc: Services, ids: list[int], **kwargs: Any) -> Any:
    return svc.apply.apply_changes(ids, APPLIER.user_id, APPLIER.username, **kwargs)


# ---------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class Snapshot:
    """Everything a use case could write: catalog rows + versions, queue rows, audit log."""

    catalog: dict[str, dict[str, tuple[str, str | None]]]
    versions: dict[str, int]
    queue: dict[int, PendingChangeRecord]
    events: list[AuditEvent]


def snapshot(svc: Services) -> Snapshot:
    catalog: dict[str, dict[str, tuple[str, str | None]]] = {}
    for category in Category:
        rows, _version = svc.catalog.stored(category)
        catalog[category.value] = {
            r.name: (r.content_hash, json.dumps(r.extras, sort_keys=True) if r.extras else None)
            for r in rows
        }
    return Snapshot(
        catalog=catalog,
        versions={c.value: v for c, v in svc.catalog.versions().items()},
        queue={r.change_id: r for r in svc.review.list_changes().items},
        events=svc.audit.events(),
    )


def apply_events_per_change(events: list[AuditEvent]) -> Counter[int]:
    """How many times each change was marked applied (queue ``apply`` events)."""
    return Counter(e.change_id for e in events if e.action == "apply" and e.change_id)


def model_events_per_change(events: list[AuditEvent]) -> Counter[int]:
    """How many catalog writes each change made (model-category events)."""
    return Counter(
        e.change_id
        for e in events
        if e.category != "pending_queue" and e.action is None and e.change_id is not None
    )


def assert_consistent(svc: Services) -> None:
    """The audit chain verifies and replays to exactly the queue store and the catalog."""
    report = svc.audit.verify()
    assert report.ok, report
    store = {r.change_id: r for r in svc.review.list_changes().items}
    assert svc.audit.replay() == store
    replayed = svc.audit.replay_catalog()
    for category in Category:
        records, _version = svc.catalog.records(category)
        assert replayed.get(category.value, {}) == records, category.value


def assert_published(svc: Services, publish_dir: Path) -> None:
    """Every written category's files on disk are byte-equal to what the database renders."""
    assert svc.publisher is not None
    for category, version in svc.catalog.versions().items():
        files, rendered_version = svc.catalog.render_files(category)
        assert rendered_version == version
        assert svc.publisher.published_version(category) == version, category.value
        for rel, data in files.items():
            assert (publish_dir / rel).read_bytes() == data, rel


# ---------------------------------------------------------------------- subprocesses


def child_env(**extra: str) -> dict[str, str]:
    """The test process's environment minus any MODELREF_ setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELREF_")}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env.update(extra)
    return env


def run_child(code: str, args: list[str], env: dict[str, str], timeout: float = 60) -> Any:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def writable_copy(root: Path, tmp_path: Path, *parts: str) -> Path:
    """A writable copy of the data folder (the originals are read-only) to damage on purpose."""
    target = tmp_path / "src"
    for part in parts:
        shutil.copytree(root / part, target / part)
    for path in target.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    return target
