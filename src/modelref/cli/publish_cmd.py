"""``modelref publish status``: the git publication of the catalog (local mode only)."""

from __future__ import annotations

import typer
from rich.console import Console

from modelref.cli.backend import Json
from modelref.cli.common import Cli, command

app = typer.Typer(help="Git publication of the catalog.", no_args_is_help=True)


@command(app, "status")
def status(cli: Cli) -> None:
    """Last published catalog version, how far behind it is, unpushed commits, dead jobs."""
    from modelref.cli.publication import publication

    result = publication(cli).publish_status()
    short = str(result.get("published_version", "off"))
    cli.out.result(result, _status, short=short)


def _status(console: Console, s: Json) -> None:
    if not s.get("configured"):
        console.print(f"{s['detail']} (catalog is at version {s['latest_version']})")
        return
    state = "[green]up to date[/]" if s["behind"] == 0 else f"[yellow]{s['behind']} behind[/]"
    console.print(f"work tree: {s['directory']} (branch {s['branch']}, head {s['head'] or '-'})")
    console.print(f"published version {s['published_version']} of {s['latest_version']}: {state}")
    if s.get("remote"):
        unpushed = s["unpushed_commits"]
        note = "all pushed" if unpushed == 0 else f"[yellow]{unpushed} commit(s) not pushed[/]"
        console.print(f"remote: {s['remote']}: {note}")
    else:
        console.print("remote: none (set MODELREF_GIT_PUSH_REMOTE to push)")
    console.print(f"publication jobs waiting: {s['waiting_jobs']}")
    if s["behind"] and not s["waiting_jobs"]:
        console.print("[yellow]nothing queued: 'modelref worker' or 'modelref serve' catches up[/]")
    for job in s.get("dead_jobs", []):
        console.print(
            f"[red]dead job {job['job_id']}[/] (version {job['version']}): {job['error']}"
        )
