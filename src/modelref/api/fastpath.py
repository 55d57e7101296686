"""A pure ASGI layer in front of FastAPI: cached catalog reads and the request-body limit.

Bodies are read here with a size limit and a deadline. A large API body (over
:data:`PREAUTH_BYTES`) is read only for a caller whose key exists: parsing two megabytes of
JSON holds the event loop for up to ~100 ms, so a stranger must not get to make it. Smaller
bodies keep upstream's order (a malformed request with a wrong key answers 422, not 401).

Hot reads (``GET``/``HEAD`` of a category or a single model, v2 and v1) are answered here from
:class:`~modelref.service.read_cache.ReadCache` without entering the framework: a few string
operations, two dict lookups and two ``send`` calls per request. Everything else, and every
case this layer does not recognise, goes to FastAPI unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from modelref.api.cached import answer, json_error
from modelref.domain.categories import Category
from modelref.domain.errors import ModelrefError
from modelref.http_status import status_of
from modelref.service.read_cache import Entry, ReadCache, Rendered

log = logging.getLogger("modelref.api")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX = "/api/model_references/"
_CATEGORIES = {c.value: c for c in Category}
#: v1 names that are not category values (spec §9); a trailing ``.json`` is stripped first.
V1_ALIASES = {"stable_diffusion": Category.image_generation, "db": Category.text_generation}
#: v1 categories managed elsewhere: always ``{}``.
V1_EMPTY = frozenset({Category.lora, Category.ti})
_EMPTY_OBJECT = Rendered.of(b"{}", 0)
#: Sent with cached reads while the database cannot be asked whether they are current.
STALE_HEADER = (b"x-modelref-stale", b"database unavailable; serving the last good catalog")
#: Route templates of the answers given here (metrics labels, see api/access.py).
_ROUTES = {"v2": PREFIX + "v2/{category}", "v1": PREFIX + "v1/{category}"}
_MODEL_ROUTE = PREFIX + "v2/{category}/model/{model_name}"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: API bodies larger than this need a known ``apikey`` before they are read further; 64 KiB of
#: the slowest JSON to parse (floats) costs about 3 ms, and a 10,000-id list fits.
PREAUTH_BYTES = 64 * 1024
#: A high-surrogate escape (\\uD800-\\uDBFF) not followed by a low one, or a lone low one.
#: Only a real escape counts: the backslash before ``u`` must not itself be escaped, so the run
#: of backslashes in front of it has even length (``"\\\\ud800"`` is a backslash and text).
LONE_SURROGATE = re.compile(
    rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    rb"|(?<!\\)(?:\\\\)*(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def v1_category(segment: str) -> Category | None:
    """``stable_diffusion`` -> image_generation, ``db.json`` -> text_generation, ``x.json`` -> x."""
    name = segment.removesuffix(".json")
    return V1_ALIASES.get(name) or _CATEGORIES.get(name)


def accepts_gzip(value: bytes) -> bool:
    """True unless the client refuses gzip (``gzip;q=0``) or does not name it (or ``*``)."""
    for part in value.split(b","):
        token, _, params = part.strip().partition(b";")
        if token.strip() in (b"gzip", b"*"):
            q = params.strip()
            if not q.startswith(b"q="):
                return True
            try:
                return float(q[2:]) > 0.0
            except ValueError:
                return False
    return False


def _parse(path: str) -> tuple[str, Category, str | None] | None:
    """Recognise ``v2/{category}``, ``v2/{category}/model/{name}`` and ``v1/{category}``."""
    version, _, tail = path[len(PREFIX) :].partition("/")
    if version == "v2":
        head, sep, name = tail.partition("/model/")
        category = _CATEGORIES.get(head)
        if category is None or (sep and not name):
            return None
        return "v2", category, name if sep else None
    if version == "v1" and "/" not in tail:
        category = v1_category(tail)
        return ("v1", category, None) if category is not None else None
    return None


class FastPath:
    """Wraps the FastAPI app; see the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        cache: ReadCache,
        max_body_bytes: int,
        api: Any = None,
        body_timeout: float = 10.0,
        identify: Callable[[str | None], object] | None = None,
    ) -> None:
        self.app = app
        #: The wrapped FastAPI application (for ``app.api.state`` and the OpenAPI document).
        self.api = api
        self.cache = cache
        self.max_body = max_body_bytes
        #: Seconds a client has to send its whole body (a stalled or dripping one gets 408).
        self.body_timeout = body_timeout
        #: Resolves an ``apikey`` (raising a domain error when it is unknown), run in a thread.
        self.identify = identify
        self._lock = asyncio.Lock()
        self._targets: dict[str, tuple[str, Category, str | None] | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "GET" or method == "HEAD":
                target = self._target(scope)
                if target is not None:
                    await self._serve(scope, send, *target)
                    return
            elif method in _BODY_METHODS:
                receive = await self._limit(scope, receive, send)  # type: ignore[assignment]
                if receive is None:
                    return
        await self.app(scope, receive, send)

    def handles(self, scope: Scope) -> bool:
        """True when this layer answers the request itself (a cacheable read).

        It then leaves ``modelref.route``, ``modelref.cache`` and ``modelref.status`` in the
        scope for the access log, which can skip wrapping ``send`` for these hot requests.
        """
        method = scope["method"]
        return (method == "GET" or method == "HEAD") and self._target(scope) is not None

    # ------------------------------------------------------------------ reads
    def _target(self, scope: Scope) -> tuple[str, Category, str | None] | None:
        """(kind, category, model name) of a cacheable read, memoised per path."""
        path: str = scope["path"]
        try:
            target = self._targets[path]
        except KeyError:
            target = self._targets[path] = _parse(path) if path.startswith(PREFIX) else None
            if len(self._targets) > 4096:
                self._targets.clear()
        if target is not None and target[0] == "v1":
            query: bytes = scope["query_string"]
            if query and b"include_group" in query and query != b"include_group=false":
                return None  # computed view: FastAPI's route builds it
        return target

    async def _serve(
        self, scope: Scope, send: Send, kind: str, category: Category, name: str | None
    ) -> None:
        scope["modelref.route"] = _ROUTES[kind] if name is None else _MODEL_ROUTE
        inm: bytes | None = None
        gz = False
        for key, value in scope["headers"]:
            if key == b"if-none-match":
                inm = value
            elif key == b"accept-encoding":
                gz = accepts_gzip(value)
        if kind == "v1" and category in V1_EMPTY:
            status, headers, body = _EMPTY_OBJECT.response(inm, gz)
        else:
            cache = self.cache
            entry = None if cache.due() else cache.lookup(kind, category.value)
            stale = cache.stale
            failure: ModelrefError | None = None
            scope["modelref.cache"] = "miss" if entry is None else "hit"
            if entry is None:
                try:
                    entry = await self._entry(kind, category)
                except ModelrefError as exc:  # the database is down: the last good bytes
                    entry, stale, failure = cache.last_good(kind, category.value), True, exc
            if entry is None and failure is not None:
                status, headers, body = json_error(503, failure.message, failure.code)
            else:
                status, headers, body = answer(entry, category, name, inm, gz)
                if stale and status < 400:
                    headers = [*headers, STALE_HEADER]
        scope["modelref.status"] = status
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body}
        )

    async def _entry(self, kind: str, category: Category) -> Entry | None:
        cache = self.cache
        if cache.due():  # no refresher thread in this process: check inline
            async with self._lock:
                if cache.due():
                    await anyio.to_thread.run_sync(cache.refresh)
        entry = cache.lookup(kind, category.value)
        if entry is not None:
            return entry
        if category.value not in cache.versions:
            return None
        async with self._lock:
            entry = cache.lookup(kind, category.value)
            if entry is None:
                entry = await anyio.to_thread.run_sync(cache.build, kind, category)
        return entry

    @staticmethod
    async def _send(
        scope: Scope, send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if scope["method"] == "HEAD":
            body = b""
        await send({"type": "http.response.body", "body": body})

    # ------------------------------------------------------------------ body limit
    async def _limit(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read the body here (413 over the limit, 422 for lone surrogates) and replay it."""
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit():
                    await self._send(
                        scope, send, *json_error(400, "Bad Content-Length", "bad_request")
                    )
                    return None
                if int(value) > self.max_body:
                    await self._too_large(scope, send)
                    return None
                if int(value) > PREAUTH_BYTES and not await self._caller_known(scope, send):
                    return None
        vetted = self.identify is None or not scope["path"].startswith("/api/")
        chunks: list[bytes] = []
        size = 0
        more = True
        deadline = asyncio.get_running_loop().time() + self.body_timeout
        while more:
            left = deadline - asyncio.get_running_loop().time()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.0))
            except TimeoutError:
                detail = f"Request body not received within {self.body_timeout:g} s"
                await self._send(scope, send, *json_error(408, detail, "request_timeout"))
                return None
            if message["type"] != "http.request":
                return receive
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, send)
                return None
            if size > PREAUTH_BYTES and not vetted:
                if not await self._caller_known(scope, send):
                    return None
                vetted = True
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"\\u" in body and LONE_SURROGATE.search(body):
            detail = "Request body: JSON strings must not contain unpaired surrogate escapes"
            await self._send(scope, send, *json_error(422, detail, "validation_failed"))
            return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay

    async def _caller_known(self, scope: Scope, send: Send) -> bool:
        """True when the request's ``apikey`` exists; otherwise answer 401 (or 503) and False.

        Runs once per large API body; the lookup is the service's own (a thread, as in the
        routes). A body route without a key check (none today) would be refused here too.
        """
        if self.identify is None or not scope["path"].startswith("/api/"):
            return True
        key = next((v for k, v in scope["headers"] if k == b"apikey"), None)
        try:
            await anyio.to_thread.run_sync(
                self.identify, key.decode("latin-1") if key is not None else None
            )
        except ModelrefError as exc:
            status, headers, body = json_error(status_of(exc), exc.message, exc.code)
            if status == 401:
                headers = [*headers, (b"www-authenticate", b"APIKey")]
            await self._send(scope, send, status, headers, body)
            return False
        return True

    async def _too_large(self, scope: Scope, send: Send) -> None:
        detail = f"Request body too large (limit {self.max_body} bytes)"
        await self._send(scope, send, *json_error(413, detail, "payload_too_large"))
