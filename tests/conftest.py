"""Shared fixtures: real SQLite files and real PostgreSQL databases, the corpus, the reference tier.

Databases come from one migrated template per test session (per xdist worker): a SQLite file
that is copied for each test, and a PostgreSQL database that each test clones with
``CREATE DATABASE ... TEMPLATE`` (and that is dropped in the background afterwards).

Test tiers (README "Test tiers"): everything runs on the corpus in ``tests/data``; tests about
the public reference files take the ``reference_dir`` fixture, which needs
``MODELREF_REFERENCE_DIR`` and is skipped, with one reason, without it. Under ``CI=true`` a
missing PostgreSQL or reference folder stops the session instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import uuid
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy.engine import make_url

from tests.corpus import CORPUS

ROOT = Path(__file__).resolve().parents[1]
PG_URL = os.environ.get("MODELREF_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REFERENCE_ENV = "MODELREF_REFERENCE_DIR"
_REFERENCE_RAW = os.environ.get(REFERENCE_ENV, "")
CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

# Tests must not pick up a developer's deployment settings (the two test settings stay, for the
# xdist workers; Settings ignores them).
for _key in list(os.environ):
    if _key.startswith("MODELREF_") and _key not in ("MODELREF_TEST_PG_URL", REFERENCE_ENV):
        del os.environ[_key]

# Hypothesis: short runs by default, the full budget in CI; never a wall-clock deadline.
for _name, _examples in (("short", 20), ("ci", 40)):
    settings.register_profile(
        _name,
        max_examples=_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if CI else "short"))

REFERENCE_SKIP = (
    f"real-reference tier: set {REFERENCE_ENV} to a folder with legacy/ and v2/ "
    "(README, Test tiers)"
)


def reference_root() -> Path | None:
    """The public reference folder named by MODELREF_REFERENCE_DIR, if it has legacy/ and v2/."""
    if not _REFERENCE_RAW:
        return None
    path = Path(_REFERENCE_RAW).expanduser().resolve()
    if (path / "legacy").is_dir() and (path / "v2").is_dir():
        return path
    return None


REFERENCE = reference_root()


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(_libpq(PG_URL), connect_timeout=3):
            return True
    except Exception:
        return False


def _libpq(url: str) -> str:
    return url.replace("+psycopg", "")


PG_AVAILABLE = _pg_available()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not CI:
        return
    if not PG_AVAILABLE:
        raise pytest.UsageError(
            f"CI requires PostgreSQL at {PG_URL}; refusing to skip the PostgreSQL tests"
        )
    if REFERENCE is None:
        raise pytest.UsageError(
            f"CI requires the public reference: {REFERENCE_ENV}={_REFERENCE_RAW!r} is not a "
            "folder with legacy/ and v2/; refusing to skip the real-reference tests"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that takes ``reference_dir`` carries the ``reference`` marker (for ``-m``)."""
    for item in items:
        if "reference_dir" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.reference)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Report every real-reference skip at one place, so ``-ra`` folds them into one line."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and longrepr[2].endswith(REFERENCE_SKIP):
        report.longrepr = (__file__, _REFERENCE_FIXTURE_LINE, longrepr[2])
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    _PG.close()
    for path in _SQLITE_TEMPLATE:
        shutil.rmtree(path.parent, ignore_errors=True)


_REFERENCE_FIXTURE_LINE = next(
    n
    for n, line in enumerate(Path(__file__).read_text(encoding="utf-8").splitlines(), start=1)
    if line.startswith("def reference_dir(")
)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The public reference files (read-only); skipped with one reason when not configured."""
    if REFERENCE is None:
        pytest.skip(REFERENCE_SKIP)
    return REFERENCE


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The project's own test corpus (tests/data; read-only)."""
    return CORPUS


@pytest.fixture(
    scope="session", params=["corpus", pytest.param("reference", marks=pytest.mark.reference)]
)
def data_dir(request: pytest.FixtureRequest) -> Path:
    """Run a test on the corpus and, in the real-reference tier, on the public reference."""
    if request.param == "reference":
        path: Path = request.getfixturevalue("reference_dir")
        return path
    return CORPUS


def is_reference(path: Path) -> bool:
    """Whether ``path`` is the public reference (not the corpus): its counts and quirks differ."""
    return path != CORPUS


# ---------------------------------------------------------------------- SQLite


_SQLITE_TEMPLATE: list[Path] = []


