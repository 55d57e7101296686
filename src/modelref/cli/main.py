"""Root of the ``modelref`` command: global options and the command groups."""

from __future__ import annotations

import typer

from modelref import __version__
from modelref.cli import db_cmd, serve_cmd

app = typer.Typer(
    name="modelref",
    help="Review-gated guard of the AI Horde model reference.",
    no_args_is_help=True,
    add_completion=True,
)
app.add_typer(db_cmd.app, name="db")
app.command("serve")(serve_cmd.serve)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelref {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Review-gated guard of the AI Horde model reference."""


def run() -> None:
    """Console-script entry point."""
    app()
