"""The reviewer web UI: server-rendered pages under ``/ui`` over the same services as the API.

``mount(app, services)`` adds the routes and the static files (CSS, vendored htmx) to an
existing FastAPI application; ``modelref serve`` calls it from ``create_app``.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from modelref.service.container import Services
from modelref.web import (
    governance,
    routes_auth,
    routes_batches,
    routes_catalog,
    routes_checks,
    routes_queue,
)
from modelref.web.context import WebContext, build_env
from modelref.web.session import SessionSigner, load_secret

STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI, services: Services) -> None:
    """Add the ``/ui`` pages and ``/ui/static`` files to ``app``."""
    app.state.modelref_web = WebContext(
        services=services,
        signer=SessionSigner(
            load_secret(services.settings),
            recheck=services.keys.identify_hash if services.settings.auth == "local" else None,
        ),
        env=build_env(),
    )
    app.mount("/ui/static", StaticFiles(directory=STATIC), name="ui-static")
    for module in (
        routes_auth,
        routes_queue,
        routes_batches,
        routes_catalog,
        routes_checks,
        governance,
    ):
        app.include_router(module.router, include_in_schema=False)
    app.include_router(routes_auth.fallback, include_in_schema=False)


__all__ = ["mount"]
