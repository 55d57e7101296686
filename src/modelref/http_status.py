"""HTTP statuses of the domain errors: the one table the API, the reviewer UI and the CLI share.

The API answers ``{"detail": message, "code": cls.code}`` with :func:`status_of`; the UI shows an
error page with the same status; the CLI's remote mode turns an answer back into the domain
error (:func:`error_from_wire`), so one exit-code table serves local and remote mode.
Where upstream's wire fixes a status, it wins: an invalid transition ("Change 7 is not pending
(status=applied).") is 400 as upstream answers it, everywhere.
"""

from __future__ import annotations

from typing import Any

from modelref.domain import errors

#: Domain class -> HTTP status; lookup walks the MRO, so subclasses inherit their parent's.
STATUS: dict[type[errors.ModelrefError], int] = {
    errors.NotFound: 404,
    errors.ValidationFailed: 422,
    errors.InvalidTransition: 400,
    errors.Conflict: 409,
    errors.PermissionDenied: 403,
    errors.AuthenticationFailed: 401,
    errors.ServiceUnavailable: 503,
    errors.StorageError: 503,
}

#: Inside an apply a bad payload is upstream's "Payload error", 400 (spec queue-semantics §6).
APPLY_VALIDATION_STATUS = 400

#: What a status means when an answer carries no known ``code`` (an upstream server).
_BY_STATUS: dict[int, type[errors.ModelrefError]] = {
    400: errors.InvalidTransition,
    401: errors.AuthenticationFailed,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.ValidationFailed,
}


def status_of(exc: errors.ModelrefError) -> int:
    """The HTTP status of ``exc`` (a failed apply answers with its cause's status)."""
    if isinstance(exc, errors.ApplyFailed):
        if isinstance(exc.cause, errors.ValidationFailed):
            return APPLY_VALIDATION_STATUS
        return status_of(exc.cause)
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_from_wire(status: int, message: str, body: Any = None) -> errors.ModelrefError:
    """The domain error an HTTP error answer stands for (modelref's ``code``, else the status)."""
    data = body if isinstance(body, dict) else {}
    code = data.get("code")
    cls = errors.by_code(code) if isinstance(code, str) else None
    if cls is None or cls is errors.ApplyFailed:
        cls = _BY_STATUS.get(status, errors.ServiceUnavailable if status >= 500 else None)
    if cls is None:
        cls = errors.ValidationFailed
    failed = data.get("failed_change_id")
    cause = _make(cls, message)
    if isinstance(failed, int):
        return errors.ApplyFailed(failed, cause)
    return cause


def _make(cls: type[errors.ModelrefError], message: str) -> errors.ModelrefError:
    if issubclass(cls, errors.ReservationConflict):
        return cls(0, None, message)
    return cls(message)
