"""PostgreSQL ``NOTIFY`` of catalog writes, and a dedicated connection that ``LISTEN``\\s.

A write transaction that changed catalog rows sends ``NOTIFY modelref_catalog, '<categories>'``
just before it commits; PostgreSQL delivers it at the commit, and not at all on a rollback, so
listeners hear of exactly the committed writes. SQLite has no such channel: its readers keep
the interval check of the read cache.
"""

from __future__ import annotations

from collections.abc import Iterable

import psycopg
from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url

CHANNEL = "modelref_catalog"
_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


def catalog_changed(conn: Connection, categories: Iterable[str]) -> None:
    """Queue the notification on the transaction of ``conn`` (sent when it commits)."""
    conn.execute(_NOTIFY, {"channel": CHANNEL, "payload": ",".join(sorted(categories))})


def conninfo(sqlalchemy_url: str) -> str:
    """A libpq URI for psycopg from modelref's SQLAlchemy URL (search_path options kept)."""
    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class CatalogListener:
    """One autocommit connection listening on :data:`CHANNEL`."""

    def __init__(self, sqlalchemy_url: str, connect_timeout: int = 5) -> None:
        self.conninfo = conninfo(sqlalchemy_url)
        self.connect_timeout = connect_timeout
        self.conn: psycopg.Connection[tuple[object, ...]] | None = None

    def connect(self) -> None:
        self.close()
        conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=self.connect_timeout)
        try:
            conn.execute(f"LISTEN {CHANNEL}")
        except BaseException:
            conn.close()
            raise
        self.conn = conn

    def wait(self, timeout: float) -> list[str]:
        """Payloads received within ``timeout`` seconds (returns at the first batch)."""
        if self.conn is None:
            raise psycopg.OperationalError("not connected")
        payloads = [n.payload for n in self.conn.notifies(timeout=timeout, stop_after=1)]
        # More may have arrived together: take them without waiting again.
        payloads += [n.payload for n in self.conn.notifies(timeout=0)]
        return payloads

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None
