"""``modelref queue checks ID``: the review checks of a change (``--rerun``, ``--wait``)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from modelref.cli import checks_render
from modelref.cli.backend import Json
from modelref.cli.common import Cli, command
from modelref.cli.errors import CliError
from modelref.cli.queue_cmd import app

SETTLED = ("done", "unchecked")
POLL_SECONDS = 1.0


@command(app, "checks")
def checks(
    cli: Cli,
    change_id: Annotated[int, typer.Argument(min=1, help="Change id.")],
    rerun: Annotated[
        bool, typer.Option("--rerun", help="Queue every check again first (approver).")
    ] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0, help="Wait up to this many seconds for them to settle."),
    ] = 0.0,
) -> None:
    """Show the review checks of a change: state, progress and findings."""
    result: Json = cli.backend.rerun_checks(change_id) if rerun else cli.backend.checks(change_id)
    deadline = time.monotonic() + wait
    while result.get("state") not in SETTLED and time.monotonic() < deadline:
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
        result = cli.backend.checks(change_id)
    cli.out.result(result, checks_render.checks_view, short=str(result.get("state")))
    if wait and result.get("state") not in SETTLED:
        raise CliError(f"the checks of change {change_id} did not settle within {wait:g}s")
