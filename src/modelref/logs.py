"""Logging set-up: one line per event, JSON lines when ``MODELREF_LOG_JSON=1``.

Events carry structured fields (``event(log, "import", "...", added=3)``): the plain format
prints the message, the JSON format adds every field as a key of the line's object. The
access log (``modelref.access``) and the request's user id also live here, so every layer can
name the acting user without importing the API.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

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
    """Install a single stderr handler on the root logger (uvicorn's loggers included), and
    the buffered writer for access lines (see :class:`AccessWriter`)."""
    global _writer
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    if _writer is not None:
        _writer.close()
    _writer = AccessWriter(sys.stderr, json_lines=json_lines)


ACCESS = logging.getLogger("modelref.access")
#: A JSON string literal (the C encoder ``json.dumps`` uses; real Unicode kept).
_quote: Any = json.encoder.encode_basestring


class AccessWriter:
    """Access lines in the configured format, written in batches (hot-path cost ~2 µs).

    A line per request through ``logging`` costs ~17 µs (record, caller lookup, formatting, a
    flush per line), as much as a cached read itself. This writer formats the same line with a
    per-second cached timestamp and writes the buffer at most every ``interval`` seconds (or
    at ``max_bytes``), from a daemon thread when the server is idle; closing flushes.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        json_lines: bool,
        interval: float = 0.2,
        max_bytes: int = 64 * 1024,
    ) -> None:
        self.stream = stream
        self.json_lines = json_lines
        self.interval = interval
        self.max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._second = -1
        self._stamp = ""
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="access-log", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _timestamp(self, now: float) -> str:
        second = int(now)
        if second != self._second:
            self._second = second
            if self.json_lines:
                self._stamp = datetime.fromtimestamp(second, tz=UTC).isoformat()[:-6]
            else:
                self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        millis = int((now - second) * 1000)
        if self.json_lines:
            return f"{self._stamp}.{millis:03d}000+00:00"
        return f"{self._stamp},{millis:03d}"

    def write(self, method: str, path: str, status: int, ms: float, user_id: str | None) -> None:
        now = time.time()
        if not path.isprintable():  # no forged lines: control characters are escaped
            path = path.encode("unicode_escape").decode("ascii")
        who = f" user={user_id}" if user_id else ""
        message = f"{method} {path} {status} {ms:.2f}ms{who}"
        if self.json_lines:  # the keys JsonFormatter writes, then the event's fields
            user = "null" if user_id is None else _quote(user_id)
            line = (
                f'{{"ts": "{self._timestamp(now)}", "level": "info", "logger": "{ACCESS.name}", '
                f'"msg": {_quote(message)}, "event": "access", "method": {_quote(method)}, '
                f'"path": {_quote(path)}, "status": {int(status)}, "ms": {float(ms)}, '
                f'"user_id": {user}}}\n'
            )
        else:
            line = f"{self._timestamp(now)} INFO {ACCESS.name}: {message}\n"
        self._lines.append(line)  # atomic under the GIL; flush() swaps the list out
        self._size += len(line)
        if self._size >= self.max_bytes:
            self.flush()

    def flush(self) -> None:
        with self._lock:  # one writer at a time; write() never waits for it
            lines, self._lines = self._lines, []
            self._size = 0
            if not lines:
                return
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed: nothing left to tell

    def _loop(self) -> None:
        while not self._closed.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()


_writer: AccessWriter | None = None


def access(method: str, path: str, status: int, ms: float, user_id: str | None) -> None:
    """One access line: through the batched writer after :func:`configure`, else ``logging``."""
    if not ACCESS.isEnabledFor(logging.INFO):
        return
    if _writer is not None:
        _writer.write(method, path, status, ms, user_id)
        return
    who = f" user={user_id}" if user_id else ""
    fields = {"event": "access", "method": method, "path": path, "status": status, "ms": ms}
    fields["user_id"] = user_id
    ACCESS.info("%s %s %s %.2fms%s", method, path, status, ms, who, extra={FIELDS: fields})


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
