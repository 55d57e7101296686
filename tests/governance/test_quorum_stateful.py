"""Stateful property test of quorum approvals (critical-two), on SQLite and on PostgreSQL.

Hypothesis drives random proposals (a description edit needs one approver, an nsfw flip two),
approvals by random people (the requester, duplicates, late approvals included), rejections,
applies (forced or not) and imports that move a live record behind the queue's back, against a
real database, while a small model predicts every
outcome: which approval moves a change, the exact error class of each refusal, which approvals
go stale when a live record moves, when an apply is refused for stale approvals. After every
step the store is compared with the model, and the audit log is checked: per-change counts of
our own events, the hash chain, and replay of the log == the store (approvals included).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from modelref.domain import errors
from modelref.domain.actors import Actor
from modelref.domain.categories import Category
from modelref.domain.queue_models import PendingChangeStatus as S
from modelref.service.container import Services
from modelref.settings import Settings
from tests.conftest import PG_AVAILABLE, drop_pg_database, new_pg_database
from tests.factories import ManualClock
from tests.governance.helpers import ALICE, BOB, CAROL, DAVE, IMAGE, seed_image

NAMES = ["a", "b"]
REQUESTERS = [ALICE, CAROL]
APPROVERS = [BOB, CAROL, DAVE, ALICE]
APPLIER = ("9009", "eve#9009")
OPEN = {S.PENDING, S.APPROVED}
COUNTED = ("endorse", "approve", "approvals_stale", "reject")


@dataclass
class Change:
    """What the model believes about one change."""

    name: str
    requester: str
    nsfw: bool
    base: int  # the live version it is based on
    status: S = S.PENDING
    approvals: list[tuple[str, bool]] = field(default_factory=list)  # (approver, stale)
    required: int | None = None

    def fresh(self) -> list[str]:
        return list(dict.fromkeys(a for a, stale in self.approvals if not stale))


class QuorumMachine(RuleBasedStateMachine):
    engine = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self._tmp: str | None = None
        self._schema: str | None = None
        if self.engine == "sqlite":
            self._tmp = tempfile.mkdtemp(prefix="modelref-quorum-")
            url = f"sqlite:///{self._tmp}/q.db"
        else:
            url, self._schema = new_pg_database()
        self.clock = ManualClock()
        self.svc = Services.open(
            Settings(database_url=url, approval_policy="critical-two"), clock=self.clock
        )
        self.live: dict[str, tuple[bool, int]] = {}  # name -> (nsfw, version)
        for name in NAMES:
            seed_image(self.svc, name)
            self.live[name] = (False, 0)
        self.changes: dict[int, Change] = {}
        self.events: Counter[tuple[int, str]] = Counter()
        self.texts = 0

    def teardown(self) -> None:
        self.svc.db.dispose()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._schema is not None:
            drop_pg_database(self._schema)

    def _pick(self, index: int, statuses: set[S]) -> int | None:
        fitting = sorted(c for c, m in self.changes.items() if m.status in statuses)
        return fitting[index % len(fitting)] if fitting else None

    def _required(self, m: Change) -> int:
        return 2 if m.nsfw != self.live[m.name][0] else 1

    # ------------------------------------------------------------------ rules
    @rule(who=st.sampled_from(REQUESTERS), name=st.sampled_from(NAMES), flip=st.booleans())
    def propose(self, who: Any, name: str, flip: bool) -> None:
        if sum(m.status in OPEN for m in self.changes.values()) >= 5:
            return  # a few open changes at a time, so they collect approvals and conflicts
        record = dict(self.svc.catalog.record(Category.image_generation, name))
        self.texts += 1
        if flip:
            record["nsfw"] = not record["nsfw"]
        else:
            record["description"] = f"edit {self.texts}"
        rec = self.svc.review.enqueue_change(
            category=IMAGE,
            model_name=name,
            operation="update",
            payload=record,
            requestor_id=who.user_id,
            requestor_username=who.username,
        )
        self.changes[rec.change_id] = Change(
            name, who.user_id, bool(record["nsfw"]), self.live[name][1]
        )

    @rule(pick=st.integers(0, 20), who=st.sampled_from(APPROVERS))
    def approve(self, pick: int, who: Any) -> None:
        # Mostly open changes; now and then a decided one, to exercise the refusals too.
        cid = self._pick(pick, OPEN if pick % 5 else OPEN | {S.APPLIED, S.REJECTED})
        if cid is None:
            return
        m = self.changes[cid]
        rebase = m.base != self.live[m.name][1]
        earlier = [(a, True) for a, _ in m.approvals] if rebase else list(m.approvals)
        fresh = list(dict.fromkeys(a for a, stale in earlier if not stale))
        required = self._required(m)
        went_stale = bool(m.approvals) and len(m.fresh()) < (m.required or required)
        refresh = m.status is S.APPROVED and (rebase or went_stale)

        def call() -> Any:
            return self.svc.review.process_batch(
                approver_id=who.user_id,
                approver_username=who.username,
                batch_title="t",
                approved_ids=[cid],
                rejected_ids=None,
            )

        error: type[errors.ModelrefError] | None = None
        if m.status is not S.PENDING and not refresh:
            error = errors.InvalidTransition
        elif m.requester == who.user_id:
            error = errors.PermissionDenied
        elif who.user_id in fresh:
            error = errors.DuplicateApproval
        if error is not None:
            with pytest.raises(error):
                call()
            return
        result = call()
        m.approvals = [*earlier, (who.user_id, False)]
        m.required = required
        if rebase:
            m.base = self.live[m.name][1]
        if m.status is S.PENDING and len(fresh) + 1 >= required:
            m.status = S.APPROVED
            assert [r.change_id for r in result.approved] == [cid]
            self.events[(cid, "approve")] += 1
        else:
            assert result.approved == [] and [r.change_id for r in result.approvals_recorded] == [
                cid
            ]
            self.events[(cid, "endorse")] += 1

    @rule(pick=st.integers(0, 20), coin=st.integers(0, 2))
    def reject(self, pick: int, coin: int) -> None:
        if coin != 1:  # rejections are rarer than approvals, so quorums get reached
            return
        cid = self._pick(pick, OPEN)
        if cid is None:
            return
        self.svc.review.process_batch(
            approver_id=DAVE.user_id,
            approver_username=DAVE.username,
            batch_title="no",
            approved_ids=None,
            rejected_ids=[cid],
            reject_reason="no",
        )
        self.changes[cid].status = S.REJECTED
        self.events[(cid, "reject")] += 1

    @rule(pick=st.integers(0, 20), force=st.sampled_from([False, False, True]))
    def apply(self, pick: int, force: bool) -> None:
        cid = self._pick(pick, {S.APPROVED})
        if cid is None:
            return
        m = self.changes[cid]
        self.clock.advance(1)  # every apply stamps a new updated_at: a new content hash

        def call() -> Any:
            return self.svc.apply.apply_changes([cid], APPLIER[0], APPLIER[1], force=force)

        if not force and len(m.fresh()) < (m.required or 0):
            with pytest.raises(errors.ApplyFailed) as refused:
                call()
            assert type(refused.value.cause) is errors.StaleApproval
            return
        if not force and m.base != self.live[m.name][1]:
            with pytest.raises(errors.ApplyFailed) as refused:
                call()
            assert type(refused.value.cause) is errors.StaleChange
            return
        call()
        m.status = S.APPLIED
        version = self.live[m.name][1] + 1
        self.live[m.name] = (m.nsfw, version)
        for other_id, other in self.changes.items():
            if other.name != m.name or other.status not in OPEN or other.base == version:
                continue
            if other.fresh():
                other.approvals = [(a, True) for a, _ in other.approvals]
                self.events[(other_id, "approvals_stale")] += 1

    @rule(name=st.sampled_from(NAMES))
    def import_edit(self, name: str) -> None:
        """The live record moves without an apply (an import): approvals are not marked stale,
        but the next approval re-bases the change and makes the earlier ones stale."""
        records, _version = self.svc.catalog.records(Category.image_generation)
        self.texts += 1
        records[name] = {**records[name], "description": f"imported {self.texts}"}
        folder = Path(self._tmp or tempfile.gettempdir()) / f"import-{self.texts}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "stable_diffusion.json").write_text(json.dumps(records), encoding="utf-8")
        before = self._hashes()
        self.svc.files.import_path(folder, Actor("9", "importer"))
        shutil.rmtree(folder, ignore_errors=True)
        after = self._hashes()
        for moved in (n for n in NAMES if before[n] != after[n]):
            nsfw, version = self.live[moved]
            self.live[moved] = (nsfw, version + 1)

    def _hashes(self) -> dict[str, str]:
        with self.svc.db.read() as tx:
            return {n: tx.catalog.get(IMAGE, n).content_hash for n in NAMES}  # type: ignore[union-attr]

    # ------------------------------------------------------------------ invariants
    @invariant()
    def store_and_log_match_the_model(self) -> None:
        items = {r.change_id: r for r in self.svc.review.list_changes().items}
        assert sorted(items) == sorted(self.changes)
        hashes = self._hashes()
        for cid, m in self.changes.items():
            rec = items[cid]
            got = [(a.approved_by, a.stale) for a in rec.approvals or []]
            assert (rec.status, got, rec.approvals_required) == (m.status, m.approvals, m.required)
            if m.status in OPEN:
                assert (rec.base_hash == hashes[m.name]) == (m.base == self.live[m.name][1])
        events = self.svc.audit.events()
        counted = Counter(
            (e.change_id, e.action) for e in events if e.action in COUNTED and e.change_id
        )
        assert counted == +self.events
        assert self.svc.audit.verify().ok
        assert self.svc.audit.replay() == items


def machine_settings(share: int) -> settings:
    """1/``share`` of the loaded Hypothesis profile's examples (``short`` by default, ``ci``
    under CI=true: tests/conftest.py), 40 steps each."""
    return settings(
        max_examples=max(2, settings().max_examples // share),
        stateful_step_count=40,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


@machine_settings(2)  # 20 under the ci profile, 10 under short
class SqliteQuorumMachine(QuorumMachine):
    engine = "sqlite"


@machine_settings(4)  # 10 under ci, 5 under short
class PostgresQuorumMachine(QuorumMachine):
    engine = "postgres"


TestQuorumStatefulSqlite = SqliteQuorumMachine.TestCase
TestQuorumStatefulPostgres = pytest.mark.postgres(
    pytest.mark.skipif(not PG_AVAILABLE, reason="PostgreSQL not reachable")(
        PostgresQuorumMachine.TestCase
    )
)
