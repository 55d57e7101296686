"""The model side of the stateful queue test: expectations, settings and shared helpers."""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine

from modelref import PendingChangeRecord
from modelref import PendingChangeStatus as S
from modelref.domain import errors
from modelref.service.audit import AuditService
from modelref.service.queue import PendingQueueService
from tests.conftest import copy_sqlite, drop_pg_database, new_pg_database, sqlite_template_path
from tests.factories import ALICE, BOB, CAROL

NAMES = ["alpha", "Alpha-XL", "beta", "beta_mini"]
USERS = [ALICE, CAROL, BOB]
#: Requesters, weighted so most changes can be approved by BOB under the two-person rule.
REQUESTERS = [ALICE, ALICE, ALICE, CAROL, BOB]
APPROVERS = [BOB, BOB, CAROL]
JOBS = ["j1", "j2", "j3"]
HELD = "<held>"  # stands for "the job id the record currently carries"
#: Purge never removes a change that is being, or has been, written (W12).
PURGEABLE = frozenset({S.PENDING, S.APPROVED, S.REJECTED})
TERMINAL = frozenset({S.APPLIED, S.REJECTED})

#: Chooses a change id (see ``QueueMachine._choose``); shrinks towards the first useful id.
picks = st.integers(min_value=0, max_value=63)


def machine_settings(share: int) -> settings:
    """1/``share`` of the loaded Hypothesis profile's examples (tests/conftest.py: ``short`` by
    default, ``ci`` under CI=true), 30 steps each; deadline and seed come from the profile."""
    return settings(
        max_examples=max(2, settings().max_examples // share),
        stateful_step_count=30,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


#: SQLite examples are cheap (a copied file); a PostgreSQL example clones a database.
SQLITE_SETTINGS = machine_settings(2)  # 20 under the ci profile, 10 under short
POSTGRES_SETTINGS = machine_settings(4)  # 10 under ci, 5 under short


@dataclass
class Expected:
    """What the model believes about one stored change."""

    requested_by: str
    model_name: str
    status: S = S.PENDING
    batch_id: int | None = None
    job: str | None = None
    reject_reason: str | None = None


ErrorType = type[errors.ModelrefError] | tuple[type[errors.ModelrefError], ...]


class ModelledQueue(RuleBasedStateMachine):
    """A queue service on a fresh database plus the model state and helpers the rules share."""

    engine = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self._tmp: str | None = None
        self._database: str | None = None
        if self.engine == "sqlite":
            self._tmp = tempfile.mkdtemp(prefix="modelref-stateful-")
            target = copy_sqlite(sqlite_template_path(), Path(self._tmp) / "queue.db")
            url = f"sqlite:///{target}"
        else:
            url, self._database = new_pg_database()
        self.svc = PendingQueueService.from_url(url)
        self.audit = AuditService(self.svc.db)
        self.model: dict[int, Expected] = {}
        self.last_change_id = 0
        self.last_batch_id = 0
        self.events: Counter[tuple[int, str | None]] = Counter()
        self.splits: list[tuple[int, int, list[int]]] = []
        self.frozen: dict[int, PendingChangeRecord] = {}
        self.seen: tuple[list[PendingChangeRecord], int] = ([], 0)

    def teardown(self) -> None:
        self.svc.db.dispose()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._database is not None:
            drop_pg_database(self._database)

    # ------------------------------------------------------------------ helpers
    def _choose(
        self,
        index: int,
        useful: set[S],
        also: Callable[[Expected], bool] = lambda m: True,
    ) -> int:
        """Mostly a change the rule can act on; one time in six any id ever allocated (maybe
        purged) or the next, never-allocated one, to exercise the refusals too."""
        fitting = sorted(cid for cid, m in self.model.items() if m.status in useful and also(m))
        if fitting and index % 6 != 5:
            return fitting[(index // 6) % len(fitting)]
        candidates = list(range(1, self.last_change_id + 2))
        return candidates[index % len(candidates)]

    def _any(self, *statuses: S) -> bool:
        return any(m.status in statuses for m in self.model.values())

    def _held(self, cid: int, job: str) -> str:
        if job != HELD:
            return job
        m = self.model.get(cid)
        return m.job if m is not None and m.job is not None else "j1"

    def _snapshot(self) -> tuple[list[PendingChangeRecord], int]:
        with self.svc.db.read() as tx:
            last_event = tx.audit.head()
        return self.svc.list_changes().items, last_event

    def _refused(self, expected: ErrorType, call: Callable[[], Any]) -> None:
        """The call raises ``expected`` and leaves the store and the log exactly as they were
        (as last seen by the invariant, which runs after every step)."""
        with pytest.raises(expected):
            call()
        assert self._snapshot() == self.seen

    def _unchanged(self, call: Callable[[], Any]) -> Any:
        """An idempotent no-op: succeeds and writes nothing."""
        result = call()
        assert self._snapshot() == self.seen
        return result

    def _approved_batches(self) -> set[int | None]:
        return {m.batch_id for m in self.model.values() if m.status is S.APPROVED}

    def _open_batch(self) -> int | None:
        """Seed §5: the batch of the approved record met first (lowest change id)."""
        approved = sorted(cid for cid, m in self.model.items() if m.status is S.APPROVED)
        return self.model[approved[0]].batch_id if approved else None

    def _back_to_approved(self, cid: int, action: str) -> None:
        m = self.model[cid]
        open_batch = self._open_batch()
        m.status, m.job = S.APPROVED, None
        if open_batch is not None:
            m.batch_id = open_batch  # a returning change joins the open batch
        self.events[(cid, action)] += 1

    # ------------------------------------------------------------------ rules
