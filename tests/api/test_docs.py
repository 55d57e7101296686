"""The documentation pages and their assets come from this server (no CDN, no web fonts)."""

from __future__ import annotations

import re

from tests.api.conftest import Api

EXTERNAL = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_docs_pages_name_only_local_assets(api: Api) -> None:
    for path in ("/docs", "/redoc"):
        page = api.client.get(path)
        assert page.status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert not EXTERNAL.search(page.text), page.text
        assets = re.findall(r"""(?:src|href)=["'](/docs-assets/[^"']+)""", page.text)
        assert assets
        for asset in assets:
            assert api.client.get(asset).status_code == 200, asset


def test_redoc_bundle_loads_no_cdn_logo(api: Api) -> None:
    bundle = api.client.get("/docs-assets/redoc.standalone.js")
    assert bundle.status_code == 200 and len(bundle.content) > 100_000
    assert b"cdn.redoc.ly" not in bundle.content
    assert b"/docs-assets/favicon.png" in bundle.content
