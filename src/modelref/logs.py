"""Logging set-up: one line per event, JSON lines when ``MODELREF_LOG_JSON=1``.

Events carry structured fields (``event(log, "import", "...", added=3)``): the plain format
prints the message, the JSON format adds every field as a key of the line's object. The
access log (``modelref.access``) and the request's user id also live here, so every layer can
name the acting user without importing the API.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

#: LogRecord attribute holding an event's structured fields.
FIELDS = "modelref_fields"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = record.__dict__.get(FIELDS)
        if isinstance(fields, dict):
            data.update(fields)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(json_lines: bool = False, level: int = logging.INFO) -> None:
    """Install a single stderr handler on the root logger (uvicorn's loggers included)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def event(logger: logging.Logger, name: str, message: str, **fields: Any) -> None:
    """Log one INFO event line with structured ``fields`` (``event`` = ``name``)."""
    if logger.isEnabledFor(logging.INFO):
        logger.info(message, extra={FIELDS: {"event": name, **fields}})


class UserSlot:
    """Where the authentication of the current request leaves the caller's user id."""

    __slots__ = ("user_id",)

    def __init__(self) -> None:
        self.user_id: str | None = None


#: Set by the access-log middleware per request; a mutable slot because handlers run in a
#: worker thread on a *copy* of the request's context.
request_user: ContextVar[UserSlot | None] = ContextVar("modelref_request_user", default=None)


def note_user(user_id: str) -> None:
    """Record the authenticated caller of the current request (no-op outside a request)."""
    slot = request_user.get()
    if slot is not None:
        slot.user_id = user_id
