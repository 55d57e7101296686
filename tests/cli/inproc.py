"""``modelref`` in this process through typer's CliRunner (for tests not about the script)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from modelref.cli.main import app


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def invoke(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Outcome:
    """Run ``modelref ARGS``; ``env`` adds environment variables for the call only."""
    runner = CliRunner()
    result = runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})}, input=stdin)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Outcome(result.exit_code, result.stdout, result.stderr)
