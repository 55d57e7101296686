"""``modelref catalog list|show``, ``modelref import`` and ``modelref export``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.json import JSON
from rich.table import Table

from modelref.cli import render
from modelref.cli.backend import Json
from modelref.cli.common import Cli, command
from modelref.cli.errors import UsageProblem
from modelref.domain.categories import Category

app = typer.Typer(
    rich_markup_mode=None,
    help="The live catalog: list and show model records.",
    no_args_is_help=True,
)
#: ``import`` and ``export`` are top-level commands; main.py registers this holder's commands.
files_app = typer.Typer(rich_markup_mode=None)


class ExportFormat(enum.StrEnum):
    v2 = "v2"
    legacy = "legacy"
    both = "both"


@command(app, "list")
def list_records(
    cli: Cli,
    category: Annotated[Category, typer.Argument(metavar="CATEGORY", help="Model category.")],
) -> None:
    """List the live models of a category."""
    records = cli.backend.catalog(category.value)
    cli.out.result(
        records,
        lambda console, data: render.record_summary(console, category.value, data),
        short="\n".join(records),
    )


@command(app, "show")
def show(
    cli: Cli,
    category: Annotated[Category, typer.Argument(metavar="CATEGORY", help="Model category.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="Model name (the record key).")],
) -> None:
    """Show one live model record as JSON."""
    record = cli.backend.record(category.value, name)
    cli.out.result(record, _record, short=name)


def _record(console: Console, record: Json) -> None:
    console.print(JSON.from_data(record, ensure_ascii=False))


@command(files_app, "import", remote=False, creates_database=True)
def import_(
    cli: Cli,
    path: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help="Directory or file: v2 and/or legacy reference files."),
    ] = None,
    from_github: Annotated[
        bool,
        typer.Option(
            "--from-github",
            help="Fetch the public image and text reference repositories instead of PATH.",
        ),
    ] = False,
    ref: Annotated[
        str,
        typer.Option("--ref", metavar="REF", help="Branch, tag or commit for --from-github."),
    ] = "main",
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Accept losing fields the files' format cannot carry (listed in the report).",
        ),
    ] = False,
) -> None:
    """Load reference files (v2 or legacy) into the catalog, audited; unchanged is a no-op.

    v2 files keep the legacy-only fields (md5sum, download_all, ...) of the records they name;
    legacy files that would lose v2-only values are refused unless --replace.
    """
    if (path is None) == (not from_github):
        raise UsageProblem("give a PATH to import, or --from-github (not both)")
    if path is None:
        from modelref.service.reference_fetch import MANIFEST

        label = f"fetching the reference at {ref}"
        with cli.out.progress(label, total=len(MANIFEST)) as step:
            report = cli.backend.import_reference(ref, step, replace)
    else:
        with cli.out.progress("importing", total=None) as step:
            report = cli.backend.import_path(path, step, replace)
    cli.out.result(report, _import_report, short="\n".join(report.get("changed", [])))


def _import_report(console: Console, report: Json) -> None:
    for item in report.get("fetched", []):
        console.print(f"fetched {item['url']} ({item['bytes']} bytes, sha256 {item['sha256']})")
    table = Table(header_style="bold")
    for col in ("category", "source", "records", "added", "updated", "removed", "changed"):
        table.add_column(col, justify="left" if col in ("category", "source") else "right")
    for item in report.get("categories", []):
        table.add_row(
            item["category"],
            item["source"],
            str(item["records"]),
            str(item["added"]),
            str(item["updated"]),
            str(item["removed"]),
            "[green]yes[/]" if item["changed"] else "no",
        )
    console.print(table)
    for item in report.get("categories", []):
        _category_details(console, item)
    skipped = report.get("skipped", [])
    if skipped:
        console.print(f"[dim]skipped {len(skipped)} file(s) that are not catalog files[/]")


def _names(names: list[str]) -> str:
    shown = ", ".join(render.escape(n) for n in names[:5])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 5 else "")


def _fields(fields: dict[str, int]) -> str:
    return ", ".join(f"{render.escape(k)} ({n})" for k, n in fields.items())


def _category_details(console: Console, item: Json) -> None:
    """Per category: which models changed and which fields were kept or dropped."""
    name = item["category"]
    for label, key in (("added", "added_models"), ("updated", "updated_models")):
        if item.get(key):
            console.print(f"{name}: {label} {_names(item[key])}")
    if item.get("removed_models"):
        console.print(f"{name}: [red]removed[/] {_names(item['removed_models'])}")
    if item.get("kept_fields"):
        console.print(f"{name}: kept legacy-only fields {_fields(item['kept_fields'])}")
    if item.get("dropped_fields"):
        console.print(f"{name}: [yellow]dropped fields[/] {_fields(item['dropped_fields'])}")


@command(files_app, "export", remote=False)
def export(
    cli: Cli,
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Output directory (created if missing).")
    ],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="v2 files, legacy files, or both.")
    ] = ExportFormat.v2,
) -> None:
    """Write the catalog's reference files (atomically) into DIR."""
    with cli.out.progress(f"exporting {fmt.value}", total=len(Category)) as step:
        result = cli.backend.export(directory, fmt.value, step)
    cli.out.result(result, _exported, short="\n".join(result.get("files", [])))


def _exported(console: Console, result: Json) -> None:
    for path in result.get("files", []):
        console.print(render.escape(path))
    console.print(f"{len(result.get('files', []))} file(s) written to {result.get('directory')}")
