"""Fixed-shape statements for the write path, run on SQLite's own cursor.

SQLite runs inside this process, so for the small statements a proposal writes (a counter
bump, one row, one indexed lookup) SQLAlchemy's per-execution work (cache key, parameter
processing, result wrapping, event dispatch) costs more than SQLite itself: it was about
half of an enqueue's CPU time. A :class:`Prepared` statement is still written with
SQLAlchemy Core, once, for both engines; on SQLite its SQL is compiled once and run on the
``sqlite3`` cursor of the transaction's connection, with driver errors wrapped exactly as
SQLAlchemy wraps them (so ``Database`` translates them in its one place). On PostgreSQL a
network round trip dominates, and the connection's watchdog and disconnect handling live in
SQLAlchemy's events, so there the statement runs through SQLAlchemy as usual.

Only statements whose values need no type processing (integers, text, NULL) and that have
no expanding ``IN`` list qualify; :meth:`Prepared._compile` refuses any other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CompoundSelect, Connection, Delete, Insert, Select, Update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

#: SQLite compiled with named parameters: ``sqlite3`` binds a dict by name, so a statement's
#: fixed values and the caller's parameters merge without reordering.
_SQLITE = sqlite.dialect(paramstyle="named")

Params = Mapping[str, Any]
Statement = Select[Any] | CompoundSelect[Any] | Insert | Update | Delete
Row = tuple[Any, ...]


class Prepared:
    """One statement (``select``/``insert``/``update``/``delete``) with named parameters.

    ``columns`` names the columns an ``insert`` sets (its parameters), as SQLAlchemy's
    ``column_keys``.
    """

    def __init__(self, statement: Statement, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._sqlite: tuple[str, dict[str, Any]] | None = None

    def _compile(self) -> tuple[str, dict[str, Any]]:
        compiled = self.statement.compile(dialect=_SQLITE, column_keys=self.columns)
        if compiled.post_compile_params or compiled.literal_execute_params:
            raise TypeError(f"a prepared statement has no expanding IN list: {compiled}")
        if any(compiled._bind_processors.values()):
            raise TypeError(f"a prepared statement binds no typed values: {compiled}")
        fixed = {
            name: bind.value
            for bind, name in compiled.bind_names.items()
            if not bind.required and bind.callable is None
        }
        return compiled.string, fixed

    def _run(self, conn: Connection, params: Params | Sequence[Params]) -> sqlite3.Cursor:
        if self._sqlite is None:
            self._sqlite = self._compile()
        sql, fixed = self._sqlite
        if isinstance(params, Mapping):
            return sqlite_execute(conn, sql, {**fixed, **params} if fixed else params)
        return sqlite_execute(conn, sql, [{**fixed, **p} for p in params] if fixed else params)

    # ------------------------------------------------------------------ execution
    def rows(self, conn: Connection, params: Params | None = None) -> list[Row]:
        """Every row the statement returns, as tuples in its column order."""
        if conn.dialect.name != "sqlite":
            return [tuple(r) for r in conn.execute(self.statement, dict(params or {}))]
        return self._run(conn, params or {}).fetchall()

    def first(self, conn: Connection, params: Params | None = None) -> Row | None:
        if conn.dialect.name != "sqlite":
            row = conn.execute(self.statement, dict(params or {})).first()
            return tuple(row) if row is not None else None
        found: Row | None = self._run(conn, params or {}).fetchone()
        return found

    def scalar(self, conn: Connection, params: Params | None = None) -> Any:
        row = self.first(conn, params)
        return row[0] if row is not None else None

    def run(self, conn: Connection, params: Params | Sequence[Params]) -> int:
        """Execute with one parameter set, or once per set; returns the rows affected."""
        if not isinstance(params, Mapping) and not params:
            return 0
        if conn.dialect.name != "sqlite":
            if isinstance(params, Mapping):
                return int(conn.execute(self.statement, dict(params)).rowcount)
            return int(conn.execute(self.statement, [dict(p) for p in params]).rowcount)
        return int(self._run(conn, params).rowcount)


def sqlite_execute(
    conn: Connection, sql: str, params: Params | Sequence[Params] = ()
) -> sqlite3.Cursor:
    """Run ``sql`` on the SQLite connection under ``conn`` (once per parameter set when given
    a list), failures wrapped as SQLAlchemy wraps them."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    try:
        if isinstance(params, Mapping) or not params:
            return driver.execute(sql, params)
        return driver.executemany(sql, params)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
