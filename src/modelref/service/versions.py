"""Catalog versions, recorded in the transaction of the catalog write they describe.

The apply engine calls :func:`record_apply` at the end of its commit transaction and the import
calls :func:`record_import` in its own, so a version exists if and only if its catalog write
committed. Each version gets the next value of a counter taken under the write lock (dense and
monotonic across every instance on the database), the sha256 of every category's v2 file after
it, the audit head after the write's events, and a journal of its net changes per record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from modelref.domain.actors import Actor
from modelref.domain.audit import GENESIS_HASH, NewEvent
from modelref.domain.clock import Clock
from modelref.domain.queue_models import PendingChangeRecord
from modelref.domain.releases import (
    IMPORT,
    Approver,
    Entry,
    Prior,
    Release,
    Touch,
    net_changes,
)
from modelref.service.lifecycle import Step
from modelref.service.rendering import dump_v2
from modelref.store.catalog import CatalogRow
from modelref.store.database import Database
from modelref.store.unit_of_work import Transaction

#: name + stored JSON text -> that record's bytes in the v2 file; a record's text identifies
#: its serialization exactly, so fingerprinting a category after an apply parses only the
#: records this process has not seen (the whole file would cost ~50 ms for text_generation).
_FRAGMENTS: dict[tuple[str, str], bytes] = {}
_MAX_FRAGMENTS = 100_000


def file_hash(rows: Sequence[CatalogRow]) -> str:
    """sha256 of a category's v2 file (the body of ``GET /v2/{category}``)."""
    return hashlib.sha256(dump_v2({r.name: r.record for r in rows})).hexdigest()


def fragment(name: str, record: dict[str, Any]) -> bytes:
    """One record's lines in :func:`dump_v2`'s output (without the separating comma)."""
    body = json.dumps(record, indent=4, ensure_ascii=False).replace("\n", "\n    ")
    return f"    {json.dumps(name, ensure_ascii=False)}: {body}".encode()


def stored_hash(tx: Transaction, category: str) -> str:
    """:func:`file_hash` of a category as stored, from the records' stored text."""
    texts = tx.releases.record_texts(category)
    if not texts:
        return hashlib.sha256(dump_v2({})).hexdigest()
    if len(_FRAGMENTS) > _MAX_FRAGMENTS:
        _FRAGMENTS.clear()
    digest = hashlib.sha256(b"{\n")
    for i, key in enumerate(texts):
        piece = _FRAGMENTS.get(key)
        if piece is None:
            piece = _FRAGMENTS[key] = fragment(key[0], json.loads(key[1]))
        if i:
            digest.update(b",\n")
        digest.update(piece)
    digest.update(b"\n}\n")
    return digest.hexdigest()


def record_apply(
    step: Step,
    records: Sequence[PendingChangeRecord],
    writes: Sequence[NewEvent],
    before: dict[tuple[str, str], CatalogRow],
) -> Release:
    """The version of one apply: ``writes`` are its catalog events, ``before`` the live rows
    it started from (absent keys did not exist)."""
    tx = step.tx
    version = tx.releases.allocate()
    touches = [Touch(e.category, e.model_name, e.payload.get("after")) for e in writes]
    priors = {k: Prior(r.record, r.extras, r.position) for k, r in before.items()}
    entries = [
        Entry(version, seq, category, name, op, after, prior.record, prior.extras, prior.position)
        for seq, (category, name, op, after, prior) in enumerate(net_changes(touches, priors), 1)
    ]
    titles = list(dict.fromkeys(r.batch_title for r in records if r.batch_title))
    approvers = list(
        dict.fromkeys(
            Approver(r.approved_by, r.approved_username or r.approved_by)
            for r in records
            if r.approved_by
        )
    )
    ids = [r.change_id for r in records]
    return _record(
        tx,
        version,
        step.now,
        source="apply",
        title="; ".join(titles) or f"Apply of changes {', '.join(map(str, ids))}",
        actor=step.actor,
        job_id=records[0].applied_job_id if records else None,
        change_ids=ids,
        batch_ids=sorted({r.batch_id for r in records if r.batch_id is not None}),
        approvers=approvers,
        categories=list(dict.fromkeys(t.category for t in touches)),
        entries=entries,
        fresh={},
    )


def record_import(
    tx: Transaction,
    actor: Actor | None,
    now: int,
    imported: Sequence[tuple[str, Sequence[CatalogRow], Sequence[CatalogRow]]],
    *,
    source: str = "import",
) -> Release:
    """The version of an import: per category (name, rows before, rows after)."""
    version = tx.releases.allocate()
    entries = [
        Entry(
            version,
            seq,
            category,
            None,
            IMPORT,
            {r.name: r.record for r in rows},
            [[r.name, r.record, r.extras, r.position] for r in old],
        )
        for seq, (category, old, rows) in enumerate(imported, 1)
    ]
    categories = [category for category, _old, _rows in imported]
    label = "Import" if source == "import" else "Baseline"
    return _record(
        tx,
        version,
        now,
        source=source,
        title=f"{label} of {', '.join(categories)}",
        actor=actor,
        job_id=None,
        change_ids=[],
        batch_ids=[],
        approvers=[],
        categories=categories,
        entries=entries,
        fresh={category: file_hash(rows) for category, _old, rows in imported},
    )


def _record(
    tx: Transaction,
    version: int,
    now: int,
    *,
    source: str,
    title: str,
    actor: Actor | None,
    job_id: str | None,
    change_ids: list[int],
    batch_ids: list[int],
    approvers: list[Approver],
    categories: list[str],
    entries: list[Entry],
    fresh: dict[str, str],
) -> Release:
    previous = tx.releases.get(version - 1)
    if previous is not None:
        hashes = dict(previous.hashes)
        todo = categories
    else:  # the first version fingerprints every category there is
        hashes = {}
        todo = sorted(tx.catalog.versions())
    for category in todo:
        hashes[category] = fresh.get(category) or stored_hash(tx, category)
    head = tx.audit.last()
    release = Release(
        version=version,
        created_at=now,
        source=source,
        title=title,
        job_id=job_id,
        actor_id=actor.user_id if actor else None,
        actor_username=actor.username if actor else None,
        change_ids=change_ids,
        batch_ids=batch_ids,
        approvers=approvers,
        categories=categories,
        hashes=hashes,
        audit_event_id=head.event_id if head else 0,
        audit_hash=head.hash if head else GENESIS_HASH,
    )
    tx.releases.add(release, entries)
    return release


def ensure_baseline(db: Database, clock: Clock) -> Release | None:
    """Give a catalog that predates versions its version 1 (its whole content, as an import).

    Without it a reader at version 0 could not rebuild records written before the upgrade.
    """
    with db.read() as tx:
        if tx.releases.latest_version() > 0 or not tx.catalog.versions():
            return None
    with db.write() as tx:
        if tx.releases.latest_version() > 0:
            return None  # another process made it meanwhile
        imported: list[tuple[str, list[CatalogRow], list[CatalogRow]]] = [
            (c, [], tx.catalog.rows(c)) for c in sorted(tx.catalog.versions())
        ]
        return record_import(tx, None, clock(), imported, source="baseline")
