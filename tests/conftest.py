"""Shared fixtures: real SQLite files and a real PostgreSQL schema per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
PG_URL = os.environ.get("MODELREF_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Tests must not pick up a developer's deployment settings (the test tiers' own variables stay).
_TEST_VARIABLES = ("MODELREF_TEST_PG_URL", "MODELREF_REFERENCE_DIR")
for _key in list(os.environ):
    if _key.startswith("MODELREF_") and _key not in _TEST_VARIABLES:
        del os.environ[_key]


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except Exception:
        return False


PG_AVAILABLE = _pg_available()


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("CI") and not PG_AVAILABLE:
        raise pytest.UsageError(
            f"CI requires PostgreSQL at {PG_URL}; refusing to skip the PostgreSQL tests"
        )


def new_pg_schema_url() -> tuple[str, str]:
    """Create an empty schema and return a URL whose search_path points at it."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(PG_URL.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'modelref.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL not reachable (set MODELREF_TEST_PG_URL)")
    url, schema = new_pg_schema_url()
    yield url
    drop_pg_schema(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The contract fixture: every test using it runs on both engines."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'modelref.db'}"
        return
    if not PG_AVAILABLE:
        pytest.skip("PostgreSQL not reachable (set MODELREF_TEST_PG_URL)")
    url, schema = new_pg_schema_url()
    yield url
    drop_pg_schema(schema)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real reference data not found at {SHARED_DATA}")
    return SHARED_DATA
