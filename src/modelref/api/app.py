"""``create_app``: the FastAPI application behind the fast-read ASGI layer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from modelref import __version__, web
from modelref.api import (
    audit_views,
    docs,
    errors,
    feed,
    governance,
    metrics_route,
    probes,
    queue,
    reads,
    text_toolkit,
    v1,
    webhooks,
    writes,
)
from modelref.api import checks as review_checks
from modelref.api.access import AccessLog
from modelref.api.fastpath import FastPath
from modelref.service.background import Background
from modelref.service.container import Services

V2 = "/api/model_references/v2"
V1 = "/api/model_references/v1"

DESCRIPTION = """Review-gated change queue and catalog for the AI Horde model reference.

Wire-compatible with upstream horde-model-reference under `/api`. Writes never touch live data:
they enqueue a change (202) that approvers review and apply. Authenticate with the `apikey`
header. Category and model reads send a strong `ETag` and honour `If-None-Match` (304) and
`Accept-Encoding: gzip`.
"""


def create_fastapi(services: Services) -> FastAPI:
    """The framework app alone (the fast path wraps it in :func:`create_app`)."""
    background = Background(services)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        background.start()
        try:
            yield
        finally:
            background.stop()

    api = FastAPI(
        lifespan=lifespan,
        title="modelref",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served from packaged assets by api.docs
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    api.state.services = services
    api.state.read_cache = services.read_cache
    api.state.audit_views = services.audit.views(services.settings.canonical_format)
    errors.install(api)
    docs.install(api)
    api.state.queue_metrics = metrics_route.queue_registry(services.review)
    api.include_router(metrics_route.router)
    api.include_router(probes.router, prefix="/api")
    for prefix in (V2, V1):
        api.include_router(audit_views.router, prefix=prefix)
        api.include_router(queue.router, prefix=prefix)
        api.include_router(governance.router, prefix=prefix)
    api.include_router(probes.roles_router, prefix=V2)
    api.include_router(review_checks.router, prefix=V2)  # review checks (additive)
    api.include_router(text_toolkit.router, prefix=V2)  # before the generic write routes
    api.include_router(feed.router, prefix=V2)  # catalog versions: before /{category} reads
    api.include_router(webhooks.router, prefix=V2)
    api.include_router(writes.router, prefix=V2)
    api.include_router(reads.router, prefix=V2)
    api.include_router(v1.build_router(services.settings.canonical_format == "legacy"), prefix=V1)
    web.mount(api, services)  # the reviewer UI under /ui
    return api


def create_app(services: Services) -> AccessLog:
    """The ASGI application: access log and metrics, then cached reads and body limits, in
    front of FastAPI."""
    api = create_fastapi(services)
    fast = FastPath(
        api,
        api.state.read_cache,
        services.settings.max_body_bytes,
        api,
        body_timeout=services.settings.body_timeout,
        identify=services.auth.identify,
    )
    return AccessLog(fast, api, fast)
