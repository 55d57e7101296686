"""Human output of review checks: the findings table and the marks of ``queue list``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

Json = dict[str, Any]

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
STATE_STYLE = {"pending": "cyan", "running": "cyan", "done": "green", "unchecked": "yellow"}


def mark(summary: Json | None) -> str:
    """The ``queue list`` mark of a diff's ``checks`` summary ("" when there is none)."""
    if not summary:
        return ""
    state = summary.get("state")
    errors, warnings = int(summary.get("errors") or 0), int(summary.get("warnings") or 0)
    parts = []
    if state in ("pending", "running"):
        parts.append("[cyan]checking[/]")
    elif state == "unchecked":
        parts.append("[yellow]unchecked[/]")
    if errors:
        parts.append(f"[red]{errors} error{'s' if errors != 1 else ''}[/]")
    if warnings:
        parts.append(f"[yellow]{warnings} warning{'s' if warnings != 1 else ''}[/]")
    if state == "done" and not errors and not warnings:
        parts.append("[green]checked[/]")
    return " ".join(parts)


def checks_view(console: Console, checks: Json) -> None:
    """``queue checks ID``: state, progress while running, one row per finding."""
    state = str(checks.get("state"))
    style = STATE_STYLE.get(state, "white")
    head = f"[bold]Checks of change #{checks.get('change_id')}[/]: [{style}]{state}[/]"
    if checks.get("attempts"):
        head += f" (attempt {checks['attempts']})"
    console.print(head)
    if state == "unchecked":
        console.print("[yellow]not verified: some files could not be reached (not a pass)[/]")
    progress = checks.get("progress")
    if progress:
        done, total = int(progress.get("bytes_done") or 0), progress.get("bytes_total")
        of = f" of {int(total):,}" if total else ""
        console.print(f"checking {escape(str(progress.get('field') or ''))}: {done:,}{of} bytes")
    findings = checks.get("findings") or []
    if not findings:
        console.print("[dim]no findings[/]")
        return
    table = Table(header_style="bold")
    for col in ("severity", "check", "field", "finding"):
        table.add_column(col, overflow="fold")
    for f in findings:
        sev = str(f.get("severity"))
        table.add_row(
            f"[{SEVERITY_STYLE.get(sev, 'white')}]{sev}[/]",
            escape(str(f.get("check"))),
            escape(str(f.get("field"))),
            escape(str(f.get("message"))),
        )
    console.print(table)
