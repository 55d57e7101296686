"""The one exception tree of modelref.

    ModelrefError
    ├── NotFound                 unknown change, batch, model or key
    ├── ValidationFailed         bad input; the message names the field or change
    ├── InvalidTransition        the change is not in a state that allows the action
    ├── Conflict                 the action collides with concurrent work or the catalog
    │   ├── StaleChange          the live record moved since the change was proposed
    │   │   └── StaleApproval    the approvals of an approved change went stale
    │   ├── DuplicateApproval    this approver's approval of the change is already counted
    │   ├── ChecksFailed         review checks found errors; a strict policy wants an override
    │   └── ReservationConflict  another apply job holds the change
    ├── PermissionDenied         valid identity without the needed role (or two-person rule)
    ├── AuthenticationFailed     missing or unknown key
    ├── ServiceUnavailable       a dependency (AI Horde, the database) is down
    ├── StorageError             the database failed in an unexpected way
    └── ApplyFailed              an all-or-nothing apply rolled back because of one change

Every class has a stable ``code`` (sent on the wire as the error body's ``code``, and mapped
back to the class by :func:`by_code` in the CLI's remote mode). Edges map classes to HTTP
statuses (``modelref.http_status``) and CLI exit codes (``cli/errors.py``); nothing else
decides how an error looks to a user.
"""

from __future__ import annotations


class ModelrefError(Exception):
    """Base of every expected modelref error."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(ModelrefError):
    """The thing named does not exist."""

    code = "not_found"


class ValidationFailed(ModelrefError):
    """The input is malformed; the message names the offending field or change."""

    code = "validation_failed"


class InvalidTransition(ModelrefError):
    """The change's status does not allow this action."""

    code = "invalid_transition"


class Conflict(ModelrefError):
    """The action collides with concurrent work or with the current catalog."""

    code = "conflict"


class StaleChange(Conflict):
    """The live record moved since the change was proposed."""

    code = "stale_change"


class StaleApproval(StaleChange):
    """An approved change's fresh approvals fell below its quorum (its base moved)."""

    code = "stale_approval"


class DuplicateApproval(Conflict):
    """The approver already approved this change and that approval still counts."""

    code = "duplicate_approval"


class ChecksFailed(Conflict):
    """Review checks found errors in the change; under a quorum policy an approval needs an
    explicit override (recorded in the audit event)."""

    code = "checks_failed"


class ReservationConflict(Conflict):
    """Another apply job holds the reservation of ``change_id``."""

    code = "reservation_conflict"

    def __init__(self, change_id: int, job_id: str | None, message: str | None = None) -> None:
        super().__init__(
            message or f"Change {change_id} is already reserved for apply (job_id={job_id})."
        )
        self.change_id = change_id
        self.job_id = job_id


class PermissionDenied(ModelrefError):
    """The caller is known but may not do this."""

    code = "permission_denied"


class AuthenticationFailed(ModelrefError):
    """The caller could not be identified."""

    code = "authentication_failed"


class ServiceUnavailable(ModelrefError):
    """A dependency is unavailable; retrying later may succeed."""

    code = "service_unavailable"


class StorageError(ModelrefError):
    """The database failed unexpectedly."""

    code = "storage_error"


class ApplyFailed(ModelrefError):
    """An all-or-nothing apply rolled back: ``cause`` is why change ``change_id`` failed.

    Nothing of the apply was written. Edges report the cause (its status, its code) and name
    the change.
    """

    code = "apply_failed"

    def __init__(self, change_id: int, cause: ModelrefError) -> None:
        named = f"Change {change_id} " in cause.message or f"Change {change_id}:" in cause.message
        super().__init__(cause.message if named else f"Change {change_id}: {cause.message}")
        self.change_id = change_id
        self.cause = cause


def _all(cls: type[ModelrefError]) -> list[type[ModelrefError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all(sub))
    return found


def by_code(code: str) -> type[ModelrefError] | None:
    """The class whose ``code`` is ``code`` (the wire form of an error), if any."""
    return next((cls for cls in _all(ModelrefError) if cls.code == code), None)
