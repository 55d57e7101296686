"""Reverts: the inverse of applied changes, built from the audit log's before-images.

Every catalog write event stores the record before and after it (``payload.before/after``), so
the net effect of a change or a batch on each model is known exactly, and so is its inverse:
a create is undone by a delete, a delete by a create of the old record, an update by an update
back to the old record. The inverse changes are ordinary proposals; what marks them is their
``request_metadata`` (``route: revert``), which makes the apply write the old record exactly as
it was (its ``metadata`` timestamps included, a deleted record back at its old place in the
file) instead of stamping it as a new edit: a reverted catalog exports the bytes it had.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from modelref.domain.audit import QUEUE_CATEGORY, AuditEvent, net_changes
from modelref.domain.categories import AuditOperation

ROUTE = "revert"


@dataclass(frozen=True)
class Inverse:
    """One proposal undoing what ``change_ids`` did to one model."""

    category: str
    model_name: str
    operation: AuditOperation
    payload: dict[str, Any] | None
    change_ids: tuple[int, ...]
    position: int | None = None


def catalog_writes(events: Iterable[AuditEvent]) -> list[AuditEvent]:
    """The catalog write events (apply writes, not imports) among ``events``, in log order."""
    return sorted(
        (e for e in events if e.category != QUEUE_CATEGORY and e.action is None),
        key=lambda e: e.event_id,
    )


def inverses(writes: Iterable[AuditEvent]) -> list[Inverse]:
    """The changes undoing ``writes``: one per model they left different, last touched first."""
    events = list(writes)
    # A record keeps its place in the file while it lives; deletes note it (``position``).
    position: dict[tuple[str, str], int] = {}
    for ev in events:
        value = ev.payload.get("position")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            position.setdefault((ev.category, ev.model_name), value)
    found: list[Inverse] = []
    for net in net_changes(events):
        ids = tuple(dict.fromkeys(net.change_ids))
        key = (net.category, net.model_name)
        if net.before is None and net.after is not None:
            found.append(Inverse(net.category, net.model_name, AuditOperation.DELETE, None, ids))
        elif net.before is not None and net.after is None:
            found.append(
                Inverse(
                    net.category,
                    net.model_name,
                    AuditOperation.CREATE,
                    net.before,
                    ids,
                    position.get(key),
                )
            )
        elif net.before is not None and net.before != net.after:
            found.append(
                Inverse(net.category, net.model_name, AuditOperation.UPDATE, net.before, ids)
            )
    found.reverse()
    return found


def request_metadata(inverse: Inverse, batch_id: int | None) -> dict[str, Any]:
    """What a revert proposal carries: the changes it undoes and where the record stood."""
    meta: dict[str, Any] = {
        "route": ROUTE,
        "revert_of": {"change_ids": list(inverse.change_ids), "batch_id": batch_id},
    }
    if inverse.position is not None:
        meta["restore_position"] = inverse.position
    return meta


def notes(inverse: Inverse, batch_id: int | None) -> str:
    """``revert of change 12 (batch 3)``: the reviewer's link to the original."""
    ids = ", ".join(str(i) for i in inverse.change_ids)
    what = f"change {ids}" if len(inverse.change_ids) == 1 else f"changes {ids}"
    return f"revert of {what}" + (f" (batch {batch_id})" if batch_id is not None else "")


def is_restore(request_metadata: dict[str, Any] | None) -> bool:
    """True for a revert proposal: its payload is an old record, written back exactly."""
    return bool(request_metadata) and (request_metadata or {}).get("route") == ROUTE


def restore_position(request_metadata: dict[str, Any] | None) -> int | None:
    """Where a re-created record stood in its category's file (None: append it)."""
    if not is_restore(request_metadata):
        return None
    value = (request_metadata or {}).get("restore_position")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None
