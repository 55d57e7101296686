"""``modelref serve``: settings -> services (migrate + crash recovery) -> uvicorn.

One worker serves the app built here; with ``--workers N`` uvicorn's factory mode makes every
worker process build its own :class:`Services` (its own connection pool and read cache) after
the parent has migrated and recovered once.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
from typing import Any

import uvicorn

from modelref.api.app import create_app
from modelref.api.fastpath import FastPath
from modelref.service.auth import Role
from modelref.service.container import Services
from modelref.settings import Settings

log = logging.getLogger("modelref.server")

#: Identity of the key created on first start of a local-auth deployment with no keys.
BOOTSTRAP_USER = ("1", "admin#1")


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(as_json: bool) -> None:
    """One line per event on stderr; JSON lines with ``MODELREF_LOG_JSON=1``."""
    handler = logging.StreamHandler(sys.stderr)
    if as_json:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


def bootstrap_key(services: Services) -> str | None:
    """First start in local auth mode with an empty key table: create one approver key."""
    if services.settings.auth != "local":
        return None
    return services.keys.create_if_empty(BOOTSTRAP_USER[0], BOOTSTRAP_USER[1], Role.approver)


def worker_app() -> FastPath:
    """uvicorn factory for ``--workers N``: each worker opens its own services."""
    settings = Settings()
    configure_logging(settings.log_json)
    app = create_app(Services.open(settings, recover=False))
    gc.freeze()
    return app


def run(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    settings = Settings()
    configure_logging(settings.log_json)
    services = Services.open(settings, recover=True)
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
        gc.freeze()  # the app's long-lived objects: out of every future full collection
        uvicorn.run(app, **options)
        return
    services.db.dispose()
    uvicorn.run("modelref.api.server:worker_app", factory=True, workers=workers, **options)
