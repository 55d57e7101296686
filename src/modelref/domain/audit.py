"""Audit events, their hash chain and the pure fold that rebuilds queue state from them.

Each event's ``hash`` is ``sha256(prev_hash + canonical_json(event))`` where ``event`` is every
field except the two hashes, so altering any stored field, deleting or re-ordering rows breaks
the chain at the first altered event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from modelref.domain import diff as diffing
from modelref.domain import quorum
from modelref.domain.canonical import canonical_json
from modelref.domain.queue_models import ChangeApproval, PendingChangeRecord, PendingChangeStatus
from modelref.domain.transitions import Action

GENESIS_HASH = "0" * 64
QUEUE_CATEGORY = "pending_queue"


@dataclass(frozen=True)
class AuditEvent:
    """One row of the audit log."""

    event_id: int
    timestamp: int
    domain: str
    category: str
    model_name: str
    operation: str
    action: str | None
    change_id: int | None
    batch_id: int | None
    job_id: str | None
    logical_user_id: str | None
    username: str | None
    payload: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """The hashed content: everything except the chain fields (no deep copy: read-only)."""
        return {name: getattr(self, name) for name in _BODY_FIELDS}


_BODY_FIELDS = tuple(f.name for f in fields(AuditEvent) if f.name not in ("prev_hash", "hash"))


@dataclass(frozen=True)
class NewEvent:
    """An event not yet appended: the store gives it its id and chains it."""

    timestamp: int
    domain: str
    category: str
    model_name: str
    operation: str
    action: str | None
    change_id: int | None
    batch_id: int | None
    job_id: str | None
    logical_user_id: str | None
    username: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def chained(self, event_id: int, prev_hash: str) -> AuditEvent:
        """This event as the log's ``event_id``-th entry after ``prev_hash`` (its body is
        exactly these fields plus the id: serialized canonically in one call, for the hash)."""
        values = {**self.__dict__, "event_id": event_id}
        digest = hashlib.sha256(prev_hash.encode("ascii"))
        digest.update(canonical_json(values).encode("utf-8"))
        return AuditEvent(prev_hash=prev_hash, hash=digest.hexdigest(), **values)


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    """The hash an event must carry given its predecessor's hash."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(canonical_json(event.body()).encode("utf-8"))
    return digest.hexdigest()


def first_broken(events: list[AuditEvent]) -> tuple[int, str] | None:
    """Return ``(event_id, reason)`` of the first event that breaks the chain, else ``None``."""
    prev = GENESIS_HASH
    expected_id: int | None = None
    for ev in events:
        if expected_id is not None and ev.event_id != expected_id:
            return ev.event_id, f"event ids jump from {expected_id - 1} to {ev.event_id}"
        if ev.prev_hash != prev:
            return ev.event_id, "prev_hash does not match the previous event's hash"
        if chain_hash(prev, ev) != ev.hash:
            return ev.event_id, "content does not match its hash"
        prev = ev.hash
        expected_id = ev.event_id + 1
    return None


def body(ev: AuditEvent) -> dict[str, Any]:
    """A queue event's body (``payload.after``), or ``{}``."""
    after = ev.payload.get("after")
    return after if isinstance(after, dict) else {}


def fold(
    record: PendingChangeRecord | None, ev: AuditEvent, change_id: int
) -> PendingChangeRecord | None:
    """Change ``change_id`` after queue event ``ev`` (``None``: not enqueued yet, or purged).

    The one fold of the log into change state: :func:`replay_queue` and the audit views use
    it, so rebuilding from the log and the views can never disagree.
    """
    data = body(ev)
    action = Action(ev.action or "")
    if action is Action.enqueue:
        return PendingChangeRecord.model_validate(data["record"])
    if record is None:
        return None
    if action is Action.batch_split:
        if change_id not in data.get("reassigned_change_ids", []):
            return record
        return record.model_copy(
            update={"batch_id": data["new_batch_id"], "updated_at": ev.timestamp}
        )
    if action is Action.purge:
        return None
    update: dict[str, Any] = {"updated_at": ev.timestamp}
    if action is Action.approve:
        update |= {
            "status": PendingChangeStatus.APPROVED,
            "batch_id": data["batch_id"],
            "batch_title": data["batch_title"],
            "approved_by": ev.logical_user_id,
            "approved_username": ev.username,
            "approved_at": ev.timestamp,
            **_approval(record, ev, data),
        }
    elif action is Action.endorse:
        update |= _approval(record, ev, data)
    elif action is Action.approvals_stale:
        update |= {"approvals": quorum.staled(record.approvals)}
    elif action in (Action.reject, Action.withdraw):
        update |= {
            "status": PendingChangeStatus.REJECTED,
            "batch_id": data.get("batch_id", record.batch_id),
            "batch_title": data.get("batch_title", record.batch_title),
            "rejected_by": ev.logical_user_id,
            "rejected_username": ev.username,
            "rejected_at": ev.timestamp,
            "reject_reason": data["reason"],
        }
    elif action is Action.reserve:
        update |= {"status": PendingChangeStatus.APPLYING, "applied_job_id": data["job_id"]}
    elif action in (Action.release, Action.recover):
        update |= {
            "status": PendingChangeStatus.APPROVED,
            "applied_job_id": None,
            "batch_id": data.get("batch_id", record.batch_id),
        }
    elif action is Action.apply:
        update |= {
            "status": PendingChangeStatus.APPLIED,
            "applied_by": ev.logical_user_id,
            "applied_username": ev.username,
            "applied_at": ev.timestamp,
            "applied_job_id": data["job_id"],
        }
    return record.model_copy(update=update)


