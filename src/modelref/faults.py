"""Named crash points for the kill -9 test harness.

``MODELREF_CRASH_AT=<point>`` makes the process SIGKILL itself when it reaches ``point``; unset
(always, outside the crash tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal


def point(name: str) -> None:
    """Die here, abruptly, if the crash harness asked for it."""
    if os.environ.get("MODELREF_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
