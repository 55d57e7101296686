"""``modelref serve``: settings -> services (migrate + crash recovery) -> uvicorn.

One worker serves the app built here; with ``--workers N`` uvicorn's factory mode makes every
worker process build its own :class:`Services` (its own connection pool and read cache) after
the parent has migrated and recovered once.
"""

from __future__ import annotations

import asyncio
import gc
import getpass
import logging
import threading
from typing import Any

import uvicorn

from modelref import logs
from modelref.api.access import AccessLog
from modelref.api.app import create_app
from modelref.domain.actors import Actor
from modelref.domain.errors import ModelrefError
from modelref.service import reference_fetch
from modelref.service.auth import Role
from modelref.service.container import Services
from modelref.settings import Settings

log = logging.getLogger("modelref.server")

#: Identity of the key created on first start of a local-auth deployment with no keys.
BOOTSTRAP_USER = ("1", "admin#1")


def configure_logging(as_json: bool) -> None:
    """One line per event on stderr; JSON lines with ``MODELREF_LOG_JSON=1``."""
    logs.configure(json_lines=as_json)


def bootstrap_key(services: Services) -> str | None:
    """First start in local auth mode with an empty key table: create one approver key."""
    if services.settings.auth != "local":
        return None
    return services.keys.create_if_empty(BOOTSTRAP_USER[0], BOOTSTRAP_USER[1], Role.approver)


def compile_routes(app: AccessLog) -> None:
    """Have FastAPI build every route now, not on the first request that reaches each router.

    FastAPI compiles an included router when a request first walks it: about 300 ms on a
    2-core machine for the reviewer UI, on the event loop, paid by whichever request comes
    first (before its key or session is looked at) while every other request waits. A request
    for a path that no route matches walks them all; it runs on a loop of its own in a thread,
    because uvicorn's factory mode calls us from inside its running loop.
    """
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/.modelref/compile-routes",
        "raw_path": b"/.modelref/compile-routes",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1")],
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
        "state": {},
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    thread = threading.Thread(target=lambda: asyncio.run(app.api(scope, receive, send)))
    thread.start()
    thread.join()


def worker_app() -> AccessLog:
    """uvicorn factory for ``--workers N``: each worker opens its own services."""
    settings = Settings()
    configure_logging(settings.log_json)
    app = create_app(Services.open(settings, recover=False))
    compile_routes(app)
    gc.freeze()
    return app


def seed(services: Services, ref: str) -> None:
    """``--seed-from-github``: load the public reference into an empty catalog, or say why not."""
    user = getpass.getuser()
    actor = Actor(f"local:{user}", user)
    try:
        done = reference_fetch.seed_if_empty(services.files, services.settings, actor, ref=ref)
    except ModelrefError as exc:
        log.error("seeding from the public reference failed, serving an empty catalog: %s", exc)
        return
    if done is None:
        log.info("catalog is not empty: not seeding from the public reference")
        return
    for item in done.files:
        log.info("fetched %s (%s bytes, sha256 %s)", item.url, item.bytes, item.sha256)


def run(
    host: str = "127.0.0.1", port: int = 8000, workers: int = 1, seed_ref: str | None = None
) -> None:
    settings = Settings()
    configure_logging(settings.log_json)
    services = Services.open(settings, recover=True)
    if seed_ref is not None:
        seed(services, seed_ref)
    key = bootstrap_key(services)
    if key is not None:
        print(
            f"Created the first approver key (user {BOOTSTRAP_USER[1]}); it is shown only once:\n"
            f"MODELREF_BOOTSTRAP_KEY={key}",
            flush=True,
        )
    log.info(
        "serving on http://%s:%s (workers=%s, auth=%s, canonical_format=%s)",
        host,
        port,
        workers,
        settings.auth,
        settings.canonical_format,
    )
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_config": None,
        "server_header": False,
        "lifespan": "on",  # starts the lease reaper and the outbox workers
        "proxy_headers": False,
        "timeout_graceful_shutdown": 5,
    }
    if workers <= 1:
        app = create_app(services)
        compile_routes(app)
        gc.freeze()  # the app's long-lived objects: out of every future full collection
        uvicorn.run(app, **options)
        return
    services.db.dispose()
    uvicorn.run("modelref.api.server:worker_app", factory=True, workers=workers, **options)
