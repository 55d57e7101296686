"""``modelref audit``: read the audit log and verify its hash chain."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelref.cli.backend import Json
from modelref.cli.common import Cli, command
from modelref.cli.errors import CliError

app = typer.Typer(
    rich_markup_mode=None,
    help="The tamper-evident audit log: read and verify.",
    no_args_is_help=True,
)


@command(app, "log")
def log(
    cli: Cli,
    change: Annotated[int | None, typer.Option("--change", min=1, help="Change id.")] = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Batch id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Show the last N events.")] = 200,
) -> None:
    """Show audit events, oldest first (all, or for one change and/or batch)."""
    events = cli.backend.audit_log(change, batch, limit)
    cli.out.result(events, _table, short="\n".join(str(e["event_id"]) for e in events))


def _table(console: Console, events: list[Json]) -> None:
    table = Table(header_style="bold")
    for col in ("event", "time (UTC)", "action", "change", "batch", "user", "target"):
        table.add_column(col, overflow="fold")
    for ev in events:
        target = ev["category"] if ev["model_name"] in ("*", "queue") else ev["model_name"]
        if ev["category"] not in ("pending_queue",) and ev["model_name"] != "*":
            target = f"{ev['category']}/{ev['model_name']}"
        table.add_row(
            str(ev["event_id"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ev["timestamp"])),
            str(ev.get("action") or ev.get("operation")),
            str(ev["change_id"]) if ev.get("change_id") is not None else "-",
            str(ev["batch_id"]) if ev.get("batch_id") is not None else "-",
            escape(str(ev.get("username") or ev.get("logical_user_id") or "-")),
            escape(str(target)),
        )
    console.print(table)
    console.print(f"{len(events)} event(s)")


@command(app, "verify")
def verify(
    cli: Cli,
    deep: Annotated[
        bool,
        typer.Option(
            "--deep",
            help="Also replay the log and compare the queue and catalog tables with it, "
            "naming each row that diverges (approvers).",
        ),
    ] = False,
) -> None:
    """Check the hash chain; exit 0 when it holds, 1 naming the first broken event."""
    report = cli.backend.audit_verify(deep)
    cli.out.result(report, _report, short=None)
    if report["broken_event_id"] is not None:
        raise CliError(
            f"audit chain broken at event {report['broken_event_id']}: {report['reason']}"
        )
    if not report["ok"]:
        count = report["deep"]["divergence_count"]
        raise CliError(f"{count} stored row(s) disagree with the audit log")


def _report(console: Console, report: Json) -> None:
    deep = report.get("deep")
    if deep is not None:
        for d in deep["divergences"]:
            console.print(
                f"[bold red]diverges[/] {d['table']} {escape(d['key'])}: {escape(d['problem'])}"
            )
        console.print(
            f"{deep['changes_checked']} change(s) and {deep['records_checked']} catalog record(s) "
            f"compared with the log: {deep['divergence_count']} divergence(s)"
        )
    if report["broken_event_id"] is None:
        console.print(f"[green]ok[/]: {report['events']} event(s), hash chain intact")
    else:
        console.print(
            f"[bold red]broken[/] at event {report['broken_event_id']} "
            f"({report['events']} event(s) read)"
        )
