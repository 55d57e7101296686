"""Root of the ``modelref`` command: global options and the command groups.

Commands with a remote mode work locally (on the database of ``MODELREF_DATABASE_URL``, by
default ``modelref.db`` in the user's data folder) or against a server (``--server URL`` /
``MODELREF_SERVER`` with ``--apikey`` / ``MODELREF_APIKEY``); see ``docs/cli.md``. The common
options may be given before the command (``modelref --server URL queue list``) or after it.
"""

from __future__ import annotations

from typing import Annotated

import typer

from modelref import __version__
from modelref.cli import (
    audit_cmd,
    catalog_cmd,
    checks_cmd,
    db_cmd,
    feed_cmd,
    governance_cmd,
    keys_cmd,
    options,
    publish_cmd,
    queue_cmd,
    queue_review_cmd,
    serve_cmd,
    webhooks_cmd,
    worker_cmd,
)
from modelref.cli.options import Common

_ = (queue_review_cmd, governance_cmd)  # imported for their commands (the ``queue`` group)
_QUEUE_CHECKS = checks_cmd  # ``queue checks`` (review checks) joins the ``queue`` group too
_feed = feed_cmd  # imported for its commands, which join the ``catalog`` group

app = typer.Typer(
    name="modelref",
    help="Review-gated guard of the AI Horde model reference.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(queue_cmd.app, name="queue")
app.add_typer(catalog_cmd.app, name="catalog")
app.registered_commands.extend(catalog_cmd.files_app.registered_commands)  # import, export
app.add_typer(db_cmd.app, name="db")
app.add_typer(keys_cmd.app, name="keys")
app.add_typer(audit_cmd.app, name="audit")
app.add_typer(publish_cmd.app, name="publish")
app.add_typer(webhooks_cmd.app, name="webhooks")
app.command("serve")(serve_cmd.serve)
app.command("worker")(worker_cmd.worker)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"modelref {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    json_output: Annotated[bool, typer.Option("--json", help=options.JSON_HELP)] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help=options.QUIET_HELP)] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help=options.VERBOSE_HELP)] = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar="MODELREF_SERVER",
            show_envvar=True,
            metavar="URL",
            help=options.SERVER_HELP + " Only commands with a remote mode use it.",
        ),
    ] = None,
    apikey: Annotated[
        str | None,
        typer.Option(
            "--apikey",
            envvar="MODELREF_APIKEY",
            show_envvar=True,
            metavar="KEY",
            help=options.APIKEY_HELP,
        ),
    ] = None,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as-user",
            envvar="MODELREF_USER_ID",
            show_envvar=True,
            metavar="ID",
            help=options.AS_USER_HELP,
        ),
    ] = None,
    as_username: Annotated[
        str | None,
        typer.Option(
            "--as-username",
            envvar="MODELREF_USERNAME",
            show_envvar=True,
            metavar="NAME",
            help=options.AS_USERNAME_HELP,
        ),
    ] = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Review-gated guard of the AI Horde model reference.

    Local mode (default) works on MODELREF_DATABASE_URL (default: modelref.db in the user's
    data folder, or in MODELREF_DATA_DIR). Commands with a remote mode talk to a running server
    with --server URL (or MODELREF_SERVER) and --apikey (or MODELREF_APIKEY). The options above
    may also be given after the command. Exit codes: 0 ok, 1 domain error, 2 usage,
    3 conflict, 4 auth, 5 unreachable.
    """
    source = ctx.get_parameter_source("server")
    ctx.obj = Common(
        json=json_output,
        quiet=quiet,
        verbose=verbose,
        server=server or None,
        apikey=apikey or None,
        as_user=as_user or None,
        as_username=as_username or None,
        server_given=bool(server) and source is not None and source.name == "COMMANDLINE",
    )


def run() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    run()
