"""Review-check use cases: read a change's checks, re-run them (one transaction each)."""

from __future__ import annotations

import logging

from modelref.domain.actors import Actor
from modelref.domain.checks import ChangeChecks
from modelref.domain.clock import Clock
from modelref.domain.errors import NotFound
from modelref.service.checks import steps
from modelref.settings import Settings
from modelref.store.database import Database

log = logging.getLogger("modelref.checks")


class ReviewChecks:
    """What reviewers ask of the checks: the findings of a change, and a fresh run."""

    def __init__(self, db: Database, settings: Settings, clock: Clock) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock

    def get(self, change_id: int) -> ChangeChecks:
        """State, findings and live progress of one change's checks."""
        with self.db.read() as tx:
            if tx.queue.get(change_id) is None:
                raise NotFound("Change not found")
            return steps.view(tx, change_id)

    def rerun(self, change_id: int, actor: Actor) -> ChangeChecks:
        """Queue every check of an open change again (an approver asks; older runs are void)."""
        with self.db.write() as tx:
            steps.restart(tx, change_id, self.clock(), self.settings)
            checks = steps.view(tx, change_id)
        log.info("checks of change %s re-run by %s", change_id, actor.user_id)
        return checks
