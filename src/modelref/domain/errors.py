"""The one exception tree of modelref.

    ModelrefError
    ├── NotFound                 unknown change, batch, model or key
    ├── ValidationFailed         bad input; the message names the field or change
    ├── InvalidTransition        the change is not in a state that allows the action
    ├── Conflict                 stale base, reservation held by another job, existing model
    │   ├── StaleChange
    │   └── ReservationConflict
    ├── PermissionDenied         valid identity without the needed role (or two-person rule)
    ├── AuthenticationFailed     missing or unknown key
    ├── ServiceUnavailable       a dependency (AI Horde, publish dir) is down
    └── StorageError             the database failed in an unexpected way

Edges map these classes to HTTP status codes (``api/errors.py``) and CLI exit codes
(``cli/errors.py``); nothing else decides how an error looks to a user.
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


class ReservationConflict(Conflict):
    """Another apply job holds the reservation."""

    code = "reservation_conflict"


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
