"""What every UI route shares: the services, the session signer, templates and error pages.

Routes use :class:`UIRoute`, which turns domain errors into an HTML error page (never the API's
JSON), a missing session into a redirect to the sign-in page and a bad CSRF token into 403.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from modelref.domain import errors
from modelref.domain.queue_models import PendingChangeStatus, PendingQueueFilter
from modelref.http_status import status_of
from modelref.service.auth import Role
from modelref.service.container import Services
from modelref.web.session import Session, SessionSigner, csrf_seed, current

log = logging.getLogger("modelref.web")

TEMPLATES = Path(__file__).parent / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


#: Fixed messages shown after a redirect (``?notice=code``); unknown codes show nothing.
NOTICES = {
    "approved": "Approved into this batch. It goes live when the batch is applied.",
    "rejected": "The selected changes were rejected.",
    "withdrawn": "You withdrew this change.",
    "proposed": "Your change is queued for review.",
    "applied": "Batch applied: the catalog now holds these records.",
    "endorsed": "Your approval is recorded; the change needs more approvers before it moves.",
    "reverted": "The revert is queued as your proposal: it is reviewed like any change.",
    "signed-out": "You are signed out.",
}


class SignInRequired(Exception):
    """No valid session: send the browser to the sign-in page."""


class CsrfRefused(Exception):
    """A form arrived without this browser's CSRF token."""


def _when(ts: int | None) -> str:
    if ts is None:
        return "—"
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["urlpart"] = lambda value: quote(str(value), safe="")
    env.filters["urlpath"] = lambda value: quote(str(value), safe="/")
    return env


@dataclass
class WebContext:
    """The UI's wiring, created once by :func:`modelref.web.mount`."""

    services: Services
    signer: SessionSigner
    env: jinja2.Environment

    def pending_count(self) -> int:
        flt = PendingQueueFilter(statuses={PendingChangeStatus.PENDING})
        return self.services.review.list_changes(flt, 0, 1).total

    def render(
        self,
        request: Request,
        template: str,
        data: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        session: Session | None = None,
        nav: str = "",
    ) -> HTMLResponse:
        seed = csrf_seed(request, session)
        context: dict[str, Any] = {
            "request": request,
            "me": session.identity if session else None,
            "csrf": self.signer.csrf_token(seed) if seed else "",
            "nav": nav,
            "Role": Role,
            "pending_total": self.pending_count() if session else 0,
            "notice": NOTICES.get(request.query_params.get("notice", ""), ""),
            **(data or {}),
        }
        html = self.env.get_template(template).render(context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def error_page(
        self, request: Request, status: int, message: str, session: Session | None
    ) -> HTMLResponse:
        return self.render(
            request,
            "error.html",
            {"status": status, "message": message},
            status=status,
            session=session,
        )


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.modelref_web
    return ctx


Web = Annotated[WebContext, Depends(web)]


def maybe_session(request: Request, ctx: Web) -> Session | None:
    return current(request, ctx.signer)


def signed_in(request: Request, ctx: Web) -> Session:
    session = current(request, ctx.signer)
    if session is None:
        raise SignInRequired()
    return session


Viewer = Annotated[Session, Depends(signed_in)]


async def checked_form(request: Request, ctx: Web) -> FormData:
    """The POSTed form, after its CSRF token matched this browser's (else 403)."""
    form = await request.form()
    token = form.get("csrf_token")
    seed = csrf_seed(request, current(request, ctx.signer))
    if not ctx.signer.csrf_ok(seed, token if isinstance(token, str) else None):
        raise CsrfRefused()
    return form


Form = Annotated[FormData, Depends(checked_form)]


def need(session: Session, role: Role) -> None:
    """Refuse (403 page) a signed-in user without ``role``."""
    if not session.identity.has(role):
        raise errors.PermissionDenied(f"This needs the {role.value} role.")


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


class UIRoute(APIRoute):
    """An HTML route: errors become pages, a missing session a redirect to sign-in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            ctx = web(request)
            try:
                return await original(request)
            except SignInRequired:
                target = request.url.path
                if request.url.query:
                    target += "?" + request.url.query
                if request.method != "GET" or request.headers.get("HX-Request"):
                    target = "/ui/queue"
                return see_other("/ui/login?next=" + quote(target, safe=""))
            except CsrfRefused:
                session = current(request, ctx.signer)
                return ctx.error_page(
                    request,
                    403,
                    "The form's security token is missing or out of date. Reload the page "
                    "and try again; nothing was changed.",
                    session,
                )
            except errors.ModelrefError as exc:
                session = current(request, ctx.signer)
                return ctx.error_page(request, status_of(exc), exc.message, session)
            except RequestValidationError:
                session = current(request, ctx.signer)
                return ctx.error_page(request, 404, "No such page: check the address.", session)
            except HTTPException:
                raise
            except Exception:
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                message = "Something unexpected went wrong; it has been logged."
                return ctx.error_page(request, 500, message, None)

        return handler
