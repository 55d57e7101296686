"""``modelref catalog changes`` and ``modelref catalog version``: catalog versions and the feed.

These join the ``catalog`` group (main.py imports this module for its commands).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelref.cli import render
from modelref.cli.backend import Json
from modelref.cli.catalog_cmd import app
from modelref.cli.common import Cli, command


@command(app, "changes")
def changes(
    cli: Cli,
    since: Annotated[int, typer.Option("--since", min=0, help="Catalog version you have.")] = 0,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=1000, help="Changes per page (whole versions).")
    ] = 100,
    follow: Annotated[
        bool, typer.Option("--all", help="Follow 'next' until up to date (one JSON page each).")
    ] = False,
) -> None:
    """The applied changes after catalog version N (the feed a worker catches up with)."""
    from modelref.cli.publication import publication

    feed = publication(cli)
    page = feed.catalog_changes(since, limit)
    pages = [page]
    while follow and page.get("next") is not None:
        page = feed.catalog_changes(int(page["next"]), limit)
        pages.append(page)
    result = (
        pages[0]
        if not follow
        else {
            **pages[-1],
            "since": since,
            "pages": len(pages),
            "changes": [c for p in pages for c in p["changes"]],
        }
    )
    short = "\n".join(
        f"{c['version']} {c['operation']} {c['category']} {c['model'] or '*'}"
        for c in result["changes"]
    )
    cli.out.result(result, _changes, short=short)


def _changes(console: Console, page: Json) -> None:
    table = Table(header_style="bold")
    for col in ("version", "operation", "category", "model"):
        table.add_column(col)
    for change in page["changes"]:
        model = change["model"]
        if change["operation"] == "import":
            model = f"* ({len(change['after'] or {})} records)"
        table.add_row(
            str(change["version"]),
            change["operation"],
            change["category"],
            render.escape(str(model)),
        )
    console.print(table)
    nxt = page.get("next")
    tail = f"more after version {nxt}: --since {nxt}" if nxt is not None else "up to date"
    console.print(f"at version {page['version']} of {page['latest']}; {tail}")


@command(app, "version")
def version(
    cli: Cli,
    number: Annotated[
        int | None, typer.Argument(min=1, help="Catalog version (default: the latest).")
    ] = None,
) -> None:
    """A catalog version's manifest: what produced it, category hashes, the audit head."""
    from modelref.cli.publication import publication

    manifest = publication(cli).catalog_version(number)
    cli.out.result(manifest, _manifest, short=str(manifest["version"]))


def _manifest(console: Console, m: Json) -> None:
    console.print(
        f"[bold]catalog version {m['version']}[/] ({m['source']}): "
        f"{render.escape(m['title'] or '')}"
    )
    if m.get("change_ids"):
        console.print(f"changes: {', '.join(map(str, m['change_ids']))}")
    if m.get("approvers"):
        console.print("approved by: " + ", ".join(a["username"] for a in m["approvers"]))
    if m.get("applied_by"):
        console.print(f"by: {m['applied_by']['username']}")
    console.print(f"audit head: event {m['audit_head']['event_id']} {m['audit_head']['hash']}")
    table = Table(header_style="bold")
    table.add_column("category")
    table.add_column("sha256 of the v2 file")
    for category, info in m["categories"].items():
        mark = " *" if category in m["changed_categories"] else ""
        table.add_row(category + mark, info["sha256"])
    console.print(table)
