"""SQL for local API keys (stored as sha256 hashes, never in plain)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, insert, select, update

from modelref.store.tables import api_keys

K = api_keys


@dataclass(frozen=True)
class KeyRow:
    key_prefix: str
    user_id: str
    username: str
    role: str
    created_at: int
    revoked_at: int | None


class KeyRepository:
    """Local API keys of one transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def active(self, key_hash: str) -> KeyRow | None:
        """The unrevoked key with this hash, or None."""
        q = select(K).where(K.c.key_hash == key_hash, K.c.revoked_at.is_(None))
        row = self.conn.execute(q).first()
        return _key(row._mapping) if row is not None else None

    def add(self, key_hash: str, row: KeyRow) -> None:
        self.conn.execute(insert(K).values(key_hash=key_hash, **row.__dict__))

    def all(self) -> list[KeyRow]:
        rows = self.conn.execute(select(K).order_by(K.c.created_at)).fetchall()
        return [_key(r._mapping) for r in rows]

    def revoke_prefix(self, prefix: str, now: int) -> int:
        result = self.conn.execute(
            update(K)
            .where(K.c.key_prefix.startswith(prefix), K.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def any(self) -> bool:
        return self.conn.execute(select(K.c.key_hash).limit(1)).first() is not None


def _key(data: RowMapping) -> KeyRow:
    return KeyRow(
        key_prefix=str(data["key_prefix"]),
        user_id=str(data["user_id"]),
        username=str(data["username"]),
        role=str(data["role"]),
        created_at=int(data["created_at"]),
        revoked_at=int(data["revoked_at"]) if data["revoked_at"] is not None else None,
    )
