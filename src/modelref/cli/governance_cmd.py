"""``modelref queue revert`` and ``modelref queue stats``: undo as proposals, the backlog's age.

Both work locally and against a server (``POST .../revert``, ``GET .../stats``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelref.cli import queue_review_cmd, render
from modelref.cli.backend import Json
from modelref.cli.common import Cli, command
from modelref.cli.errors import UsageProblem
from modelref.cli.queue_cmd import app, ids_line

_ = queue_review_cmd  # registered first, so ``queue --help`` lists review before these


@command(app, "revert")
def revert(
    cli: Cli,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Revert everything this batch applied.")
    ] = None,
    change: Annotated[
        int | None, typer.Option("--change", min=1, help="Revert what this change applied.")
    ] = None,
) -> None:
    """Propose the inverse of applied changes (reviewed and applied like any proposal)."""
    if (batch is None) == (change is None):
        raise UsageProblem("give --batch B or --change N (one of them)")
    result = cli.backend.revert(batch, change)
    queued = [int(r["change_id"]) for r in result.get("queued", [])]
    cli.out.result(result, _reverted, short=ids_line(queued))


def _reverted(console: Console, result: Json) -> None:
    for rec in result.get("queued", []):
        console.print(
            f"queued [bold]#{rec['change_id']}[/] {rec['operation']} {rec['category']}/"
            f"{render.escape(rec['model_name'])}: {render.escape(rec.get('notes') or '')}"
        )
    ids = " ".join(str(r["change_id"]) for r in result.get("queued", []))
    console.print(f"review them with: modelref queue diff {ids}")


@command(app, "stats")
def stats(cli: Cli) -> None:
    """Counts by status, the median age of pending changes and the oldest one."""
    result = cli.backend.stats()
    cli.out.result(result, _stats, short=str(result.get("pending", 0)))


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _stats(console: Console, result: Json) -> None:
    table = Table(header_style="bold")
    table.add_column("status")
    table.add_column("changes", justify="right")
    for status, count in (result.get("counts_by_status") or {}).items():
        table.add_row(render.status(status), str(count))
    console.print(table)
    console.print(f"total {result.get('total', 0)}, pending {result.get('pending', 0)}")
    console.print(f"median pending age: {_duration(result.get('median_pending_age_seconds'))}")
    oldest = result.get("oldest_pending")
    if oldest:
        console.print(
            f"oldest pending: #{oldest['change_id']} {oldest['category']}/"
            f"{render.escape(oldest['model_name'])}, {_duration(oldest['age_seconds'])} old"
        )
    else:
        console.print("oldest pending: none")
    ttl = result.get("proposal_ttl_days")
    console.print(f"pending changes expire after {ttl} day(s)" if ttl else "no proposal expiry")
