"""Named points where the fault tests make a process die or wait.

``MODELREF_CRASH_AT=<point>`` makes the process SIGKILL itself when it reaches ``point``.
``MODELREF_PAUSE_AT=<point>`` with ``MODELREF_PAUSE_FILE=<path>`` makes it create
``<path>.reached`` there and wait until ``<path>`` exists, so a test can cut the database
(or take its lock) at exactly that moment. Unset (always, outside those tests) a point costs two
dictionary lookups.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

#: The longest a paused process waits for the test to let it go on.
PAUSE_LIMIT = 120.0


def point(name: str) -> None:
    """Die here, abruptly, or wait here, if a fault test asked for it."""
    if os.environ.get("MODELREF_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
    if os.environ.get("MODELREF_PAUSE_AT") == name:
        _pause(Path(os.environ["MODELREF_PAUSE_FILE"]))


def _pause(go_on: Path) -> None:
    if go_on.exists():
        return
    go_on.with_name(go_on.name + ".reached").touch()
    deadline = time.monotonic() + PAUSE_LIMIT
    while not go_on.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
