"""Small SQL helpers shared by the repositories."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")

#: Most values bound in one ``IN (...)`` list: far below SQLite's and PostgreSQL's limits on
#: parameters per statement, large enough that a list of 100,000 ids is 200 statements.
IN_CHUNK = 500


def chunks(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``items`` in consecutive lists of at most ``size`` (for ``IN`` lists)."""
    seq: Sequence[T] = items if isinstance(items, Sequence) else list(items)
    for start in range(0, len(seq), size):
        yield list(seq[start : start + size])
