"""Partial index on open (pending/approved) changes for fast status listings.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_OPEN = sa.text("status IN ('pending', 'approved')")


def upgrade() -> None:
    op.create_index(
        "ix_pending_changes_open_id",
        "pending_changes",
        ["change_id"],
        postgresql_where=_OPEN,
        sqlite_where=_OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_pending_changes_open_id", table_name="pending_changes")