def _approval(record: PendingChangeRecord, ev: AuditEvent, data: dict[str, Any]) -> dict[str, Any]:
    """What an approve/endorse event under a quorum policy adds: the approval (and a new base).

    ``approvals_required`` marks a quorum policy's event; ``base_hash`` present means the
    approver approved against a newer live record, so every earlier approval went stale.
    """
    if "approvals_required" not in data:
        return {}
    approvals = list(record.approvals or [])
    update: dict[str, Any] = {}
    if "base_hash" in data:
        approvals = quorum.staled(approvals)
        update["base_hash"] = data["base_hash"]
    approvals.append(
        ChangeApproval(
            approved_by=ev.logical_user_id or "",
            approved_username=ev.username or "",
            approved_at=ev.timestamp,
        )
    )
    return {**update, "approvals": approvals, "approvals_required": data["approvals_required"]}


def replay_queue(events: Iterable[AuditEvent]) -> dict[int, PendingChangeRecord]:
    """Rebuild every queue record from queue events alone (ordered by ``event_id``)."""
    records: dict[int, PendingChangeRecord] = {}
    for ev in events:
        if ev.category != QUEUE_CATEGORY or ev.action is None:
            continue
        if ev.action == Action.batch_split:
            targets = list(body(ev).get("reassigned_change_ids", []))
        elif ev.action == Action.enqueue:
            targets = [int(body(ev)["record"]["change_id"])]
        else:
            targets = [ev.change_id] if ev.change_id is not None else []
        for cid in targets:
            new = fold(records.get(cid), ev, cid)
            if new is None:
                records.pop(cid, None)
            else:
                records[cid] = new
    return records


def replay_catalog(events: Iterable[AuditEvent]) -> dict[str, dict[str, dict[str, Any]]]:
    """Rebuild every category's live records from import and apply events alone."""
    catalog: dict[str, dict[str, dict[str, Any]]] = {}
    for ev in events:
        if ev.category == QUEUE_CATEGORY:
            continue
        records = catalog.setdefault(ev.category, {})
        if ev.action == "import":
            catalog[ev.category] = dict(ev.payload["records"])
        elif ev.operation == "delete":
            records.pop(ev.model_name, None)
        elif ev.operation in ("create", "update"):
            records[ev.model_name] = ev.payload["after"]
    return catalog


@dataclass
class NetChange:
    """What a run of catalog writes did to one model: before the first, after the last."""

    category: str
    model_name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    change_ids: list[int] = field(default_factory=list)
    forced: bool = False

    @property
    def operation(self) -> str:
        """create / update / delete / none, as the catalog saw it."""
        if self.before is None:
            return "create" if self.after is not None else "none"
        return "delete" if self.after is None else "update"

    @property
    def net_operation(self) -> str:
        """Upstream's wording: added / modified / deleted / unchanged."""
        if self.before is None:
            return "added" if self.after is not None else "unchanged"
        if self.after is None:
            return "deleted"
        return "unchanged" if self.before == self.after else "modified"

    @property
    def field_diffs(self) -> list[diffing.FieldDiff]:
        return diffing.field_diffs(self.before, self.after)

    @property
    def is_critical(self) -> bool:
        try:
            return diffing.is_critical(self.category, (d["field_path"] for d in self.field_diffs))
        except ValueError:
            return False


def net_changes(writes: Iterable[AuditEvent]) -> list[NetChange]:
    """Group catalog write events (in event order) by model into their net effect."""
    by_model: dict[tuple[str, str], NetChange] = {}
    for ev in writes:
        key = (ev.category, ev.model_name)
        net = by_model.get(key)
        if net is None:
            net = by_model[key] = NetChange(
                ev.category, ev.model_name, ev.payload.get("before"), ev.payload.get("after")
            )
        net.after = ev.payload.get("after")
        net.forced = net.forced or bool(ev.payload.get("forced"))
        if ev.change_id is not None:
            net.change_ids.append(ev.change_id)
    return list(by_model.values())
