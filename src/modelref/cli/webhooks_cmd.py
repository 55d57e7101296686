"""``modelref webhooks``: subscriptions, the dead-letter list and replays (approvers)."""

from __future__ import annotations

import enum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from modelref.cli import render
from modelref.cli.backend import Json
from modelref.cli.common import Cli, command

app = typer.Typer(help="Webhook subscriptions and failed deliveries.", no_args_is_help=True)


class WebhookFormat(enum.StrEnum):
    json = "json"
    discord = "discord"


@command(app, "add")
def add(
    cli: Cli,
    url: Annotated[str, typer.Argument(help="http(s) URL receiving the events.")],
    events: Annotated[
        str,
        typer.Option("--events", help="Comma-separated: enqueue,approve,reject,withdraw,apply."),
    ] = "enqueue,approve,apply",
    fmt: Annotated[
        WebhookFormat, typer.Option("--format", help="json (signed) or discord (an embed).")
    ] = WebhookFormat.json,
    secret: Annotated[
        str | None,
        typer.Option("--secret", help="Signing secret (generated and shown once if omitted)."),
    ] = None,
) -> None:
    """Subscribe a URL to queue events; every delivery is signed with HMAC-SHA256."""
    from modelref.cli.publication import publication

    names = [e.strip() for e in events.split(",") if e.strip()]
    result = publication(cli).webhooks_add(url, names, fmt.value, secret)
    cli.out.result(result, _added, short=str(result["subscription_id"]))


def _added(console: Console, sub: Json) -> None:
    console.print(
        f"webhook {sub['subscription_id']}: {render.escape(sub['url'])} "
        f"({sub['format']}; {', '.join(sub['events'])})"
    )
    if sub.get("secret"):
        console.print(f"signing secret: [bold]{sub['secret']}[/]")
        console.print("[yellow]store it now: it is not shown again[/]")


@command(app, "list")
def list_webhooks(cli: Cli) -> None:
    """Every subscription (secrets are never shown)."""
    from modelref.cli.publication import publication

    subs = publication(cli).webhooks_list()
    cli.out.result(subs, _table, short="\n".join(str(s["subscription_id"]) for s in subs))


def _table(console: Console, subs: list[Json]) -> None:
    table = Table(header_style="bold")
    for col in ("id", "url", "format", "events", "created by"):
        table.add_column(col)
    for s in subs:
        table.add_row(
            str(s["subscription_id"]),
            render.escape(s["url"]),
            s["format"],
            ",".join(s["events"]),
            render.escape(s["created_username"]),
        )
    console.print(table)


@command(app, "remove")
def remove(
    cli: Cli, subscription_id: Annotated[int, typer.Argument(min=1, help="Subscription id.")]
) -> None:
    """Remove a subscription; its waiting deliveries are skipped."""
    from modelref.cli.publication import publication

    result = publication(cli).webhooks_remove(subscription_id)
    cli.out.result(
        result,
        lambda c, r: c.print(f"webhook {r['subscription_id']} removed"),
        short=str(subscription_id),
    )


@command(app, "failures")
def failures(
    cli: Cli,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this.")] = 100,
) -> None:
    """Deliveries that failed every attempt (the dead-letter list)."""
    from modelref.cli.publication import publication

    dead = publication(cli).webhooks_failures(limit)
    cli.out.result(dead, _failures, short="\n".join(str(d["job_id"]) for d in dead))


def _failures(console: Console, dead: list[Json]) -> None:
    if not dead:
        console.print("no failed deliveries")
        return
    table = Table(header_style="bold")
    for col in ("id", "webhook", "event", "change", "attempts", "last error"):
        table.add_column(col)
    for d in dead:
        table.add_row(
            str(d["job_id"]),
            str(d["subscription_id"]),
            str(d["event"]),
            str(d["change_id"]),
            str(d["attempts"]),
            render.escape(render.compact(d["last_error"] or "", 80)),
        )
    console.print(table)


@command(app, "replay")
def replay(
    cli: Cli, job_id: Annotated[int, typer.Argument(min=1, help="Id from 'webhooks failures'.")]
) -> None:
    """Try a failed delivery again with a fresh attempt budget."""
    from modelref.cli.publication import publication

    result = publication(cli).webhooks_replay(job_id)
    cli.out.result(
        result, lambda c, r: c.print(f"delivery {r['job_id']} queued again"), short=str(job_id)
    )
