"""``/docs`` and ``/redoc`` render offline: every request the pages make goes to the server
itself, and no loaded resource names another host (trap 4). Headless Chromium, real server."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.web.conftest import Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RESOURCES = "script[src], link[href], img[src], iframe[src], source[src], object[data]"


def _host(url: str) -> str:
    """The host a URL loads from (``blob:``/``data:`` URLs are this page's own)."""
    if url.startswith("data:"):
        return "data"
    return urlsplit(url.removeprefix("blob:")).netloc


def _external(urls: list[str], own: str) -> list[str]:
    return [
        u
        for u in urls
        if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own
    ]


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".opblock"), ("/redoc", "[data-section-id]")]
)
def test_docs_page_uses_no_other_host(server: Server, browser: Any, path: str, ready: str) -> None:
    own = urlsplit(server.base_url).netloc
    context = browser.new_context()
    page = context.new_page()
    requested: list[str] = []
    failed: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: failed.append(request.url))
    try:
        response = page.goto(server.base_url + path)
        assert response is not None and response.status == 200
        page.wait_for_selector(ready, timeout=30_000)
        page.wait_for_load_state("networkidle")
        loaded = page.eval_on_selector_all(
            RESOURCES,
            "els => els.map(e => e.src || e.href || e.data || '')",
        )
        styles = page.evaluate(
            "() => [...document.styleSheets].flatMap(s => { try { return [...s.cssRules]"
            ".map(r => r.cssText) } catch (e) { return [] } })"
        )
    finally:
        context.close()
    assert requested and [u for u in requested if _host(u) not in (own, "data")] == []
    assert failed == []
    assert _external([str(u) for u in loaded], own) == []
    assert not [s for s in styles if "url(http" in s and own not in s]
    assert any(u.endswith("/openapi.json") for u in requested)
