"""Code that runs in the child processes of the concurrent-approval test (spawned: light)."""

from __future__ import annotations

import random
from typing import Any

from modelref.domain.clock import system_clock
from modelref.domain.errors import DuplicateApproval, InvalidTransition
from modelref.service.container import Services
from modelref.settings import Settings
from modelref.store.database import Database


def approve_all(
    url: str, worker: int, who: tuple[str, str], ids: list[int], barrier: Any, results: Any
) -> None:
    """Approve every change of ``ids`` (one call each, in a shuffled order) as ``who``."""
    settings = Settings(database_url=url, approval_policy="critical-two")
    services = Services.build(Database(url), settings, system_clock)
    order = list(ids)
    random.Random(worker).shuffle(order)
    outcome: dict[str, list[int]] = {"approved": [], "recorded": [], "duplicate": [], "late": []}
    barrier.wait()
    for cid in order:
        try:
            result = services.review.process_batch(
                approver_id=who[0],
                approver_username=who[1],
                batch_title=f"worker {worker}",
                approved_ids=[cid],
                rejected_ids=None,
            )
        except DuplicateApproval:
            outcome["duplicate"].append(cid)
            continue
        except InvalidTransition:
            outcome["late"].append(cid)  # someone else's approval reached the quorum first
            continue
        outcome["approved" if result.approved else "recorded"].append(cid)
    services.db.dispose()
    results.put((worker, outcome))
