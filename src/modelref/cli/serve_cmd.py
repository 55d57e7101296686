"""``modelref serve``: the API and reviewer UI on uvicorn."""

from __future__ import annotations

import typer


def serve(
    host: str = typer.Option("127.0.0.1", metavar="HOST", help="Interface to bind."),
    port: int = typer.Option(8000, help="TCP port."),
    workers: int = typer.Option(1, min=1, help="Worker processes."),
    seed_from_github: bool = typer.Option(
        False,
        "--seed-from-github",
        help="On first start of an empty database, import the public reference "
        "(as `modelref import --from-github`).",
    ),
    ref: str = typer.Option("main", "--ref", metavar="REF", help="Ref for --seed-from-github."),
) -> None:
    """Run the HTTP API and the reviewer UI (migrates and recovers at start-up)."""
    from modelref.api.server import run

    run(host=host, port=port, workers=workers, seed_ref=ref if seed_from_github else None)
