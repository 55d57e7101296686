"""SQL for local API keys (stored as sha256 hashes, never in plain)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from modelref.store.tables import api_keys

K = api_keys


def active(conn: Connection, key_hash: str) -> Any | None:
    """The row of an unrevoked key, or None."""
    return conn.execute(select(K).where(K.c.key_hash == key_hash, K.c.revoked_at.is_(None))).first()


def add(
    conn: Connection, key_hash: str, prefix: str, user_id: str, username: str, role: str, now: int
) -> None:
    conn.execute(
        insert(K).values(
            key_hash=key_hash,
            key_prefix=prefix,
            user_id=user_id,
            username=username,
            role=role,
            created_at=now,
        )
    )


def all_keys(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(K).order_by(K.c.created_at)).fetchall()
    return [
        {
            "key_prefix": r.key_prefix,
            "user_id": r.user_id,
            "username": r.username,
            "role": r.role,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]


def revoke_prefix(conn: Connection, prefix: str, now: int) -> int:
    result = conn.execute(
        update(K)
        .where(K.c.key_prefix.startswith(prefix), K.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def any_key(conn: Connection) -> bool:
    return conn.execute(select(K.c.key_hash).limit(1)).first() is not None
