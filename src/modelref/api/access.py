"""The outermost ASGI layer: one access-log line and the request metrics per HTTP request.

It wraps :class:`~modelref.api.fastpath.FastPath`, so cached reads are counted too; the fast
path marks its answers in the scope (route template, cache hit or miss) instead of paying for
metrics itself. Routes are labelled by their template (``/api/model_references/v2/{category}``),
never by the raw path, so label sets stay bounded; a path that matched nothing is ``unmatched``.

The line is the ``modelref.access`` logger's (:func:`modelref.logs.access`, batched after
``logs.configure``): ``GET /api/heartbeat 200 0.40ms user=1001`` in the plain format; method,
path, status, ms and user_id as keys in the JSON format.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.routing import Mount

from modelref import logs, metrics
from modelref.api.fastpath import ASGIApp, FastPath, Message, Receive, Scope, Send
from modelref.logs import UserSlot, request_user

#: Scope keys the fast path sets on the requests it answers.
ROUTE_KEY = "modelref.route"
CACHE_KEY = "modelref.cache"
STATUS_KEY = "modelref.status"
UNMATCHED = "unmatched"


def route_of(scope: Scope) -> str:
    """The full route template that answered (or ``unmatched``).

    The router leaves the matched route in ``scope["route"]``; an included router's route
    knows only its own part of the path (``/pending_queue/changes/{change_id}/apply``), so the
    prefix is the part of the request path in front of where that part matches.
    """
    marked = scope.get(ROUTE_KEY)
    if marked is not None:
        return str(marked)
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    if route is None:  # a mounted app (static files) answered: its mount path is the root path
        mounted = scope.get("root_path")
        return f"{mounted}/{{path}}" if mounted else UNMATCHED
    regex = getattr(route, "path_regex", None)
    template = getattr(route, "path_format", None)
    if regex is None or not isinstance(template, str):
        return UNMATCHED
    path: str = scope["path"]
    cut = 0
    while cut >= 0:
        if regex.match(path[cut:]):
            return path[:cut] + template
        cut = path.find("/", cut + 1)
    return UNMATCHED


class AccessLog:
    """See the module docstring; ``api`` is the FastAPI app (for ``app.api.state``)."""

    def __init__(self, app: ASGIApp, api: Any = None, fast: FastPath | None = None) -> None:
        self.app = app
        self.api = api
        #: The fast path inside ``app``: its answers need no ``send`` wrapper or user slot.
        self.fast = fast

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        if self.fast is not None and self.fast.handles(scope):
            try:
                await self.app(scope, receive, send)
            finally:
                status = scope.get(STATUS_KEY, 500)
                self._record(scope, status, time.perf_counter() - started, None)
            return
        status = 500
        slot = UserSlot()
        token = request_user.set(slot)

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            request_user.reset(token)
            self._record(scope, status, time.perf_counter() - started, slot.user_id)

    def _record(self, scope: Scope, status: int, seconds: float, user_id: str | None) -> None:
        method: str = scope["method"]
        stats = metrics.REQUESTS
        stats.observe(method, route_of(scope), status, seconds)
        cache = scope.get(CACHE_KEY)
        if cache is not None:
            stats.cache[cache] += 1
        logs.access(method, scope["path"], status, round(seconds * 1000, 2), user_id)
