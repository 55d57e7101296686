"""Engines and transactions for SQLite and PostgreSQL behind one small interface.

Every write transaction is serialized: SQLite takes the write lock up front (``BEGIN
IMMEDIATE``), PostgreSQL takes a transaction-scoped advisory lock as its first statement. The
queue's write rate is tiny next to its read rate, and serial writers make the audit hash chain,
id counters and the single-open-batch rule correct across any number of processes without
retry loops. Reads never take that lock.
"""

from __future__ import annotations

import fcntl
import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from modelref import faults
from modelref.domain.errors import StorageError, ValidationFailed
from modelref.store import notify
from modelref.store.prepared import sqlite_execute
from modelref.store.unit_of_work import Transaction
from modelref.store.watchdog import Watchdog

log = logging.getLogger("modelref.store")

#: Called with every committed write transaction (wired once, by the service container).
CommitListener = Callable[[Transaction], None]
#: Called inside every write transaction just before it commits; what it writes commits with
#: it (outbox jobs caused by the transaction's events), and if it raises nothing commits.
BeforeCommit = Callable[[Transaction], None]

#: Arbitrary constant naming modelref's global write lock in PostgreSQL.
_PG_WRITE_LOCK = 0x6D6F64656C726566 & 0x7FFFFFFFFFFFFFFF


def normalize_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


