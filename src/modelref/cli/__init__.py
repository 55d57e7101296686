"""The ``modelref`` command line (Typer + rich)."""