def sqlite_template_path() -> Path:
    """An empty, migrated SQLite database, built once per process (per xdist worker)."""
    if not _SQLITE_TEMPLATE:
        from modelref.store import migrate
        from modelref.store.database import Database

        path = Path(tempfile.mkdtemp(prefix="modelref-template-")) / "modelref.db"
        db = Database(f"sqlite:///{path}")
        migrate.upgrade(db)
        db.dispose()
        _SQLITE_TEMPLATE.append(path)
    return _SQLITE_TEMPLATE[0]


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    return sqlite_template_path()


def copy_sqlite(template: Path, target: Path) -> Path:
    """Copy a SQLite database (with its WAL, if one was left) to ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        source = Path(f"{template}{suffix}")
        if source.exists():
            shutil.copyfile(source, Path(f"{target}{suffix}"))
    return target


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    return f"sqlite:///{copy_sqlite(sqlite_template, tmp_path / 'modelref.db')}"


# ---------------------------------------------------------------------- PostgreSQL


class _PgDatabases:
    """This process's migrated template database and the databases cloned from it.

    A clone (``CREATE DATABASE ... TEMPLATE``) is handed to one test at a time. Afterwards it is
    emptied and handed out again rather than dropped: on a shared server a ``DROP DATABASE``
    waits for a checkpoint (0.2-1.6 s measured), emptying the tables takes milliseconds. Only
    when the template itself holds rows (a migration that seeds data) is a used clone dropped.
    The template and the clones are dropped when the session ends.
    """

    def __init__(self) -> None:
        self.prefix = f"mr_{uuid.uuid4().hex[:10]}"
        self.template: str | None = None
        self.recyclable = False
        #: A clone with other tables than these (a test made its own) is dropped, not reused.
        self.template_tables: list[str] = []
        self.clones: list[str] = []
        self.idle: list[str] = []
        self._lock = threading.Lock()

    def _admin(self, sql: str, database: str | None = None) -> list[tuple[object, ...]]:
        import psycopg

        url = self.url(database) if database else PG_URL
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def url(self, database: str) -> str:
        return make_url(PG_URL).set(database=database).render_as_string(hide_password=False)

    def _tables(self, database: str) -> list[str]:
        rows = self._admin(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
            "AND tablename <> 'alembic_version'",
            database,
        )
        return [str(row[0]) for row in rows]

    def _ensure_template(self) -> str:
        if self.template is None:
            from modelref.store import migrate
            from modelref.store.database import Database

            name = f"{self.prefix}_tpl"
            self._admin(f'CREATE DATABASE "{name}"')
            db = Database(self.url(name))
            migrate.upgrade(db)
            db.dispose()
            counts = [
                self._admin(f"SELECT count(*) FROM {t}", name)[0][0] for t in self._tables(name)
            ]
            self.recyclable = not any(counts)
            self.template_tables = self._tables(name)
            self.template = name
        return self.template

    def new(self) -> tuple[str, str]:
        """A fresh, migrated database: (URL, name)."""
        with self._lock:
            template = self._ensure_template()
            if self.idle:
                name = self.idle.pop()
            else:
                name = f"{self.prefix}_{len(self.clones)}"
                self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
                self.clones.append(name)
        return self.url(name), name

    def release(self, name: str) -> None:
        """The test is done with ``name``: empty it for the next one (or drop it)."""
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        tables = self._tables(name)
        if self.recyclable and set(tables) == set(self.template_tables):
            if tables:
                self._admin(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE", name)
            with self._lock:
                self.idle.append(name)
            return
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with self._lock:
            self.clones.remove(name)

    def close(self) -> None:
        for name in [*self.clones, *([self.template] if self.template else [])]:
            try:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as exc:  # reported, never fatal: the other drops still run
                print(f"could not drop test database {name}: {exc}", file=sys.stderr)
        self.clones, self.idle, self.template = [], [], None


_PG = _PgDatabases()


def new_pg_database() -> tuple[str, str]:
    """A fresh migrated PostgreSQL database cloned from the session template: (URL, name)."""
    return _PG.new()


def drop_pg_database(name: str) -> None:
    """Hand ``name`` back (emptied for reuse, or dropped)."""
    _PG.release(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL not reachable (set MODELREF_TEST_PG_URL)")
    url, name = new_pg_database()
    yield url
    drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The contract fixture: every test using it runs on both engines."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        yield f"sqlite:///{copy_sqlite(template, tmp_path / 'modelref.db')}"
        return
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL not reachable (set MODELREF_TEST_PG_URL)")
    url, name = new_pg_database()
    yield url
    drop_pg_database(name)
