"""Human output of queue results: tables, change details, coloured diffs.

Renderers take the API's JSON shapes (the same in local and remote mode) and a rich console.
"""

from __future__ import annotations

import json
import time
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from modelref.domain.diff import is_critical

Json = dict[str, Any]

__all__ = ["age", "compact", "escape", "status"]

STATUS_STYLE = {
    "pending": "yellow",
    "approved": "cyan",
    "applying": "magenta",
    "applied": "green",
    "rejected": "red",
}
_KIND = {"added": ("+", "green"), "removed": ("-", "red"), "modified": ("~", "yellow")}


def age(ts: int | None, now: float | None = None) -> str:
    """``ts`` (Unix seconds) as a short age: 45s, 12m, 3h, 5d."""
    if not ts:
        return "-"
    seconds = max(0, int((now or time.time()) - ts))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def compact(value: Any, width: int = 60) -> str:
    """A JSON value on one line, shortened to ``width`` characters."""
    text = value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 1] + "…"


def status(value: str) -> str:
    return f"[{STATUS_STYLE.get(value, 'white')}]{value}[/]"


def changes_table(console: Console, page: Json, marks: dict[int, str] | None = None) -> None:
    """``queue list``: one row per change, with stale/conflict marks."""
    marks = marks or {}
    table = Table(title=None, show_lines=False, header_style="bold")
    for col in ("id", "status", "category", "model", "op", "requester", "age", "batch", "marks"):
        table.add_column(col, overflow="fold", justify="right" if col == "id" else "left")
    for item in page.get("items", []):
        cid = int(item["change_id"])
        table.add_row(
            str(cid),
            status(item["status"]),
            item["category"],
            escape(item["model_name"]),
            item["operation"],
            escape(item.get("requested_username") or item["requested_by"]),
            age(item.get("requested_at")),
            str(item["batch_id"]) if item.get("batch_id") is not None else "-",
            " ".join(m for m in (marks.get(cid, ""), _approvals(item)) if m),
        )
    console.print(table)
    shown = len(page.get("items", []))
    offset = int(page.get("offset") or 0)
    total = int(page.get("total") or 0)
    if shown:
        console.print(f"{offset + 1}-{offset + shown} of {total} changes")
    else:
        console.print(f"no changes (of {total} matching)")


def change_detail(console: Console, rec: Json) -> None:
    """``queue show``: every set field of one change (payload summarised)."""
    console.print(
        f"[bold]Change #{rec['change_id']}[/] {rec['operation']} "
        f"{rec['category']}/{escape(rec['model_name'])}  {status(rec['status'])}"
    )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in rec.items():
        if key in ("change_id", "operation", "category", "model_name", "status"):
            continue
        if value is None:
            continue
        if key == "payload":
            value = f"{len(value)} fields (see `modelref queue diff {rec['change_id']}`)"
        elif key.endswith("_at") and isinstance(value, int):
            value = f"{_utc(value)} ({age(value)} ago)"
        table.add_row(key, escape(compact(value, 200)))
    console.print(table)


def _utc(ts: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(ts))


def diff_view(console: Console, diff: Json) -> None:
    """``queue diff``: the field-level diff, critical fields highlighted, warnings first."""
    cid = diff["change_id"]
    category = diff["category"]
    head = (
        f"[bold]Change #{cid}[/] {diff['operation']} {category}/{escape(diff['model_name'])}"
        f" -> {diff['net_operation']}"
    )
    if diff.get("is_critical"):
        head += "  [bold red]CRITICAL[/]"
    console.print(head)
    if diff.get("is_stale"):
        console.print(
            f"[bold yellow]! stale:[/] the live record changed since change {cid} was proposed;"
            " applying it needs --force (or re-propose it)"
        )
    conflicts = diff.get("conflicts") or []
    if conflicts:
        others = ", ".join(f"#{c}" for c in conflicts)
        console.print(f"[bold yellow]! conflict:[/] other open changes on this model: {others}")
    items = diff.get("field_diffs") or []
    if not items:
        console.print("[dim]no field changes[/]")
        return
    table = Table(header_style="bold", show_lines=False)
    table.add_column("", width=2)
    table.add_column("field", overflow="fold")
    table.add_column("old", overflow="fold")
    table.add_column("new", overflow="fold")
    for item in items:
        sign, colour = _KIND.get(item["change_type"], ("?", "white"))
        path = item["field_path"]
        critical = is_critical(category, [path])
        field = f"[bold red]{escape(path)} (critical)[/]" if critical else escape(path)
        old = "" if item["change_type"] == "added" else escape(compact(item["old_value"]))
        new = "" if item["change_type"] == "removed" else escape(compact(item["new_value"]))
        table.add_row(
            f"[{colour}]{sign}[/]", field, f"[red]{old}[/]" if old else "", f"[green]{new}[/]"
        )
    console.print(table)


