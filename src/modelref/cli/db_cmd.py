"""``modelref db``: schema management."""

from __future__ import annotations

import typer

from modelref.settings import Settings
from modelref.store import migrate
from modelref.store.database import Database

app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Apply every pending migration to MODELREF_DATABASE_URL."""
    settings = Settings()
    db = Database(settings.database_url)
    migrate.upgrade(db)
    typer.echo(f"database at {db.engine.url.render_as_string(hide_password=True)} is up to date")
