"""``modelref keys``: local API keys (stored hashed; a new key is shown once)."""

from __future__ import annotations

import enum
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelref.cli.backend import Json
from modelref.cli.common import Cli, command

app = typer.Typer(
    rich_markup_mode=None, help="Local API keys: create, list and revoke.", no_args_is_help=True
)


class RoleName(enum.StrEnum):
    reader = "reader"
    requestor = "requestor"
    approver = "approver"


@command(app, "create", remote=False, creates_database=True)
def create(
    cli: Cli,
    user_id: Annotated[
        str, typer.Option("--user-id", metavar="ID", help="User id (e.g. a Horde id).")
    ],
    username: Annotated[
        str, typer.Option("--username", metavar="NAME", help="Display name, e.g. alice#1001.")
    ],
    role: Annotated[
        RoleName, typer.Option("--role", help="reader, requestor or approver.")
    ] = RoleName.requestor,
) -> None:
    """Issue a key for a user; the key is printed once and stored only as a hash."""
    result = cli.backend.keys_create(user_id, username, role.value)
    cli.out.result(result, _created, short=result["key"])


def _created(console: Console, result: Json) -> None:
    console.print(f"key for {result['username']} (id {result['user_id']}, role {result['role']}):")
    console.print(f"[bold]{result['key']}[/]")
    console.print("[yellow]store it now: it is not shown again[/]")


@command(app, "list", remote=False)
def list_keys(cli: Cli) -> None:
    """List keys (prefix, user, role, created, revoked); never the keys themselves."""
    keys = cli.backend.keys_list()
    cli.out.result(keys, _table, short="\n".join(str(k["key_prefix"]) for k in keys))


def _when(ts: object) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ts)) if isinstance(ts, int) else "-"


def _table(console: Console, keys: list[Json]) -> None:
    table = Table(header_style="bold")
    for col in ("prefix", "user id", "username", "role", "created", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(
            str(k["key_prefix"]),
            str(k["user_id"]),
            str(k["username"]),
            str(k["role"]),
            _when(k.get("created_at")),
            _when(k.get("revoked_at")),
        )
    console.print(table)


@command(app, "revoke", remote=False)
def revoke(
    cli: Cli,
    prefix: Annotated[
        str, typer.Argument(metavar="PREFIX", help="Key prefix as shown by `keys list`.")
    ],
) -> None:
    """Revoke every active key starting with PREFIX."""
    result = cli.backend.keys_revoke(prefix)
    cli.out.result(
        result,
        lambda console, r: console.print(f"revoked {r['revoked']} key(s) starting {prefix}"),
        short=str(result["revoked"]),
    )
