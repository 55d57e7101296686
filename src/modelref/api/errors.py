"""The one place that turns errors into HTTP responses: ``{"detail": ..., "code": ...}``.

Domain errors map by class through :mod:`modelref.http_status` (the table the UI shares);
request validation keeps FastAPI's list-shaped ``detail``; anything unexpected is
logged and answered 500 without internals. No expected error is ever 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelref.domain import errors
from modelref.http_status import status_of

log = logging.getLogger("modelref.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
    503: "service_unavailable",
}


class ErrorBody(BaseModel):
    """Every error response: FastAPI's ``detail`` plus a machine-readable ``code``."""

    detail: str | list[dict[str, Any]]
    code: str


class RequestRejected(Exception):
    """An HTTP-level refusal decided by the API itself (e.g. 400 for an empty id list)."""

    def __init__(self, status: int, message: str, code: str = "bad_request") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def error_response(
    status: int, detail: Any, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"detail": jsonable_encoder(detail), "code": code}, status_code=status, headers=headers
    )


def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ModelrefError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "APIKey"} if status == 401 else None
    return error_response(status, exc.message, wire_code(exc), headers)


def wire_code(exc: errors.ModelrefError) -> str:
    """The ``code`` of an error body: a failed apply reports its cause's."""
    return exc.cause.code if isinstance(exc, errors.ApplyFailed) else exc.code


def _rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestRejected)
    return error_response(exc.status, exc.message, exc.code)


def _http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return error_response(exc.status_code, exc.detail, code, dict(exc.headers or {}) or None)


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(422, exc.errors(), "request_validation")


def _unicode(_: Request, exc: Exception) -> JSONResponse:
    return error_response(422, f"Text must be valid Unicode: {exc}", "validation_failed")


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "Internal Server Error", "internal_error")


def install(app: FastAPI) -> None:
    """Register every handler on ``app``."""
    app.add_exception_handler(errors.ModelrefError, _domain)
    app.add_exception_handler(RequestRejected, _rejected)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(UnicodeError, _unicode)
    app.add_exception_handler(Exception, _unexpected)


def responses(*statuses: int, bulk: Any = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` documenting the error body for ``statuses`` (400 and 422 always).

    ``bulk``: a model that some of these statuses may carry instead of the error body (the
    multi-change apply answers failures with its result body).
    """
    model: Any = ErrorBody if bulk is None else bulk | ErrorBody
    docs: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": _HTTP_CODES.get(s, "error")}
        for s in sorted({400, 422, *statuses})
    }
    if bulk is not None:
        for s in statuses:
            docs[s] = {"model": model, "description": _HTTP_CODES.get(s, "error")}
    return docs
