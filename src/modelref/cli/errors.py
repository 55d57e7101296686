"""Exit codes of the ``modelref`` command: the one place that decides them.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      ok
1      domain error: unknown change/model/batch, invalid input, wrong state (the
       message on stderr names the change or the field)
2      usage error: bad options or arguments (also: a command that needs the
       server's database run with ``--server``)
3      conflict: stale base, reservation held by another job, model already exists
4      auth error: missing or unknown key, or a key without the needed role
5      unreachable: the server (remote mode) or the database (local mode) cannot
       be reached, or a service it depends on is down; retrying later may help
=====  ==========================================================================

Both modes raise the domain exception tree (:mod:`modelref.domain.errors`): remote mode turns
a server's answer back into the domain error its ``code`` names
(:func:`modelref.http_status.error_from_wire`), so this one table serves both.
"""

from __future__ import annotations

import httpx

from modelref.domain import errors as domain

OK = 0
DOMAIN = 1
USAGE = 2
CONFLICT = 3
AUTH = 4
UNREACHABLE = 5

#: Most specific class first; ``ModelrefError`` is the catch-all.
_DOMAIN_CODES: tuple[tuple[type[domain.ModelrefError], int], ...] = (
    (domain.Conflict, CONFLICT),  # StaleChange, ReservationConflict included
    (domain.AuthenticationFailed, AUTH),
    (domain.PermissionDenied, AUTH),
    (domain.ServiceUnavailable, UNREACHABLE),
    (domain.StorageError, UNREACHABLE),
    (domain.ModelrefError, DOMAIN),
)


class CliError(Exception):
    """An error the CLI itself detects, with its exit code already chosen."""

    def __init__(self, message: str, code: int = DOMAIN) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class UsageProblem(CliError):
    """Options or arguments that cannot work together (exit 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, USAGE)


def _unwrap(exc: BaseException) -> BaseException:
    """A multi-change apply reports the failing change's error as its cause."""
    return exc.cause if isinstance(exc, domain.ApplyFailed) else exc


def exit_code(exc: BaseException) -> int:
    """The exit code for an expected error (anything else is a bug and keeps its traceback)."""
    exc = _unwrap(exc)
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, domain.ModelrefError):
        for cls, code in _DOMAIN_CODES:
            if isinstance(exc, cls):
                return code
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return USAGE
    if isinstance(exc, httpx.TransportError):  # connect/read/write errors, timeouts
        return UNREACHABLE
    return DOMAIN


def error_type(exc: BaseException) -> str:
    """A short machine-readable name for ``--json`` error output."""
    exc = _unwrap(exc)
    if isinstance(exc, domain.ModelrefError):
        return exc.code
    if isinstance(exc, CliError):
        return "usage_error" if exc.code == USAGE else "error"
    return "unreachable" if isinstance(exc, httpx.TransportError) else "error"


def describe(exc: BaseException) -> str:
    """The one-line message shown on stderr."""
    if isinstance(exc, httpx.TransportError) and not isinstance(exc, httpx.UnsupportedProtocol):
        url = exc.request.url if _has_request(exc) else "the server"
        return f"cannot reach {url}: {exc or type(exc).__name__}"
    return str(exc) or type(exc).__name__


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 - raises RuntimeError when unset
    except RuntimeError:
        return False
    return True


#: Every error the CLI reports without a traceback.
EXPECTED: tuple[type[BaseException], ...] = (
    domain.ModelrefError,
    CliError,
    httpx.HTTPError,
    httpx.InvalidURL,
)
