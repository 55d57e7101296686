"""``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) from assets installed with the package.

The JavaScript and CSS come from the ``fastapi-offline`` distribution (a maintained package
that ships the swagger-ui and redoc bundles), served under ``/docs-assets``; nothing is loaded
from a CDN, no web font is linked, and Swagger UI's online validator badge is off, so both pages
work without network access. ReDoc's bundle hard-codes its vendor's sidebar logo on a CDN;
that one URL is pointed at the packaged favicon when the bundle is served. Both pages also
send a Content-Security-Policy that allows only this origin, as a guard.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
#: Only this origin; inline script/style for the two bootstrapping pages; blob: workers (ReDoc).
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'self'"
)


def _offline(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = CSP
    return page


def assets_dir() -> Path:
    """Folder holding ``swagger-ui-bundle.js``, ``swagger-ui.css``, ``redoc.standalone.js``."""
    return Path(str(files("fastapi_offline") / "static"))


#: The one external URL in ReDoc's bundle (its sidebar logo).
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def redoc_bundle() -> bytes:
    """ReDoc's bundle with its CDN logo replaced by the packaged favicon."""
    data = (assets_dir() / "redoc.standalone.js").read_bytes()
    return data.replace(REDOC_LOGO, f"{ASSETS}/favicon.png".encode())


def install(api: FastAPI) -> None:
    """Mount the assets and add both documentation pages (not in the OpenAPI schema)."""
    openapi_url = api.openapi_url or "/openapi.json"
    favicon = f"{ASSETS}/favicon.png"

    @api.get(f"{ASSETS}/redoc.standalone.js", include_in_schema=False)
    def redoc_js() -> Response:
        headers = {"Cache-Control": "public, max-age=86400"}
        return Response(redoc_bundle(), media_type="text/javascript", headers=headers)

    api.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _offline(
            get_swagger_ui_html(
                openapi_url=openapi_url,
                title=f"{api.title} - API",
                swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{ASSETS}/swagger-ui.css",
                swagger_favicon_url=favicon,
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @api.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _offline(
            get_redoc_html(
                openapi_url=openapi_url,
                title=f"{api.title} - ReDoc",
                redoc_js_url=f"{ASSETS}/redoc.standalone.js",
                redoc_favicon_url=favicon,
                with_google_fonts=False,
            )
        )