class Database:
    """One database: an engine plus the two kinds of transaction modelref uses."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        approvals: bool = True,
    ) -> None:
        """``timeout`` bounds every wait on the database: for the write lock (SQLite busy
        timeout, PostgreSQL lock_timeout), for a statement (statement_timeout), and for a
        pooled connection; ``connect_timeout`` bounds opening one."""
        self.url = normalize_url(url)
        self.timeout = timeout
        self.watchdog: Watchdog | None = None
        #: Queue reads attach recorded approvals (off under the upstream approval policy,
        #: which records none: its reads then cost exactly what they did before).
        self.approvals = approvals
        self._listeners: list[CommitListener] = []
        self._before: list[BeforeCommit] = []
        self._local = threading.local()
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        self.sqlite_path: Path | None = None
        if self.dialect == "sqlite":
            self.engine = self._sqlite_engine(parsed.database)
        elif self.dialect == "postgresql":
            self.engine = self._postgres_engine(connect_timeout)
        else:
            raise StorageError(f"Unsupported database URL scheme: {parsed.drivername}")

    def _postgres_engine(self, connect_timeout: float) -> Engine:
        engine = create_engine(
            self.url,
            pool_size=5,
            max_overflow=10,
            pool_recycle=300,
            pool_timeout=self.timeout,
            connect_args={"connect_timeout": max(1, round(connect_timeout))},
        )
        millis = int(self.timeout * 1000)
        # The server gives up after ``timeout``; the watchdog breaks the connection a little
        # later if no answer came back at all (the network, not the server, is stuck).
        watchdog = self.watchdog = Watchdog(self.timeout + 2.0)

        @event.listens_for(engine, "before_cursor_execute")
        def _arm(conn: Connection, *_args: Any) -> None:
            if not conn.invalidated:
                watchdog.arm(conn.connection.dbapi_connection)

        @event.listens_for(engine, "after_cursor_execute")
        def _disarm(conn: Connection, *_args: Any) -> None:
            if not conn.invalidated:
                watchdog.disarm(conn.connection.dbapi_connection)

        @event.listens_for(engine, "handle_error")
        def _failed(context: Any) -> None:
            conn = context.connection
            if conn is not None and not conn.invalidated:
                watchdog.disarm(conn.connection.dbapi_connection)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # SET rather than connect options: a URL's own ``options`` (search_path) stays.
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {millis}")
                cur.execute(f"SET lock_timeout = {millis}")
                cur.execute(f"SET idle_in_transaction_session_timeout = {millis * 3}")
            dbapi_conn.commit()

        return engine

    def _sqlite_engine(self, database: str | None) -> Engine:
        if not database or database == ":memory:":
            raise StorageError("SQLite needs a file path (in-memory databases are not shared)")
        self.sqlite_path = Path(database)
        self.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            self.url,
            pool_timeout=self.timeout,
            connect_args={"timeout": self.timeout, "check_same_thread": False},
        )
        millis = int(self.timeout * 1000)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute(f"PRAGMA busy_timeout={millis}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("modelref_write")
            sqlite_execute(conn, "BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def on_commit(self, listener: CommitListener) -> None:
        """Call ``listener(tx)`` after every write transaction that committed."""
        self._listeners.append(listener)

    def before_commit(self, listener: BeforeCommit) -> None:
        """Call ``listener(tx)`` at the end of every write transaction, inside it."""
        self._before.append(listener)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        """The unit of work: a serialized read-write transaction.

        Commits when the block ends, rolls back if it raises; then (commit only) runs the
        transaction's ``after_commit`` callbacks and the commit listeners. A second write
        opened inside the first would wait for the lock the first holds, so it is refused.
        """
        if getattr(self._local, "writing", False):
            raise RuntimeError("a write transaction is already open in this thread")
        self._local.writing = True
        try:
            with self._translated(), self.engine.connect() as conn:
                conn = conn.execution_options(modelref_write=True)
                with self._transaction(conn):
                    if self.dialect == "postgresql":
                        conn.execute(
                            text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_WRITE_LOCK}
                        )
                    tx = Transaction(conn, writable=True, approvals=self.approvals)
                    yield tx
                    for before in self._before:
                        before(tx)
                    if tx.changed_categories and self.dialect == "postgresql":
                        notify.catalog_changed(conn, tx.changed_categories)
        finally:
            self._local.writing = False
        # Crash seam: a catalog write is durable, its after-commit effects have not run.
        faults.point("after_commit" if tx.changed_categories else "after_queue_commit")
        for effect in tx.committed_callbacks():
            _after_commit(effect)
        for listener in self._listeners:
            _after_commit(functools.partial(listener, tx))

    @contextmanager
    def read(self) -> Iterator[Transaction]:
        """A read-only snapshot transaction (never blocks writers on SQLite WAL)."""
        with self._translated(), self.engine.connect() as conn, self._transaction(conn):
            yield Transaction(conn, writable=False, approvals=self.approvals)

    @contextmanager
    def _transaction(self, conn: Connection) -> Iterator[None]:
        """Begin; commit when the block ends, roll back if it raises; each end under the
        watchdog's deadline (a commit can hang on a dead network like any statement)."""
        trans = conn.begin()
        try:
            yield
        except BaseException:
            with self._deadline(conn):
                trans.rollback()
            raise
        with self._deadline(conn):
            trans.commit()

    @contextmanager
    def _deadline(self, conn: Connection) -> Iterator[None]:
        watchdog = self.watchdog
        if watchdog is None or conn.invalidated:
            yield
            return
        dbapi_conn = conn.connection.dbapi_connection
        watchdog.arm(dbapi_conn)
        try:
            yield
        finally:
            watchdog.disarm(dbapi_conn)

    def ping(self) -> None:
        """One round trip (readiness probes); :class:`StorageError` when it fails."""
        with self.read() as tx:
            tx.conn.execute(text("SELECT 1"))

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Driver failures become domain errors, translated here once.

        Lost connections and lock timeouts are :class:`StorageError`. A value the engine
        refuses (too long, out of range, a NUL on PostgreSQL) should never get this far (the
        input policy refuses it first); if one does, it is the caller's input, not an outage.
        """
        try:
            yield
        except (OperationalError, InterfaceError, PoolTimeout) as exc:
            # The driver's message names hosts, ports and databases: the log gets it, the
            # caller (maybe an unauthenticated client) gets a short, generic sentence.
            log.error("database unavailable: %s", exc)
            raise StorageError("The database is unavailable; try again later.") from exc
        except (DataError, OverflowError) as exc:
            log.warning("the database refused a value: %s", exc)
            raise ValidationFailed("a value is out of range or cannot be stored") from exc

    @contextmanager
    def migration_lock(self) -> Iterator[Connection | None]:
        """Serialize schema migrations between processes starting at the same time."""
        if self.dialect == "postgresql":
            with self.engine.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_WRITE_LOCK - 1})
                conn.commit()
                try:
                    yield conn
                finally:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_WRITE_LOCK - 1})
                    conn.commit()
        else:
            assert self.sqlite_path is not None
            lock_path = self.sqlite_path.with_name(self.sqlite_path.name + ".migrate.lock")
            fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield None
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)

    def dispose(self) -> None:
        """Close pooled connections (before fork, or at shutdown)."""
        self.engine.dispose()


def _after_commit(effect: Callable[[], None]) -> None:
    """Run one after-commit step; its failure is logged, the commit stands."""
    try:
        effect()
    except Exception:
        log.exception("an after-commit step failed (the transaction did commit)")


__all__ = ["Database", "Transaction", "normalize_url"]
