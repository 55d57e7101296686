"""Root of the ``modelref`` command: global options and the command groups.

Every command works locally (``MODELREF_DATABASE_URL``, through the service layer) or against
a server (``--server URL`` / ``MODELREF_SERVER`` with ``--apikey`` / ``MODELREF_APIKEY``); see
``docs/cli.md``.
"""

from __future__ import annotations

import typer

from modelref import __version__
from modelref.cli import (
    audit_cmd,
    catalog_cmd,
    db_cmd,
    governance_cmd,
    keys_cmd,
    queue_cmd,
    queue_review_cmd,
    serve_cmd,
    worker_cmd,
)

_ = (queue_review_cmd, governance_cmd)  # imported for their commands (the ``queue`` group)

app = typer.Typer(
    name="modelref",
    help="Review-gated guard of the AI Horde model reference.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(queue_cmd.app, name="queue")
app.add_typer(catalog_cmd.app, name="catalog")
app.registered_commands.extend(catalog_cmd.files_app.registered_commands)  # import, export
app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(audit_cmd.app, name="audit")
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)


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
    """Review-gated guard of the AI Horde model reference.

    Local mode (default) works on MODELREF_DATABASE_URL; --server URL (or MODELREF_SERVER)
    with --apikey (or MODELREF_APIKEY) talks to a running server. Exit codes: 0 ok, 1 domain
    error, 2 usage, 3 conflict, 4 auth, 5 unreachable.
    """


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
