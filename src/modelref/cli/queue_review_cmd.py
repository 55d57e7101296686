"""``modelref queue``: review and apply (approve, reject, withdraw, apply, purge, recover)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from modelref.cli import render
from modelref.cli.backend import Json
from modelref.cli.common import Cli, command
from modelref.cli.errors import UsageProblem
from modelref.cli.queue_cmd import (
    Categories,
    ModelSubstr,
    RequestedBy,
    Statuses,
    app,
    ids_line,
    query_of,
)

#: From this many changes on, ``queue apply`` shows a progress display.
PROGRESS_FROM = 10

ChangeIds = Annotated[list[int], typer.Argument(min=1, metavar="ID...", help="Change ids.")]


@command(app, "approve")
def approve(
    cli: Cli,
    change_ids: ChangeIds,
    title: Annotated[
        str, typer.Option("--title", metavar="TEXT", help="Batch title (1-120 characters).")
    ],
    override_checks: Annotated[
        bool,
        typer.Option(
            "--override-checks",
            help="Under a quorum policy, approve even though review checks found errors "
            "(recorded in the audit log).",
        ),
    ] = False,
) -> None:
    """Approve pending changes into the open batch (two-person rule: not your own)."""
    ids = list(dict.fromkeys(change_ids))
    result = cli.backend.review(title, ids, [], None, override_checks=override_checks)
    cli.out.result(result, render.batch_result, short=str(result.get("batch_id")))


@command(app, "reject")
def reject(
    cli: Cli,
    change_ids: ChangeIds,
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why (shown to the requester).")
    ],
    title: Annotated[
        str, typer.Option("--title", metavar="TEXT", help="Batch title.")
    ] = "rejected",
) -> None:
    """Reject pending or approved changes with a reason."""
    result = cli.backend.review(title, [], list(dict.fromkeys(change_ids)), reason)
    rejected = [int(r["change_id"]) for r in result.get("rejected", [])]
    cli.out.result(result, render.batch_result, short=ids_line(rejected))


@command(app, "withdraw")
def withdraw(
    cli: Cli,
    change_id: Annotated[int, typer.Argument(min=1, metavar="ID", help="Your change's id.")],
) -> None:
    """Withdraw your own pending change (recorded as rejected, reason "withdrawn")."""
    cli.change_id = change_id
    record = cli.backend.withdraw(change_id)
    cli.out.result(record, _withdrawn, short=str(change_id))


def _withdrawn(console: Console, rec: Json) -> None:
    console.print(f"change #{rec['change_id']} withdrawn (status {rec['status']})")


@command(app, "apply")
def apply(
    cli: Cli,
    change_ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID", help="Approved change ids, applied in this order."),
    ] = None,
    batch: Annotated[
        int | None, typer.Option("--batch", min=1, help="Apply every approved change of a batch.")
    ] = None,
    job_id: Annotated[
        str | None,
        typer.Option("--job-id", metavar="JOB", help="Reservation token; retries are idempotent."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Apply stale changes anyway (audited).")
    ] = False,
    allow_mixed_batch: Annotated[
        bool, typer.Option("--allow-mixed-batch", help="Allow ids from several batches.")
    ] = False,
) -> None:
    """Make approved changes live, all or nothing (ID... or --batch B)."""
    ids = list(dict.fromkeys(change_ids or []))
    if bool(ids) == (batch is not None):
        raise UsageProblem("give change ids or --batch B (not both)")
    label = f"applying batch {batch}" if batch is not None else f"applying {len(ids)} change(s)"
    if batch is not None or len(ids) >= PROGRESS_FROM:
        with cli.out.progress(label) as step:
            result = cli.backend.apply(ids, batch, job_id, force, allow_mixed_batch)
            step("done")
    else:
        result = cli.backend.apply(ids, batch, job_id, force, allow_mixed_batch)
    applied = [int(r["change_id"]) for r in result.get("applied", [])]
    cli.out.result(result, render.apply_result, short=ids_line(applied))


@command(app, "purge")
def purge(
    cli: Cli,
    status: Statuses = None,
    category: Categories = None,
    model: ModelSubstr = None,
    requested_by: RequestedBy = None,
    purge_all: Annotated[
        bool, typer.Option("--all", help="Purge without filters (every purgeable change).")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only report what matches.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm the removal.")] = False,
) -> None:
    """Remove matching pending/approved/rejected changes (never applying/applied)."""
    query = query_of(status, category, model, requested_by, None)
    if query.is_empty() and not purge_all:
        raise UsageProblem("give at least one filter, or --all to purge every change")
    if not dry_run and not yes:
        raise UsageProblem("purge removes changes for good: add --yes (or try --dry-run)")
    result = cli.backend.purge(query, purge_all, dry_run)
    cli.out.result(
        result, render.purge_result, short=ids_line(result.get("removed_change_ids", []))
    )


@command(app, "recover", remote=False)
def recover(cli: Cli) -> None:
    """Revert changes stuck in APPLYING (after a crash) to APPROVED and report them."""
    result = cli.backend.recover()
    reverted = [int(r["change_id"]) for r in result.get("reverted", [])]
    cli.out.result(result, _recovered, short=ids_line(reverted))


def _recovered(console: Console, result: Json) -> None:
    reverted = result.get("reverted", [])
    if not reverted:
        console.print("no change was stuck in applying")
    for rec in reverted:
        console.print(
            f"[yellow]reverted[/] #{rec['change_id']} {rec['category']}/"
            f"{render.escape(rec['model_name'])} to approved"
        )
