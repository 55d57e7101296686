"""The error funnel around every command and the ``@command`` decorator.

``@command(app, "name")`` adds the common options of :mod:`modelref.cli.options` to a command
(``--server`` only when the command has a remote mode), builds its :class:`Cli` (output
channels and the backend of the selected mode) and turns expected errors into one stderr
message and the exit code chosen in :mod:`modelref.cli.errors`, never a traceback.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

import typer

from modelref.cli import errors, options, wording
from modelref.cli.backend import Backend
from modelref.cli.errors import UsageProblem
from modelref.cli.options import Common
from modelref.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["Cli", "Common", "command", "run_guarded"]


class Cli:
    """What a command needs: its output channels and the backend of the selected mode."""

    def __init__(
        self, common: Common, *, name: str = "", remote: bool = True, creates: bool = False
    ) -> None:
        self.common = common
        self.name = name
        self.has_remote = remote
        self.creates_database = creates
        #: The one change the command is about (names it in a "not found" message).
        self.change_id: int | None = None
        self.out = Output(json_mode=common.json, quiet=common.quiet)

    @property
    def remote(self) -> bool:
        return bool(self.common.server) and self.has_remote

    def check_mode(self) -> None:
        """A command without a remote mode refuses ``--server`` (and says why)."""
        if self.has_remote or not self.common.server:
            return
        if self.common.server_given:
            raise UsageProblem(
                f"{self.name} has no remote mode: it works on the database itself; run it on "
                "the server's host without --server (MODELREF_DATABASE_URL or "
                "MODELREF_DATA_DIR names the database)"
            )
        self.out.warn(
            f"MODELREF_SERVER is set, but {self.name} has no remote mode: "
            "it works on the local database"
        )

    @cached_property
    def backend(self) -> Backend:
        c = self.common
        if self.remote:
            from modelref.cli.remote import RemoteBackend

            assert c.server is not None
            if c.verbose:
                self.out.note(f"server: {c.server}")
            return RemoteBackend(c.server, c.apikey)
        from modelref.cli.local import LocalBackend

        backend = LocalBackend(
            apikey=c.apikey,
            as_user=c.as_user,
            as_username=c.as_username,
            creates_database=self.creates_database,
        )
        if c.verbose:
            self.out.note(f"database: {backend.describe_database()}")
        return backend

    def close(self) -> None:
        """Release the backend's connections, if the command made one."""
        if "backend" in self.__dict__:
            self.backend.close()


def run_guarded(cli: Cli, body: Callable[[], Any]) -> Any:
    """Run ``body``; expected errors become a message on stderr and their exit code."""
    try:
        cli.check_mode()
        return body()
    except errors.EXPECTED as exc:
        code = errors.exit_code(exc)
        message = wording.for_cli(errors.describe(exc), cli.change_id)
        cli.out.error(message, code=code, kind=errors.error_type(exc))
        raise typer.Exit(code) from None


def command(
    app: typer.Typer,
    name: str,
    *,
    remote: bool = True,
    creates_database: bool = False,
    **kwargs: Any,
) -> Callable[[F], F]:
    """Register ``fn(cli, ...)`` as ``name`` with the common options added after its own.

    ``remote=False``: the command works on the database only and offers no ``--server``.
    ``creates_database=True``: in local mode it may create a new SQLite file (every other
    command refuses to, so a typo in the data location never yields a silent empty database).
    """

    def decorate(fn: F) -> F:
        signature = inspect.signature(fn, eval_str=True)
        own = list(signature.parameters.values())[1:]  # drop the ``cli`` parameter
        common_params = options.params(remote=remote)
        ctx_param = inspect.Parameter(
            "_ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context
        )

        @functools.wraps(fn)
        def wrapper(**values: Any) -> Any:
            ctx: typer.Context = values.pop("_ctx")
            given = {key: values.pop(key) for key in list(values) if key in options.NAMES}
            root = ctx.find_root().obj
            common = options.merge(root if isinstance(root, Common) else None, given)
            label = " ".join(ctx.command_path.split()[1:]) or name
            cli = Cli(common, name=label, remote=remote, creates=creates_database)
            try:
                return run_guarded(cli, lambda: fn(cli, **values))
            finally:
                cli.close()

        params = [*own, *common_params, ctx_param]
        wrapper.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        del wrapper.__wrapped__
        app.command(name, **kwargs)(wrapper)
        return fn

    return decorate
