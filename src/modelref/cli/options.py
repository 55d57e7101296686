"""The options every command takes, before the command (``modelref --json queue list``) or after
it (``modelref queue list --json``).

The root callback stores the ones given before the command in ``ctx.obj`` (a
:class:`Common`); each command adds the same options to its own signature, and
:func:`merge` combines both (a value after the command wins). Commands without a remote mode
do not get ``--server``.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Annotated, Any

import typer

_P = inspect.Parameter.KEYWORD_ONLY


@dataclass(frozen=True)
class Common:
    json: bool = False
    quiet: bool = False
    verbose: bool = False
    server: str | None = None
    apikey: str | None = None
    as_user: str | None = None
    as_username: str | None = None
    #: ``--server`` came from the command line (not from ``MODELREF_SERVER``).
    server_given: bool = False


JSON_HELP = "Print the result as JSON (the API's shapes)."
QUIET_HELP = "Print only ids/keys, or nothing."
VERBOSE_HELP = "Say which database or server the command uses (on stderr)."
SERVER_HELP = "Remote mode: base URL of a modelref server."
APIKEY_HELP = "API key (remote mode; local mode resolves it with the key table)."
AS_USER_HELP = "Local mode without a key: act as this user id."
AS_USERNAME_HELP = "Local mode: display name for --as-user."


def _param(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(name, _P, default=default, annotation=annotation)


def _text(*decls: str, envvar: str, help: str, metavar: str) -> Any:
    return Annotated[
        str | None,
        typer.Option(*decls, envvar=envvar, help=help, show_envvar=True, metavar=metavar),
    ]


def params(*, remote: bool) -> list[inspect.Parameter]:
    """The common options as keyword-only parameters (``--server`` only with ``remote``)."""
    found = [
        _param("json_output", False, Annotated[bool, typer.Option("--json", help=JSON_HELP)]),
        _param("quiet", False, Annotated[bool, typer.Option("--quiet", "-q", help=QUIET_HELP)]),
        _param(
            "verbose", False, Annotated[bool, typer.Option("--verbose", "-v", help=VERBOSE_HELP)]
        ),
    ]
    if remote:
        found.append(
            _param(
                "server",
                None,
                _text("--server", envvar="MODELREF_SERVER", help=SERVER_HELP, metavar="URL"),
            )
        )
    found += [
        _param(
            "apikey",
            None,
            _text("--apikey", envvar="MODELREF_APIKEY", help=APIKEY_HELP, metavar="KEY"),
        ),
        _param(
            "as_user",
            None,
            _text("--as-user", envvar="MODELREF_USER_ID", help=AS_USER_HELP, metavar="ID"),
        ),
        _param(
            "as_username",
            None,
            _text(
                "--as-username", envvar="MODELREF_USERNAME", help=AS_USERNAME_HELP, metavar="NAME"
            ),
        ),
    ]
    return found


NAMES = frozenset(p.name for p in params(remote=True))


def merge(before: Common | None, after: dict[str, Any]) -> Common:
    """The options given before the command, overridden by those given after it."""
    base = before or Common()

    def text(key: str, default: str | None) -> str | None:
        value = after.get(key)
        return (value or None) if value is not None else default

    server = text("server", base.server) if "server" in after else base.server
    return Common(
        json=bool(after.get("json_output")) or base.json,
        quiet=bool(after.get("quiet")) or base.quiet,
        verbose=bool(after.get("verbose")) or base.verbose,
        server=server or None,
        apikey=text("apikey", base.apikey),
        as_user=text("as_user", base.as_user),
        as_username=text("as_username", base.as_username),
        server_given=base.server_given or bool(after.get("server")),
    )
