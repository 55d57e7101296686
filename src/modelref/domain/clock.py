"""Time as the services see it: a callable returning integer Unix seconds.

Services take a clock instead of reading the system time, so tests can move time forward
(lease expiry, timestamps) without sleeping.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock() -> int:
    """The current UTC time in integer Unix seconds."""
    return int(time.time())
