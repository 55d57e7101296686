"""Signed session cookies and CSRF tokens for the reviewer UI.

A session is a signed token in an HttpOnly, SameSite=Strict cookie: ``base64(json) . hmac``
where the JSON holds the session id, the identity resolved at sign-in and an expiry. The HMAC
secret is ``MODELREF_SESSION_SECRET`` or a random key created once (atomically) in a file next
to the SQLite database, so every server process of one deployment accepts the same cookies.

CSRF: every form carries ``csrf_token = hmac(secret, "csrf|" + seed)`` where the seed is the
session id (signed in) or a random pre-session cookie (the sign-in form). A POST whose token
does not match is refused before anything else runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request, Response

from modelref.domain.errors import ModelrefError
from modelref.logs import note_user
from modelref.service.auth import Identity, Role
from modelref.settings import Settings

SESSION_COOKIE = "modelref_session"
PRESESSION_COOKIE = "modelref_pre"
SESSION_SECONDS = 8 * 3600
KEY_FILE = "session.key"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: who it is and the id that CSRF tokens are bound to."""

    sid: str
    identity: Identity
    expires: int


def key_path(settings: Settings) -> Path:
    """Where the generated secret lives: beside the SQLite file, else in the data folder."""
    url = settings.database_url
    if url.startswith("sqlite:///"):
        db_file = Path(url.removeprefix("sqlite:///"))
        return db_file.parent / KEY_FILE
    return settings.data_dir / KEY_FILE


def load_secret(settings: Settings) -> bytes:
    """The signing secret: from the environment, or a key file created once and then reused."""
    configured = (settings.session_secret or "").strip()
    if configured:
        return hashlib.sha256(configured.encode("utf-8")).digest()
    path = key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
        handle.flush()
        os.fsync(handle.fileno())
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    for _attempt in range(50):  # another process may be writing it right now
        text = path.read_text(encoding="ascii").strip()
        if len(text) >= 64:
            return bytes.fromhex(text[:64])
        time.sleep(0.02)
    raise RuntimeError(f"session key file {path} is empty or corrupt; delete it to regenerate")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks session cookies and CSRF tokens with one secret."""

    def __init__(self, secret: bytes, recheck: Callable[[str], Identity] | None = None) -> None:
        #: Looks a key hash up again on every request (local keys); None for AI Horde keys.
        self.recheck = recheck
        self.secret = secret

    def _mac(self, message: str) -> str:
        return _b64(hmac.new(self.secret, message.encode("utf-8"), hashlib.sha256).digest())

    # ------------------------------------------------------------------ sessions
    def issue(
        self, identity: Identity, now: int | None = None, key_hash: str | None = None
    ) -> tuple[str, Session]:
        now = int(now if now is not None else time.time())
        session = Session(secrets.token_urlsafe(18), identity, now + SESSION_SECONDS)
        body: dict[str, object] = {
            "kh": key_hash,
            "sid": session.sid,
            "uid": identity.user_id,
            "name": identity.username,
            "role": identity.role.value,
            "exp": session.expires,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac('session|' + payload)}", session

    def read(self, token: str | None, now: int | None = None) -> Session | None:
        """The session in ``token``, or None when it is missing, forged or expired."""
        if not token or token.count(".") != 1:
            return None
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac, self._mac("session|" + payload)):
            return None
        try:
            body = json.loads(_unb64(payload))
            identity = Identity(str(body["uid"]), str(body["name"]), Role(body["role"]))
            expires = int(body["exp"])
            sid = str(body["sid"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if expires <= int(now if now is not None else time.time()):
            return None
        key_hash = body.get("kh")
        if self.recheck is not None and isinstance(key_hash, str):
            try:  # a revoked key or a changed role takes effect at the next request
                identity = self.recheck(key_hash)
            except ModelrefError:
                return None
        return Session(sid, identity, expires)

    # ------------------------------------------------------------------ CSRF
    def csrf_token(self, seed: str) -> str:
        return self._mac("csrf|" + seed)

    def csrf_ok(self, seed: str | None, token: str | None) -> bool:
        if not seed or not token:
            return False
        return hmac.compare_digest(token, self.csrf_token(seed))

    # ------------------------------------------------------------------ cookies
    @staticmethod
    def set_cookie(
        request: Request, response: Response, name: str, value: str, max_age: int
    ) -> None:
        """HttpOnly, SameSite=Strict, scoped to ``/ui``; Secure whenever served over HTTPS."""
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def clear(request: Request, response: Response, name: str) -> None:
        response.delete_cookie(
            name,
            path="/ui",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )


def current(request: Request, signer: SessionSigner) -> Session | None:
    session = signer.read(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        note_user(session.identity.user_id)  # the access log names the signed-in user
    return session


def csrf_seed(request: Request, session: Session | None) -> str | None:
    """What this browser's CSRF token is bound to (session id, else the pre-session cookie)."""
    if session is not None:
        return session.sid
    return request.cookies.get(PRESESSION_COOKIE)
