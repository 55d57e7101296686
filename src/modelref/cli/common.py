"""Options every command takes (after its name) and the error funnel around every command.

``@command(app, "name")`` adds ``--json``, ``--quiet``, ``--server``, ``--apikey``,
``--as-user`` and ``--as-username`` to a command, builds its :class:`Cli` (output channels and
the backend of the selected mode) and turns expected errors into one stderr message and the
exit code chosen in :mod:`modelref.cli.errors`, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, TypeVar

import typer

from modelref.cli import errors
from modelref.cli.backend import Backend
from modelref.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Common:
    json: bool = False
    quiet: bool = False
    server: str | None = None
    apikey: str | None = None
    as_user: str | None = None
    as_username: str | None = None


class Cli:
    """What a command needs: its output channels and the backend of the selected mode."""

    def __init__(self, common: Common) -> None:
        self.common = common
        self.out = Output(json_mode=common.json, quiet=common.quiet)

    @property
    def remote(self) -> bool:
        return bool(self.common.server)

    @cached_property
    def backend(self) -> Backend:
        c = self.common
        if c.server:
            from modelref.cli.remote import RemoteBackend

            return RemoteBackend(c.server, c.apikey)
        from modelref.cli.local import LocalBackend

        return LocalBackend(apikey=c.apikey, as_user=c.as_user, as_username=c.as_username)

    def close(self) -> None:
        """Release the backend's connections, if the command made one."""
        if "backend" in self.__dict__:
            self.backend.close()


_P = inspect.Parameter.KEYWORD_ONLY
_COMMON_PARAMS = [
    inspect.Parameter(
        "json_output",
        _P,
        default=False,
        annotation=Annotated[
            bool, typer.Option("--json", help="Print the result as JSON (the API's shapes).")
        ],
    ),
    inspect.Parameter(
        "quiet",
        _P,
        default=False,
        annotation=Annotated[
            bool, typer.Option("--quiet", "-q", help="Print only ids/keys, or nothing.")
        ],
    ),
    inspect.Parameter(
        "server",
        _P,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--server",
                envvar="MODELREF_SERVER",
                help="Remote mode: base URL of a modelref server.",
                show_envvar=True,
            ),
        ],
    ),
    inspect.Parameter(
        "apikey",
        _P,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--apikey",
                envvar="MODELREF_APIKEY",
                help="API key (remote mode; local mode resolves it with the key table).",
                show_envvar=True,
            ),
        ],
    ),
    inspect.Parameter(
        "as_user",
        _P,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--as-user",
                envvar="MODELREF_USER_ID",
                help="Local mode without a key: act as this user id.",
                show_envvar=True,
            ),
        ],
    ),
    inspect.Parameter(
        "as_username",
        _P,
        default=None,
        annotation=Annotated[
            str | None,
            typer.Option(
                "--as-username",
                envvar="MODELREF_USERNAME",
                help="Local mode: display name for --as-user.",
                show_envvar=True,
            ),
        ],
    ),
]
_COMMON_NAMES = [p.name for p in _COMMON_PARAMS]


def run_guarded(cli: Cli, body: Callable[[], Any]) -> Any:
    """Run ``body``; expected errors become a message on stderr and their exit code."""
    try:
        return body()
    except errors.EXPECTED as exc:
        code = errors.exit_code(exc)
        cli.out.error(errors.describe(exc), code=code, kind=errors.error_type(exc))
        raise typer.Exit(code) from None


def command(app: typer.Typer, name: str, **kwargs: Any) -> Callable[[F], F]:
    """Register ``fn(cli, ...)`` as ``name`` with the common options added after its own."""

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = list(signature.parameters.values())[1:]  # drop the ``cli`` parameter

        @functools.wraps(fn)
        def wrapper(**values: Any) -> Any:
            common = {key: values.pop(key) for key in _COMMON_NAMES}
            cli = Cli(
                Common(
                    json=common["json_output"],
                    quiet=common["quiet"],
                    server=common["server"] or None,
                    apikey=common["apikey"] or None,
                    as_user=common["as_user"] or None,
                    as_username=common["as_username"] or None,
                )
            )
            try:
                return run_guarded(cli, lambda: fn(cli, **values))
            finally:
                cli.close()

        params = own + _COMMON_PARAMS
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        app.command(name, **kwargs)(wrapper)
        return fn

    return decorate
