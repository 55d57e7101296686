"""Prepared statements (store/prepared.py) behave like SQLAlchemy's on both engines.

On SQLite they run on the driver's cursor; what a caller sees (rows, counts, the errors the
database raises and the rollback of the whole unit of work) must not depend on that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from modelref.domain.errors import StorageError
from modelref.store.database import Database
from modelref.store.migrate import upgrade
from modelref.store.prepared import Prepared

meta = MetaData()
notes = Table(
    "prepared_notes",
    meta,
    Column("note_id", Integer, primary_key=True, autoincrement=False),
    Column("body", String(64)),
    Column("flag", Boolean),
)
N = notes

ADD = Prepared(insert(N), ["note_id", "body"])
BODY = Prepared(select(N.c.body).where(N.c.note_id == bindparam("id")))
ALL = Prepared(select(N.c.note_id, N.c.body).where(N.c.note_id > 0).order_by(N.c.note_id))
RENAME = Prepared(update(N).where(N.c.note_id >= bindparam("from")).values(body=bindparam("b")))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    upgrade(database)
    with database.write() as tx:
        meta.create_all(tx.conn)
    yield database
    database.dispose()


def test_rows_counts_and_nulls_as_sqlalchemy_gives_them(db: Database) -> None:
    with db.write() as tx:
        assert ADD.run(tx.conn, [{"note_id": i, "body": f"n{i}"} for i in (3, 1, 2)]) in (3, -1)
        ADD.run(tx.conn, {"note_id": 4, "body": None})
        assert ADD.run(tx.conn, []) == 0
    with db.read() as tx:
        assert ALL.rows(tx.conn) == [(1, "n1"), (2, "n2"), (3, "n3"), (4, None)]
        assert BODY.scalar(tx.conn, {"id": 2}) == "n2"
        assert BODY.first(tx.conn, {"id": 4}) == (None,)
        assert BODY.first(tx.conn, {"id": 99}) is None
        assert BODY.scalar(tx.conn, {"id": 99}) is None
    with db.write() as tx:
        assert RENAME.run(tx.conn, {"from": 3, "b": "late"}) == 2
        assert RENAME.run(tx.conn, {"from": 50, "b": "none"}) == 0
    with db.read() as tx:
        got = tx.conn.execute(select(N.c.note_id, N.c.body).order_by(N.c.note_id)).all()
    assert [tuple(r) for r in got] == [(1, "n1"), (2, "n2"), (3, "late"), (4, "late")]


def test_a_refused_statement_rolls_the_whole_unit_of_work_back(db: Database) -> None:
    with db.write() as tx:
        ADD.run(tx.conn, {"note_id": 1, "body": "kept"})
    with pytest.raises(IntegrityError), db.write() as tx:
        tx.counters.next("prepared_test")
        ADD.run(tx.conn, {"note_id": 2, "body": "lost"})
        ADD.run(tx.conn, {"note_id": 1, "body": "duplicate"})
    with db.read() as tx:
        assert ALL.rows(tx.conn) == [(1, "kept")]
        assert tx.counters.peek("prepared_test") == 0


def failure(db: Database, run: Callable[[Connection], object]) -> BaseException:
    try:
        with db.read() as tx:
            run(tx.conn)
    except Exception as exc:
        return exc
    raise AssertionError("the statement ran")


def test_a_driver_failure_surfaces_as_through_sqlalchemy(db: Database) -> None:
    """A statement the engine cannot run (its table is gone) fails as it does through
    SQLAlchemy: the same error, translated in the same one place (on SQLite the domain's
    storage error, whose cause is SQLAlchemy's wrapped driver error)."""
    with db.write() as tx:
        tx.conn.execute(text("DROP TABLE prepared_notes"))
    plain = failure(db, lambda conn: conn.execute(BODY.statement, {"id": 1}))
    prepared = failure(db, lambda conn: BODY.first(conn, {"id": 1}))
    assert type(prepared) is type(plain)
    assert type(prepared.__cause__) is type(plain.__cause__)
    if db.dialect == "sqlite":
        assert isinstance(prepared, StorageError)
        assert isinstance(prepared.__cause__, OperationalError)


def test_statements_it_cannot_run_faithfully_are_refused(sqlite_url: str) -> None:
    database = Database(sqlite_url)
    try:
        with database.write() as tx:
            meta.create_all(tx.conn)
            listed = Prepared(select(N.c.body).where(N.c.note_id.in_([1, 2])))
            with pytest.raises(TypeError, match="IN list"):
                listed.rows(tx.conn)
            typed = Prepared(insert(N), ["note_id", "flag"])
            with pytest.raises(TypeError, match="typed values"):
                typed.run(tx.conn, {"note_id": 1, "flag": True})
    finally:
        database.dispose()
