"""``modelref queue``: read and propose changes (list, show, diff, submit).

The review and apply commands live in :mod:`modelref.cli.queue_review_cmd`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console

from modelref.cli import checks_render, errors, render, wording
from modelref.cli import payload as payloads
from modelref.cli.backend import Json, QueueQuery
from modelref.cli.common import Cli, command
from modelref.cli.errors import CliError, UsageProblem
from modelref.domain.categories import Category
from modelref.domain.queue_models import PendingChangeStatus

app = typer.Typer(
    rich_markup_mode=None,
    help="The review queue: list, inspect, propose, review and apply changes.",
    no_args_is_help=True,
)

OPEN = ("pending", "approved", "applying")
CATEGORY_CHOICES = ", ".join(c.value for c in Category)
STATUS_CHOICES = ", ".join(s.value for s in PendingChangeStatus)

Statuses = Annotated[
    list[PendingChangeStatus] | None,
    typer.Option(
        "--status", metavar="STATUS", help=f"Only these statuses (repeatable): {STATUS_CHOICES}."
    ),
]
Categories = Annotated[
    list[Category] | None,
    typer.Option(
        "--category",
        metavar="CATEGORY",
        help=f"Only these categories (repeatable): {CATEGORY_CHOICES}.",
    ),
]
ModelSubstr = Annotated[
    str | None,
    typer.Option("--model", metavar="TEXT", help="Model name contains this (case-insensitive)."),
]
RequestedBy = Annotated[
    list[str] | None,
    typer.Option("--requested-by", metavar="ID", help="Requester user id (repeatable)."),
]
#: ``--sort`` value -> the API's ``sort``.
SORTS = {"id": "change_id", "age": "age", "newest": "-age"}


def query_of(
    statuses: list[PendingChangeStatus] | None,
    categories: list[Category] | None,
    model: str | None,
    requested_by: list[str] | None,
    batch: int | None,
) -> QueueQuery:
    return QueueQuery(
        statuses=sorted({s.value for s in statuses or []}),
        categories=sorted({c.value for c in categories or []}),
        model_name=model,
        requested_by=[r.strip() for r in requested_by or [] if r.strip()],
        batch_id=batch,
    )


def ids_line(ids: list[int]) -> str:
    return "\n".join(str(i) for i in ids)


@command(app, "list")
def list_changes(
    cli: Cli,
    status: Statuses = None,
    category: Categories = None,
    model: ModelSubstr = None,
    requested_by: RequestedBy = None,
    batch: Annotated[int | None, typer.Option("--batch", min=1, help="Batch id.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500, help="Page size.")] = 50,
    offset: Annotated[int, typer.Option("--offset", min=0, help="Skip this many.")] = 0,
    sort: Annotated[
        str, typer.Option("--sort", help="id (default), age (oldest first) or newest.")
    ] = "id",
) -> None:
    """List changes as a table (id, status, model, requester, age, batch, stale/conflict)."""
    if sort not in SORTS:
        raise UsageProblem(f"--sort: expected id, age or newest, got {sort!r}")
    query = replace(query_of(status, category, model, requested_by, batch), sort=SORTS[sort])
    page = cli.backend.list_changes(query, offset, limit)
    items = page.get("items", [])
    marks: dict[int, str] = {}
    if not cli.common.json and not cli.common.quiet:
        marks = _marks(cli, [int(i["change_id"]) for i in items if i["status"] in OPEN])
    cli.out.result(
        page,
        lambda console, data: render.changes_table(console, data, marks),
        short=ids_line([int(i["change_id"]) for i in items]),
    )


def _marks(cli: Cli, open_ids: list[int]) -> dict[int, str]:
    """Stale/conflict marks for open changes, from their diffs (100 per request)."""
    marks: dict[int, str] = {}
    for start in range(0, len(open_ids), 100):
        page = cli.backend.diffs(open_ids[start : start + 100])
        for diff in page.get("diffs", []):
            parts = []
            if diff.get("is_stale"):
                parts.append("[yellow]stale[/]")
            if diff.get("conflicts"):
                parts.append("[yellow]conflict[/] " + ",".join(f"#{c}" for c in diff["conflicts"]))
            if diff.get("is_critical"):
                parts.append("[red]critical[/]")
            parts.append(checks_render.mark(diff.get("checks")))  # review checks
            marks[int(diff["change_id"])] = " ".join(p for p in parts if p)
    return marks


@command(app, "show")
def show(
    cli: Cli, change_id: Annotated[int, typer.Argument(min=1, metavar="ID", help="Change id.")]
) -> None:
    """Show one change and its diff against the live record."""
    cli.change_id = change_id
    record = cli.backend.get_change(change_id)
    diff: Json | None = None
    if not cli.common.json and not cli.common.quiet:
        diff = cli.backend.diff(change_id)

    def draw(console: Console, data: Json) -> None:
        render.change_detail(console, data)
        if diff is not None:
            console.print()
            render.diff_view(console, diff)

    cli.out.result(record, draw, short=str(change_id))


@command(app, "diff")
def diff(
    cli: Cli,
    change_ids: Annotated[
        list[int], typer.Argument(min=1, metavar="ID...", help="One or more change ids.")
    ],
) -> None:
    """Field-level diff(s): coloured, critical fields highlighted, stale/conflict warnings."""
    ids = list(dict.fromkeys(change_ids))
    if len(ids) == 1:
        cli.change_id = ids[0]
        one = cli.backend.diff(ids[0])
        cli.out.result(one, render.diff_view, short=str(ids[0]))
        return
    page = cli.backend.diffs(ids)
    cli.out.result(page, render.diff_page, short=ids_line([d["change_id"] for d in page["diffs"]]))
    if page.get("errors"):
        first = page["errors"][0]
        raise CliError(f"Change {first.get('change_id')}: {first.get('error')}")


@command(app, "submit")
def submit(
    cli: Cli,
    category: Annotated[
        Category,
        typer.Option("--category", metavar="CATEGORY", help=f"Model category: {CATEGORY_CHOICES}."),
    ],
    model: Annotated[
        str, typer.Option("--model", metavar="NAME", help="Model name (the record key).")
    ],
    create: Annotated[bool, typer.Option("--create", help="Propose a new model.")] = False,
    update: Annotated[bool, typer.Option("--update", help="Propose a new version.")] = False,
    delete: Annotated[bool, typer.Option("--delete", help="Propose removing it.")] = False,
    file: Annotated[
        str | None,
        typer.Option("--file", metavar="PATH", help="Full record as JSON (- for stdin)."),
    ] = None,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="FIELD=VALUE",
            help="field.path=value edit of the current record (repeatable); the value is "
            "JSON when it parses (1.5 is a number; quote strings: version='\"1.5\"').",
        ),
    ] = None,
    notes: Annotated[
        str | None, typer.Option("--notes", metavar="TEXT", help="Note for reviewers.")
    ] = None,
) -> None:
    """Propose a create, update or delete; --set edits a copy of the live record."""
    flags = {"create": create, "update": update, "delete": delete}
    chosen = [name for name, on in flags.items() if on]
    if len(chosen) != 1:
        raise UsageProblem("give exactly one of --create, --update or --delete")
    operation = chosen[0]
    edits = sets or []
    body: Json | None = None
    live: Json | None = None
    if operation == "delete":
        if file or edits:
            raise UsageProblem("--delete takes no --file or --set")
    else:
        if file is None and not edits:
            raise UsageProblem(f"--{operation} needs --file PAYLOAD.json or --set field=value")
        if file is not None:
            base = payloads.read_file(file)
        elif operation == "update":
            base = live = cli.backend.record(category.value, model)
        else:
            base = {"name": model}
        body = payloads.apply_edits(base, edits)
        body.setdefault("name", model)
        _check_name(cli, category.value, model, operation, body, live, from_file=file is not None)
    try:
        record = cli.backend.submit(category.value, model, operation, body, notes)
    except errors.EXPECTED as exc:
        hint = payloads.typed_value_hint(errors.describe(exc), edits)
        if hint is None:
            raise
        message = f"{wording.for_cli(errors.describe(exc))} ({hint})"
        raise CliError(message, errors.exit_code(exc)) from None
    cli.out.result(record, _submitted, short=str(record["change_id"]))


def _check_name(
    cli: Cli,
    category: str,
    model: str,
    operation: str,
    body: Json,
    live: Json | None,
    *,
    from_file: bool,
) -> None:
    """The payload's ``name`` must be ``--model`` (or, for an update, the live record's name).

    A few live records are keyed differently from their ``name`` (controlnet
    ``control_qr_sdxl`` holds ``control_qr_xl``); an update may keep that name.
    """
    name = body.get("name")
    if name == model:
        return
    if operation == "update" and isinstance(name, str):
        if live is None:
            live = cli.backend.record(category, model)
        if name == live.get("name"):
            return
    where = "--file" if from_file else "the payload"
    raise UsageProblem(
        f"--model {model!r} does not match the name {name!r} in {where}: the record would be "
        f"queued under another name; give the same name in both"
    )


def _submitted(console: Console, rec: Json) -> None:
    console.print(
        f"queued change [bold]#{rec['change_id']}[/] ({rec['operation']} "
        f"{rec['category']}/{render.escape(rec['model_name'])}), status {rec['status']}"
    )
    console.print(f"review it with: modelref queue diff {rec['change_id']}")
