"""Sign-in with an API key, sign-out, and the ``/ui`` entry point."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from modelref.domain.errors import AuthenticationFailed, ServiceUnavailable
from modelref.service.auth import hash_key
from modelref.web.context import Form, UIRoute, Viewer, Web, maybe_session, see_other
from modelref.web.session import PRESESSION_COOKIE, SESSION_COOKIE, SESSION_SECONDS, Session

router = APIRouter(route_class=UIRoute)

MaybeSession = Annotated[Session | None, Depends(maybe_session)]
PRESESSION_SECONDS = 3600


def safe_next(value: str | None) -> str:
    """Only same-site UI paths are followed after sign-in (no open redirect)."""
    if value and value.startswith("/ui/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/queue"


@router.get("/ui", include_in_schema=False)
@router.get("/ui/", include_in_schema=False)
def home(session: MaybeSession) -> Response:
    return see_other("/ui/queue" if session else "/ui/login")


def login_page(request: Request, ctx: Web, next_url: str, error: str = "") -> HTMLResponse:
    """The form, bound to a pre-session cookie so the sign-in POST is CSRF-checked too."""
    seed = request.cookies.get(PRESESSION_COOKIE) or secrets.token_urlsafe(18)
    data = {"csrf": ctx.signer.csrf_token(seed), "next_url": next_url, "error": error}
    response = ctx.render(request, "login.html", data)
    ctx.signer.set_cookie(request, response, PRESESSION_COOKIE, seed, PRESESSION_SECONDS)
    return response


@router.get("/ui/login", response_class=HTMLResponse)
def login_form(request: Request, ctx: Web, session: MaybeSession) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if session is not None:
        return see_other(next_url)
    return login_page(request, ctx, next_url)


@router.post("/ui/login", response_class=HTMLResponse)
def login(request: Request, ctx: Web, form: Form) -> Response:
    key = form.get("apikey")
    next_url = safe_next(str(form.get("next") or ""))
    plain = key.strip() if isinstance(key, str) else None
    try:
        identity = ctx.services.auth.identify(plain)
    except AuthenticationFailed:
        return login_page(request, ctx, next_url, "That API key is not valid.")
    except ServiceUnavailable as exc:
        return login_page(request, ctx, next_url, exc.message)
    token, _session = ctx.signer.issue(identity, key_hash=hash_key(plain) if plain else None)
    response = see_other(next_url)
    ctx.signer.set_cookie(request, response, SESSION_COOKIE, token, SESSION_SECONDS)
    ctx.signer.clear(request, response, PRESESSION_COOKIE)
    return response


@router.post("/ui/logout", response_class=HTMLResponse)
def logout(request: Request, ctx: Web, form: Form) -> Response:
    response = see_other("/ui/login?notice=signed-out")
    ctx.signer.clear(request, response, SESSION_COOKIE)
    return response


#: Included last: any other ``/ui`` address gets an HTML 404 (or the sign-in page).
fallback = APIRouter(route_class=UIRoute)


@fallback.get("/ui/{rest:path}", response_class=HTMLResponse)
def not_found(request: Request, ctx: Web, session: Viewer, rest: str) -> HTMLResponse:
    return ctx.error_page(request, 404, "There is no page at this address.", session)