def diff_page(console: Console, page: Json) -> None:
    for index, item in enumerate(page.get("diffs", [])):
        if index:
            console.print()
        diff_view(console, item)
    for err in page.get("errors", []):
        console.print(f"[red]change {err.get('change_id')}: {escape(str(err.get('error')))}[/]")


def _approvals(item: Json) -> str:
    """``2/2 approvals`` for a change approved under a quorum policy (fresh ones only)."""
    needed = item.get("approvals_required")
    if not needed or item.get("status") not in ("pending", "approved"):
        return ""
    fresh = {a["approved_by"] for a in item.get("approvals") or [] if not a.get("stale")}
    fresh.discard(item.get("requested_by"))
    return f"{len(fresh)}/{needed} approvals"


def batch_result(console: Console, result: Json) -> None:
    """``queue approve`` / ``queue reject``."""
    title = escape(result.get("batch_title") or "")
    approved = [r["change_id"] for r in result.get("approved", [])]
    rejected = [r["change_id"] for r in result.get("rejected", [])]
    if approved:
        ids = ", ".join(f"#{c}" for c in approved)
        console.print(f"[cyan]approved[/] {ids} in batch {result.get('batch_id')} ({title!r})")
    for rec in result.get("approvals_recorded") or []:
        console.print(
            f"[yellow]approval recorded[/] for #{rec['change_id']} "
            f"({_approvals(rec)}; status {rec['status']})"
        )
    if rejected:
        console.print(f"[red]rejected[/] {', '.join(f'#{c}' for c in rejected)}")


def apply_result(console: Console, result: Json) -> None:
    """``queue apply``: what became live, and the batch split if one happened."""
    applied = result.get("applied", [])
    for rec in applied:
        console.print(
            f"[green]applied[/] #{rec['change_id']} {rec['operation']} "
            f"{rec['category']}/{escape(rec['model_name'])}"
        )
    if not applied:
        console.print("nothing to apply (already applied)")
    if result.get("batch_split_occurred"):
        console.print(
            f"batch {result.get('batch_split_original_batch_id')} split: "
            f"{result.get('batch_split_reassigned_count')} approved change(s) moved to batch "
            f"{result.get('batch_split_new_batch_id')}"
        )


def purge_result(console: Console, result: Json) -> None:
    ids = ", ".join(f"#{c}" for c in result.get("removed_change_ids", [])) or "none"
    verb = "would remove" if result.get("dry_run") else "removed"
    console.print(f"{verb} {result.get('removed_count', 0)} change(s): {ids}")


def record_summary(console: Console, category: str, records: Json) -> None:
    """``catalog list``: one row per model."""
    table = Table(header_style="bold")
    for col in ("name", "baseline", "nsfw", "downloads", "description"):
        table.add_column(col, overflow="fold")
    for name, rec in records.items():
        downloads = ((rec.get("config") or {}).get("download")) or []
        table.add_row(
            escape(name),
            escape(str(rec.get("baseline") or "-")),
            {True: "[red]yes[/]", False: "no"}.get(rec.get("nsfw"), "-"),
            str(len(downloads)),
            escape(compact(rec.get("description") or "", 50)),
        )
    console.print(table)
    console.print(f"{len(records)} model(s) in {category}")
