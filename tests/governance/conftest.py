"""Deployments the governance tests open are closed after each test (no leaked pools)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.governance.helpers import OPENED


@pytest.fixture(autouse=True)
def _close_deployments() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().db.dispose()
