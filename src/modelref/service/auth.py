"""Who is calling: API keys resolved to an identity with roles (design.md §5).

Two providers behind one interface: local keys (sha256-hashed in the database) and AI Horde's
``find_user`` (cached for a TTL keyed by the key's hash, so the key itself is never kept).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import httpx

from modelref.domain.clock import Clock
from modelref.domain.errors import (
    AuthenticationFailed,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    ValidationFailed,
)
from modelref.logs import note_user
from modelref.settings import Settings
from modelref.store.database import Database
from modelref.store.keys import KeyRow


class Role(StrEnum):
    """Roles in increasing power; each includes the ones before it."""

    reader = "reader"
    requestor = "requestor"
    approver = "approver"


_RANK = {Role.reader: 0, Role.requestor: 1, Role.approver: 2}


@dataclass(frozen=True)
class Identity:
    """An authenticated caller."""

    user_id: str
    username: str
    role: Role

    def has(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def roles(self) -> list[str]:
        """Upstream's ``/me/roles`` list (sorted; readers have none)."""
        return sorted(r.value for r in (Role.requestor, Role.approver) if self.has(r))


def _new_key() -> str:
    return "mr_" + secrets.token_urlsafe(24)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class IdentityProvider(Protocol):
    def identify(self, key: str) -> Identity: ...


class LocalKeys:
    """API keys issued by ``modelref keys create`` and stored hashed."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def identify(self, key: str) -> Identity:
        return self.identify_hash(hash_key(key))

    def identify_hash(self, key_hash: str) -> Identity:
        """The identity of an active key given its sha256 (sessions keep only the hash)."""
        with self.db.read() as tx:
            row = tx.keys.active(key_hash)
        if row is None:
            raise AuthenticationFailed("Invalid API key")
        return Identity(row.user_id, row.username, Role(row.role))

    def create(self, user_id: str, username: str, role: Role | str) -> str:
        """Issue a key; the plain key is returned once and never stored."""
        if not str(user_id).strip():
            raise ValidationFailed("user_id: must not be empty")
        if not str(username).strip():
            raise ValidationFailed("username: must not be empty")
        try:
            role = Role(role)
        except ValueError:
            raise ValidationFailed(
                f"role: unknown role {role!r}; expected reader, requestor or approver"
            ) from None
        key = _new_key()
        row = KeyRow(
            key[:10], str(user_id).strip(), str(username).strip(), role.value, self.clock(), None
        )
        with self.db.write() as tx:
            tx.keys.add(hash_key(key), row)
        return key

    def list(self) -> list[dict[str, object]]:
        with self.db.read() as tx:
            return [dict(r.__dict__) for r in tx.keys.all()]

    def revoke(self, key_prefix: str) -> int:
        """Revoke every active key starting with ``key_prefix`` (as shown by ``keys list``)."""
        if len(key_prefix) < 6:
            raise ValidationFailed("key_prefix: give at least 6 characters of the key")
        with self.db.write() as tx:
            revoked = tx.keys.revoke_prefix(key_prefix[:10], self.clock())
        if revoked == 0:
            raise NotFound(f"No active key starts with {key_prefix!r}")
        return revoked

    def create_if_empty(self, user_id: str, username: str, role: Role) -> str | None:
        """Issue a first key only when none exists, atomically (two first starts race here)."""
        key = _new_key()
        row = KeyRow(key[:10], user_id, username, role.value, self.clock(), None)
        with self.db.write() as tx:
            if tx.keys.any():
                return None
            tx.keys.add(hash_key(key), row)
        return key

    def is_empty(self) -> bool:
        with self.db.read() as tx:
            return not tx.keys.any()


class HordeUsers:
    """AI Horde ``find_user`` with allow-lists for roles and a TTL cache."""

    def __init__(self, settings: Settings, client: httpx.Client | None = None) -> None:
        self.url = settings.horde_url.rstrip("/") + "/v2/find_user"
        self.ttl = settings.horde_cache_ttl
        self.requestors = Settings.id_list(settings.requestor_ids)
        self.approvers = Settings.id_list(settings.approver_ids)
        self.client = client or httpx.Client(timeout=10.0)
        self._cache: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()
        self.consecutive_failures = 0

    def identify(self, key: str) -> Identity:
        digest = hash_key(key)
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            reply = self.client.get(self.url, headers={"apikey": key})
        except httpx.TimeoutException:
            self.consecutive_failures += 1
            raise ServiceUnavailable("Auth service timed out (AI Horde did not answer)") from None
        except httpx.HTTPError as exc:
            self.consecutive_failures += 1
            raise ServiceUnavailable(f"Auth service unavailable (AI Horde: {exc})") from None
        self.consecutive_failures = 0
        if reply.status_code != 200:
            raise AuthenticationFailed("Invalid API key")
        try:
            username = str(reply.json()["username"])
        except (ValueError, KeyError, TypeError):
            raise AuthenticationFailed("Invalid API key") from None
        if "#" not in username:
            raise AuthenticationFailed("Invalid API key")
        user_id = username.rsplit("#", 1)[1]
        role = Role.reader
        if user_id in self.approvers:
            role = Role.approver
        elif user_id in self.requestors:
            role = Role.requestor
        identity = Identity(user_id, username, role)
        with self._lock:
            self._cache[digest] = (time.monotonic() + self.ttl, identity)
        return identity


class Authenticator:
    """Resolves the ``apikey`` header and enforces roles, whatever the provider."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider

    def identify(self, key: str | None) -> Identity:
        if not key:
            raise AuthenticationFailed("Not authenticated")
        identity = self.provider.identify(key)
        note_user(identity.user_id)
        return identity

    def require(self, key: str | None, role: Role) -> Identity:
        identity = self.identify(key)
        if not identity.has(role):
            raise PermissionDenied(self.denial(identity, role))
        return identity

    def denial(self, identity: Identity, role: Role) -> str:
        """Why ``identity`` may not act as ``role``, in the words of its provider.

        AI Horde users are on allow-lists (upstream's verbatim sentence, http-api.md §2);
        local keys carry a role of their own, so their refusal names both roles.
        """
        if isinstance(self.provider, LocalKeys):
            return f"Your key has the {identity.role.value} role; this needs the {role.value} role."
        return f"You are not on the pending queue {role.value} list."


def build_authenticator(settings: Settings, keys: LocalKeys) -> Authenticator:
    """The provider chosen by ``MODELREF_AUTH``."""
    if settings.auth == "horde":
        return Authenticator(HordeUsers(settings))
    return Authenticator(keys)
