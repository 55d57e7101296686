"""SQL for review checks: per-change runs (state, findings, progress) and identity keys.

Every write that records a job's work is a compare-and-set on the run's ``job_id``: a re-run
queues a new job, and the older job's progress or result is then ignored.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    delete,
    insert,
    not_,
    or_,
    select,
    union_all,
    update,
)

from modelref.domain.checks import CheckState, Finding
from modelref.domain.identity import MATCHES_PER_KEY, IdentityKey, KeyMatch
from modelref.domain.transitions import OPEN
from modelref.store.prepared import Prepared
from modelref.store.sql import chunks
from modelref.store.tables import (
    catalog_versions,
    check_key_versions,
    check_keys,
    check_runs,
    pending_changes,
)

R = check_runs
K = check_keys
KV = check_key_versions
V = catalog_versions
P = pending_changes

#: ``check_keys.change_id`` of live catalog records.
LIVE = 0
_UNSETTLED = (CheckState.pending.value, CheckState.running.value)
_OPEN = sorted(s.value for s in OPEN)

# Statements built once (the enqueue path runs them on every proposal).
_MATCH_COLUMNS = (K.c.digest, K.c.display, K.c.field, K.c.category, K.c.model_name, K.c.change_id)
#: Live, or an open change (spelled out rather than ``IN``: prepared statements bind no lists).
_VISIBLE = or_(K.c.change_id == LIVE, *(P.c.status == s for s in _OPEN))
_KEYS = K.outerjoin(P, P.c.change_id == K.c.change_id)
#: The model asking is never its own match.
_OTHERS = not_(and_(K.c.category == bindparam("category"), K.c.model_name == bindparam("name")))


def _holders(digest: str, *where: Any) -> Any:
    """The first holders of one key (live ones first, then by change id): a walk of at most
    :data:`MATCHES_PER_KEY` primary-key entries, however many changes share the key."""
    return (
        select(*_MATCH_COLUMNS)
        .select_from(_KEYS)
        .where(K.c.digest == bindparam(digest), *where, _VISIBLE, _OTHERS)
        .order_by(K.c.change_id, K.c.category, K.c.model_name, K.c.field)
        .limit(MATCHES_PER_KEY)
        .subquery()
    )


@functools.cache
def _match(plain: int, author: bool) -> Prepared:
    """One statement for ``plain`` keys (parameters ``d0``, ``d1``...) and the author key,
    built once per shape."""
    parts = [_holders(f"d{i}") for i in range(plain)]
    if author:
        parts.append(_holders("author", K.c.display != bindparam("spelling")))
    return Prepared(union_all(*(select(p) for p in parts)))


_STALE = Prepared(
    select(V.c.category, V.c.version)
    .select_from(V.outerjoin(KV, KV.c.category == V.c.category))
    .where(or_(KV.c.version.is_(None), KV.c.version != V.c.version))
)
_INSERT_RUN = Prepared(insert(R), [c.name for c in R.c])
_INSERT_KEYS = Prepared(
    insert(K), ("digest", "change_id", "category", "model_name", "field", "display")
)


@dataclass(frozen=True)
class CheckRun:
    """The stored checks of one change."""

    change_id: int
    state: CheckState
    job_id: int | None
    identity: list[Finding]
    findings: list[Finding]
    attempts: int
    completions: int
    progress_field: str | None
    bytes_done: int
    bytes_total: int | None
    created_at: int
    updated_at: int
    finished_at: int | None


#: Findings as stored: a JSON list, (de)serialized by pydantic in one call.
_FINDINGS = TypeAdapter(list[Finding])


def _dump(findings: Sequence[Finding]) -> str:
    return _FINDINGS.dump_json(list(findings)).decode("utf-8")


def _load(raw: str | None) -> list[Finding]:
    return _FINDINGS.validate_json(raw or "[]")


def _run(row: Row[Any]) -> CheckRun:
    m = row._mapping
    return CheckRun(
        change_id=int(m["change_id"]),
        state=CheckState(m["state"]),
        job_id=int(m["job_id"]) if m["job_id"] is not None else None,
        identity=_load(m["identity_findings"]),
        findings=_load(m["findings"]),
        attempts=int(m["attempts"]),
        completions=int(m["completions"]),
        progress_field=m["progress_field"],
        bytes_done=int(m["bytes_done"]),
        bytes_total=int(m["bytes_total"]) if m["bytes_total"] is not None else None,
        created_at=int(m["created_at"]),
        updated_at=int(m["updated_at"]),
        finished_at=int(m["finished_at"]) if m["finished_at"] is not None else None,
    )


class ChecksRepository:
    """Check runs and identity keys of one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # ------------------------------------------------------------------ runs
    def run(self, change_id: int) -> CheckRun | None:
        row = self.conn.execute(select(R).where(R.c.change_id == change_id)).first()
        return _run(row) if row is not None else None

    def runs(self, change_ids: Iterable[int]) -> dict[int, CheckRun]:
        found: dict[int, CheckRun] = {}
        for chunk in chunks(sorted(set(change_ids))):
            for row in self.conn.execute(select(R).where(R.c.change_id.in_(chunk))):
                run = _run(row)
                found[run.change_id] = run
        return found

    def put(
        self,
        change_id: int,
        state: CheckState,
        job_id: int | None,
        identity: Sequence[Finding],
        now: int,
        *,
        fresh: bool = False,
    ) -> None:
        """Start the change's checks afresh (``fresh``: the change has none yet, at enqueue)."""
        if not fresh:
            self.conn.execute(delete(R).where(R.c.change_id == change_id))
        _INSERT_RUN.run(
            self.conn,
            {
                "change_id": change_id,
                "state": state.value,
                "job_id": job_id,
                "identity_findings": _dump(identity),
                "findings": "[]",
                "attempts": 0,
                "completions": 0,
                "progress_field": None,
                "bytes_done": 0,
                "bytes_total": None,
                "created_at": now,
                "updated_at": now,
                "finished_at": now if state is CheckState.done else None,
            },
        )

    def _current(self, change_id: int, job_id: int) -> Any:
        return and_(R.c.change_id == change_id, R.c.job_id == job_id, R.c.state.in_(_UNSETTLED))

    def start(self, change_id: int, job_id: int, attempts: int, now: int) -> bool:
        """The job's worker began (again): running, progress reset; False if superseded."""
        q = update(R).where(self._current(change_id, job_id))
        values = {
            "state": CheckState.running.value,
            "attempts": attempts,
            "bytes_done": 0,
            "bytes_total": None,
            "progress_field": None,
            "updated_at": now,
        }
        return self.conn.execute(q.values(**values)).rowcount == 1

    def progress(
        self, change_id: int, job_id: int, field: str | None, done: int, total: int | None, now: int
    ) -> bool:
        q = update(R).where(self._current(change_id, job_id))
        values = {"progress_field": field, "bytes_done": done, "bytes_total": total}
        return self.conn.execute(q.values(**values, updated_at=now)).rowcount == 1

    def finish(
        self,
        change_id: int,
        job_id: int,
        state: CheckState,
        findings: Sequence[Finding],
        attempts: int,
        now: int,
    ) -> bool:
        """Record the job's result (once: a settled or superseded run is left alone)."""
        q = update(R).where(self._current(change_id, job_id))
        values = {
            "state": state.value,
            "findings": _dump(findings),
            "attempts": attempts,
            "completions": R.c.completions + 1,
            "progress_field": None,
            "updated_at": now,
            "finished_at": now,
        }
        return self.conn.execute(q.values(**values)).rowcount == 1

    # ------------------------------------------------------------------ identity keys
    def add_keys(
        self, change_id: int, category: str, name: str, keys: Iterable[IdentityKey]
    ) -> None:
        rows = _key_rows(change_id, category, name, keys)
        _INSERT_KEYS.run(self.conn, rows)

    def replace_change_keys(
        self, change_id: int, category: str, name: str, keys: Iterable[IdentityKey]
    ) -> None:
        self.conn.execute(delete(K).where(K.c.change_id == change_id))
        self.add_keys(change_id, category, name, keys)

    def matches(
        self,
        digests: Sequence[str],
        author: tuple[str, str] | None = None,
        asking: tuple[str, str] = ("", ""),
    ) -> list[KeyMatch]:
        """Live records and open changes other than ``asking`` (category, name) holding any
        of ``digests``: at most :data:`MATCHES_PER_KEY` per key.

        ``author`` is (digest, spelling): for that key only other spellings are returned, so
        a prolific author's many models do not crowd out the other matches.
        """
        plain = sorted({d for d in digests if author is None or d != author[0]})
        if not plain and author is None:
            return []
        params: dict[str, Any] = {f"d{i}": d for i, d in enumerate(plain)}
        params.update(category=asking[0], name=asking[1])
        if author is not None:
            params.update(author=author[0], spelling=author[1])
        rows = _match(len(plain), author is not None).rows(self.conn, params)
        return [
            KeyMatch(digest, display, field, category, name, cid if cid != LIVE else None)
            for digest, display, field, category, name, cid in rows
        ]

    def stale_categories(self) -> dict[str, int]:
        """Categories whose catalog version moved since their live keys were built."""
        return {str(category): int(version) for category, version in _STALE.rows(self.conn)}

    def replace_live_keys(
        self,
        category: str,
        version: int,
        records: Iterable[tuple[str, Iterable[IdentityKey]]],
    ) -> None:
        """Make the live keys of ``category`` those of ``records`` (built from ``version``).

        Keys of changes that are no longer open are dropped too: they can never match again,
        and the table stays as small as the catalog plus the open changes.
        """
        self.conn.execute(delete(K).where(K.c.category == category, K.c.change_id == LIVE))
        open_ids = select(P.c.change_id).where(P.c.status.in_(_OPEN))
        self.conn.execute(delete(K).where(K.c.change_id != LIVE, K.c.change_id.not_in(open_ids)))
        rows = [row for name, keys in records for row in _key_rows(LIVE, category, name, keys)]
        for chunk in chunks(rows, 500):
            self.conn.execute(insert(K), chunk)
        q = update(KV).where(KV.c.category == category)
        if self.conn.execute(q.values(version=version)).rowcount == 0:
            self.conn.execute(insert(KV).values(category=category, version=version))


def _key_rows(
    change_id: int, category: str, name: str, keys: Iterable[IdentityKey]
) -> list[dict[str, Any]]:
    rows = {
        (k.digest, k.field): {
            "digest": k.digest,
            "change_id": change_id,
            "category": category,
            "model_name": name,
            "field": k.field,
            "display": k.display,
        }
        for k in keys
    }
    return list(rows.values())
