"""Catalog versions and their journal: pure rules for what a version changed, and undoing it.

A catalog version ("release") is one committed catalog write: an applied batch (or single
apply), an import, or the baseline of a catalog that existed before versions did. Its journal
holds the *net* effect per record in the order the catalog took it, which is what a reader
needs to catch up, and what each record was before, which is what the git publisher needs to
rebuild an older version's files from the live catalog (:func:`state_at`).

Order matters for byte-equal files: the catalog keeps records in file order, an update keeps
a record's place, a create appends, a delete removes, an import replaces the category in its
file's order. A reader applying the journal to a plain ``dict`` gets exactly that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

Record = dict[str, Any]

#: Journal operations. ``import`` replaces a whole category (``model`` is None).
CREATE, UPDATE, DELETE, IMPORT = "create", "update", "delete", "import"


@dataclass(frozen=True)
class Approver:
    user_id: str
    username: str


@dataclass(frozen=True)
class Release:
    """One catalog version: what produced it, and the catalog's fingerprint after it."""

    version: int
    created_at: int
    source: str  # apply | import | baseline
    title: str | None
    job_id: str | None
    actor_id: str | None
    actor_username: str | None
    change_ids: list[int]
    batch_ids: list[int]
    approvers: list[Approver]
    #: Categories this version changed.
    categories: list[str]
    #: sha256 of the v2 file of every category, after this version.
    hashes: dict[str, str]
    audit_event_id: int
    audit_hash: str

    def manifest(self) -> dict[str, Any]:
        """The wire form (``GET .../catalog/versions/{n}``)."""
        return {
            "version": self.version,
            "created_at": self.created_at,
            "source": self.source,
            "title": self.title,
            "job_id": self.job_id,
            "applied_by": (
                {"user_id": self.actor_id, "username": self.actor_username}
                if self.actor_id is not None
                else None
            ),
            "approvers": [{"user_id": a.user_id, "username": a.username} for a in self.approvers],
            "change_ids": list(self.change_ids),
            "batch_ids": list(self.batch_ids),
            "changed_categories": list(self.categories),
            "categories": {c: {"sha256": h} for c, h in sorted(self.hashes.items())},
            "audit_head": {"event_id": self.audit_event_id, "hash": self.audit_hash},
        }


@dataclass(frozen=True)
class Entry:
    """One journal line: the net change of one record (or one imported category)."""

    version: int
    seq: int
    category: str
    model: str | None
    operation: str
    #: The record after; an import: ``{name: record}`` in file order; None for a delete.
    after: Any
    #: The record before; an import: ``[[name, record, extras, position], ...]``.
    before: Any = None
    before_extras: Record | None = None
    before_position: int | None = None

    def change(self) -> dict[str, Any]:
        """The feed's wire form."""
        return {
            "version": self.version,
            "category": self.category,
            "model": self.model,
            "operation": self.operation,
            "after": self.after,
        }


@dataclass(frozen=True)
class Prior:
    """A record as it was before a version touched it (None fields: it did not exist)."""

    record: Record | None
    extras: Record | None = None
    position: int | None = None


@dataclass(frozen=True)
class Touch:
    """One catalog write event of an apply: record ``name`` of ``category`` became ``after``."""

    category: str
    name: str
    after: Record | None


def net_changes(
    touches: Sequence[Touch], before: dict[tuple[str, str], Prior]
) -> list[tuple[str, str, str, Record | None, Prior]]:
    """(category, name, operation, after, prior) per record, in first-touch order.

    Several changes of one record in one apply collapse into one line: a delete followed by a
    create of the same name is an update in place, a create followed by a delete is nothing.
    """
    last: dict[tuple[str, str], Record | None] = {}
    for touch in touches:
        last[(touch.category, touch.name)] = touch.after
    lines = []
    for (category, name), after in last.items():
        prior = before.get((category, name), Prior(None))
        if prior.record is None and after is None:
            continue
        if prior.record is None:
            op = CREATE
        elif after is None:
            op = DELETE
        else:
            op = UPDATE
        lines.append((category, name, op, after, prior))
    return lines


@dataclass
class Row:
    """A record during a rebuild: its content, legacy extras and place in the file."""

    record: Record
    extras: Record | None
    position: int


@dataclass
class CategoryState:
    """One category's records during a rebuild, keyed by name."""

    rows: dict[str, Row] = field(default_factory=dict)

    def undo(self, entry: Entry) -> None:
        """Put back what ``entry`` changed (entries must be undone newest first)."""
        if entry.operation == IMPORT:
            self.rows = {
                str(name): Row(record, extras, int(position))
                for name, record, extras, position in entry.before or []
            }
            return
        assert entry.model is not None
        if entry.before is None:
            self.rows.pop(entry.model, None)
        else:
            self.rows[entry.model] = Row(
                entry.before, entry.before_extras, int(entry.before_position or 0)
            )

    def ordered(self) -> list[tuple[str, Row]]:
        """Records in file order (position, then name, as the catalog reads them)."""
        return sorted(self.rows.items(), key=lambda item: (item[1].position, item[0]))


def state_at(current: Iterable[tuple[str, Row]], newer: Iterable[Entry]) -> CategoryState:
    """A category at an older version: the live rows with every newer entry undone.

    ``newer`` must be the category's entries after that version, newest first. Undoing sets
    each record to its state before each entry, so the result does not depend on whether the
    live rows were read before or after a concurrent commit of a still newer version.
    """
    state = CategoryState({name: Row(r.record, r.extras, r.position) for name, r in current})
    for entry in newer:
        state.undo(entry)
    return state
