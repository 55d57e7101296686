"""Imports point inward only: api/web/cli -> service -> store -> domain (design.md §7)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "modelref"

#: For each layer, the modules it must never import.
FORBIDDEN = {
    "domain": (
        "modelref.store",
        "modelref.service",
        "modelref.api",
        "modelref.web",
        "modelref.cli",
        "sqlalchemy",
        "fastapi",
        "httpx",
    ),
    "store": ("modelref.service", "modelref.api", "modelref.web", "modelref.cli", "fastapi"),
    "service": ("modelref.api", "modelref.web", "modelref.cli", "fastapi"),
    "api": ("modelref.store", "sqlalchemy", "psycopg", "modelref.cli"),
    "web": ("modelref.store", "sqlalchemy", "psycopg", "modelref.cli"),
    "cli": ("modelref.store", "sqlalchemy", "psycopg"),
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inward(layer: str) -> None:
    bad = []
    for path in sorted((SRC / layer).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for name in imported(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(SRC)} imports {name}")
    assert bad == []
