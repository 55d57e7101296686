"""Who does something: an AI Horde style user id and display name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """The caller of a use case, as recorded in the queue and the audit log."""

    user_id: str
    username: str


#: modelref itself (start-up recovery, the lease reaper, expiry).
SYSTEM = Actor("system", "modelref")
