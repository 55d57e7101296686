"""``modelref db``: schema management."""

from __future__ import annotations

import typer

from modelref.cli.common import Cli, command

app = typer.Typer(rich_markup_mode=None, help="Database schema management.", no_args_is_help=True)


@command(app, "upgrade", remote=False, creates_database=True)
def upgrade(cli: Cli) -> None:
    """Apply every pending migration to MODELREF_DATABASE_URL."""
    result = cli.backend.db_upgrade()
    cli.out.result(
        result,
        lambda console, r: console.print(f"database at {r['database']} is up to date"),
        short=None,
    )
