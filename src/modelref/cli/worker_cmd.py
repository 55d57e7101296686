"""``modelref worker``: outbox workers in a process of their own (beside or instead of serve)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer


def worker(
    threads: int = typer.Option(1, min=1, help="Worker threads in this process."),
    once: bool = typer.Option(False, "--once", help="Run the due jobs, then exit."),
) -> None:
    """Run review checks, publication and webhook deliveries from the outbox until stopped."""
    from modelref import logs
    from modelref.service.container import Services
    from modelref.settings import Settings

    settings = Settings()
    logs.configure(settings.log_json)
    services = Services.open(settings.model_copy(update={"outbox_workers": threads}))
    if services.git is not None:
        services.git.catch_up()  # versions the work tree lacks (git publication turned on late)
    if once:
        ran = 0
        while services.workers.workers[0].run_once():
            ran += 1
        typer.echo(f"ran {ran} jobs")
        return
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    services.workers.start()
    kinds = ", ".join(sorted(services.handlers)) or "none"
    typer.echo(f"outbox workers running ({threads} threads; job kinds: {kinds})", err=True)
    stop.wait()
    services.workers.stop()
