"""Where command output goes: JSON or rich text on stdout, messages and progress on stderr.

Colours follow rich's terminal detection: off when stdout/stderr is not a TTY (pipes, files,
tests) and whenever ``NO_COLOR`` is set.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

Renderer = Callable[[Console, Any], None]


def dumps(data: Any) -> str:
    """The ``--json`` form: indented, real Unicode, stable across local and remote mode."""
    return json.dumps(data, indent=2, ensure_ascii=False)


class Output:
    """One command's output channels, configured by ``--json`` and ``--quiet``."""

    def __init__(self, *, json_mode: bool = False, quiet: bool = False) -> None:
        self.json_mode = json_mode
        self.quiet = quiet
        self.console = _console(stderr=False)
        self.err = _console(stderr=True)

    def result(self, data: Any, render: Renderer, *, short: str | None = None) -> None:
        """Print a command's result: JSON, the ``short`` line when quiet, else ``render``."""
        if self.json_mode:
            sys.stdout.write(dumps(data) + "\n")
        elif self.quiet:
            if short:
                sys.stdout.write(short + "\n")
        else:
            render(self.console, data)

    def info(self, message: str) -> None:
        """A human note on stderr (hidden by ``--quiet`` and ``--json``)."""
        if not self.quiet and not self.json_mode:
            self.err.print(message)

    def note(self, message: str) -> None:
        """A ``--verbose`` note on stderr (kept in JSON mode: it is not stdout)."""
        if not self.quiet:
            self.err.print(f"[dim]{_escape(message)}[/]", markup=True)

    def warn(self, message: str) -> None:
        """A warning on stderr (hidden by ``--quiet``; kept in JSON mode, it is not stdout)."""
        if not self.quiet:
            self.err.print(f"[yellow]warning:[/] {message}", markup=True)

    def error(self, message: str, *, code: int, kind: str) -> None:
        """An error on stderr: a JSON object with ``--json``, else one readable line."""
        if self.json_mode:
            sys.stderr.write(dumps({"detail": message, "error_type": kind, "exit_code": code}))
            sys.stderr.write("\n")
        else:
            self.err.print(f"[bold red]error:[/] {_escape(message)}", markup=True)

    @contextmanager
    def progress(self, label: str, total: int | None = None) -> Iterator[Callable[[str], None]]:
        """A progress bar on stderr; yields ``step(name)`` to advance it by one item.

        Drawn only on a terminal and never with ``--json``/``--quiet``.
        """
        enabled = self.err.is_terminal and not self.quiet and not self.json_mode
        columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn()]
        if total is not None:
            columns.append(MofNCompleteColumn())
        with Progress(*columns, console=self.err, transient=True, disable=not enabled) as bar:
            task = bar.add_task(label, total=total)

            def step(name: str) -> None:
                bar.update(task, advance=1, description=f"{label}: {name}")

            yield step
            if total is not None:
                bar.update(task, completed=total)


def _console(*, stderr: bool) -> Console:
    """A console; off a terminal (pipes, files) lines are not wrapped at 80 columns."""
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 160
    return console


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
