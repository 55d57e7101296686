"""Outbox jobs: their states and the retry schedule (pure rules; the store keeps the rows).

pending --claim--> running --finish--> done
   ^                  |
   +----retry---------+ (backoff)      running --bury--> dead --replay--> pending
                      |
         lease ran out: claimable again (the worker died)
"""

from __future__ import annotations

from enum import StrEnum

#: First retry after this many seconds; each later one waits twice as long, up to the cap.
BACKOFF_BASE_SECONDS = 2
BACKOFF_CAP_SECONDS = 600
DEFAULT_MAX_ATTEMPTS = 8


class JobState(StrEnum):
    pending = "pending"
    running = "running"
    done = "done"
    dead = "dead"


def backoff(attempts: int) -> int:
    """Seconds to wait before the next try, after ``attempts`` failed tries (1, 2, ...)."""
    return int(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1)))
