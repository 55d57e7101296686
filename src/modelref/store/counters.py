"""Named counters (change ids, batch ids, the audit head) allocated inside a write."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, insert, select, update

from modelref.store.prepared import Prepared
from modelref.store.tables import counters

C = counters

_BUMP = Prepared(
    update(C).where(C.c.name == bindparam("n")).values(value=C.c.value + 1).returning(C.c.value)
)
_TAKE = (
    update(C)
    .where(C.c.name == bindparam("n"))
    .values(value=C.c.value + bindparam("k"))
    .returning(C.c.value)
)
_SET = Prepared(update(C).where(C.c.name == bindparam("n")).values(value=bindparam("v")))
_PEEK = select(C.c.value).where(C.c.name == bindparam("n"))


class Counters:
    """Counters of one transaction; values are only allocated under the write lock."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def next(self, name: str) -> int:
        """Allocate the next value of ``name`` (1 for a new counter)."""
        value = _BUMP.scalar(self.conn, {"n": name})
        if value is None:
            self.conn.execute(insert(C), {"name": name, "value": 1})
            return 1
        return int(value)

    def take(self, name: str, count: int) -> range:
        """Allocate ``count`` consecutive values of ``name`` with one statement."""
        last = self.conn.execute(_TAKE, {"n": name, "k": count}).scalar()
        if last is None:
            self.conn.execute(insert(C), {"name": name, "value": count})
            last = count
        return range(int(last) - count + 1, int(last) + 1)

    def set(self, name: str, value: int) -> None:
        if _SET.run(self.conn, {"n": name, "v": value}) == 0:
            self.conn.execute(insert(C), {"name": name, "value": value})

    def peek(self, name: str) -> int:
        """The last value handed out (0 when none)."""
        return int(self.conn.execute(_PEEK, {"n": name}).scalar() or 0)
