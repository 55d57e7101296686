"""What a change would do to the live record: field diffs, net operation, criticality.

Follows spec queue-semantics §9, with two deliberate improvements:

* a DELETE diff has ``proposed_state = None`` and lists every field of the live record as
  ``removed`` (upstream compares the live record with its own snapshot and shows nothing);
* a change under ``config.download`` is critical in every category (upstream W22: only in
  categories that have a critical set), because a new download URL or hash changes what every
  worker runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelref.domain.categories import CRITICAL_FIELDS, AuditOperation, Category
from modelref.domain.queue_models import PendingChangeDiff, PendingChangeRecord

_DOWNLOADS = "config.download"

FieldDiff = dict[str, Any]


def _same(old: Any, new: Any) -> bool:
    """JSON equality that, unlike ``==``, tells ``true`` from ``1`` and ``false`` from ``0``."""
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    if isinstance(old, dict | list) or isinstance(new, dict | list):
        return False
    return bool(old == new)


def _item(path: str, old: Any, new: Any, change_type: str) -> FieldDiff:
    return {"field_path": path, "old_value": old, "new_value": new, "change_type": change_type}


def _one_sided(obj: dict[str, Any], prefix: str, *, added: bool) -> list[FieldDiff]:
    """Every key of an object that exists on one side only, in that object's key order."""
    out: list[FieldDiff] = []
    for key, value in obj.items():
        path = f"{prefix}{key}"
        # An empty object is listed itself, so a delete diff never hides a field.
        if isinstance(value, dict) and value:
            out.extend(_one_sided(value, f"{path}.", added=added))
        elif added:
            out.append(_item(path, None, value, "added"))
        else:
            out.append(_item(path, value, None, "removed"))
    return out


def _both_sides(old: dict[str, Any], new: dict[str, Any], prefix: str) -> list[FieldDiff]:
    out: list[FieldDiff] = []
    for key in sorted(old.keys() | new.keys()):
        before, after = old.get(key), new.get(key)
        if _same(before, after):
            continue
        path = f"{prefix}{key}"
        if before is None:
            out.append(_item(path, None, after, "added"))
        elif after is None:
            out.append(_item(path, before, None, "removed"))
        elif isinstance(before, dict) and isinstance(after, dict):
            out.extend(_both_sides(before, after, f"{path}."))
        else:
            out.append(_item(path, before, after, "modified"))
    return out


def field_diffs(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[FieldDiff]:
    """Field-level differences from ``old`` to ``new``; an absent key equals a null one.

    Recurses into objects only; lists and type changes are reported whole. Items are
    ``{"field_path", "old_value", "new_value", "change_type"}`` with dotted paths.
    """
    if old is None:
        return [] if new is None else _one_sided(new, "", added=True)
    if new is None:
        return _one_sided(old, "", added=False)
    return _both_sides(old, new, "")


def net_operation(
    operation: AuditOperation | str,
    current: dict[str, Any] | None,
    proposed: dict[str, Any] | None,
) -> str:
    """What the change amounts to given the live record: added/modified/unchanged/deleted."""
    op = AuditOperation(operation)
    if op is AuditOperation.DELETE:
        return "unchanged" if current is None else "deleted"
    if current is None:
        return "added"
    if op is AuditOperation.UPDATE and not field_diffs(current, proposed):
        return "unchanged"
    return "modified"


def _touches(path: str, field: str) -> bool:
    # An ancestor replaced wholesale (e.g. all of ``config``) touches every field below it.
    return path == field or path.startswith(f"{field}.") or field.startswith(f"{path}.")


def is_critical(category: Category | str, field_paths: Iterable[str]) -> bool:
    """True if a changed path is one of the category's critical fields or under downloads."""
    fields = (*CRITICAL_FIELDS.get(Category(category), ()), _DOWNLOADS)
    return any(
        path.startswith(_DOWNLOADS) or any(_touches(path, f) for f in fields)
        for path in field_paths
    )


def build_diff(
    change: PendingChangeRecord,
    current: dict[str, Any] | None,
    *,
    is_stale: bool = False,
    conflicts: list[int] | None = None,
) -> PendingChangeDiff:
    """The reviewer's view of ``change`` against the live record ``current`` (None if absent)."""
    proposed = None if change.operation is AuditOperation.DELETE else change.payload
    diffs = field_diffs(current, proposed)

    def paths(kind: str) -> list[str]:
        return [d["field_path"] for d in diffs if d["change_type"] == kind]

    return PendingChangeDiff(
        change_id=change.change_id,
        category=change.category,
        model_name=change.model_name,
        operation=change.operation,
        current_state=current,
        proposed_state=proposed,
        net_operation=net_operation(change.operation, current, proposed),
        field_diffs=diffs,
        is_critical=is_critical(change.category, (d["field_path"] for d in diffs)),
        fields_added=paths("added"),
        fields_removed=paths("removed"),
        fields_modified=paths("modified"),
        is_stale=is_stale,
        conflicts=list(conflicts or []),
    )
