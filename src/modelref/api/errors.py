"""The one place that turns errors into HTTP responses: ``{"detail": ..., "code": ...}``.

Domain errors map by class (Starlette walks the MRO, so subclasses inherit their parent's
status); request validation keeps FastAPI's list-shaped ``detail``; anything unexpected is
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

log = logging.getLogger("modelref.api")

#: Domain class -> HTTP status. Order matters only for documentation; lookup walks the MRO.
STATUS: dict[type[errors.ModelrefError], int] = {
    errors.NotFound: 404,
    errors.ValidationFailed: 422,
    errors.InvalidTransition: 400,
    errors.Conflict: 409,
    errors.StaleChange: 409,
    errors.ReservationConflict: 409,
    errors.PermissionDenied: 403,
    errors.AuthenticationFailed: 401,
    errors.ServiceUnavailable: 503,
    errors.StorageError: 503,
}

#: Status of a ``ValidationFailed`` raised while applying (spec: a missing payload is 400).
APPLY_VALIDATION_STATUS = 400

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


def status_for(exc: errors.ModelrefError, *, applying: bool = False) -> int:
    """HTTP status of a domain error (``applying``: inside an apply, bad payloads are 400)."""
    if applying and isinstance(exc, errors.ValidationFailed):
        return APPLY_VALIDATION_STATUS
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(
    status: int, detail: Any, code: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"detail": jsonable_encoder(detail), "code": code}, status_code=status, headers=headers
    )


def _domain(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ModelrefError)
    cause = getattr(exc, "cause", None)
    if isinstance(cause, errors.ModelrefError):  # ApplyFailed outside the apply routes
        return error_response(status_for(cause, applying=True), exc.message, cause.code)
    status = status_for(exc)
    headers = {"WWW-Authenticate": "APIKey"} if status == 401 else None
    return error_response(status, exc.message, exc.code, headers)


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
