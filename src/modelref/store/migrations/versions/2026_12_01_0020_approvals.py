"""Approvals recorded under a quorum policy (who, when, the quorum then, stale or not).

Revision ID: 0020
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_approvals",
        sa.Column("approval_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("change_id", sa.BigInteger(), nullable=False),
        sa.Column("approved_by", sa.String(128), nullable=False),
        sa.Column("approved_username", sa.String(256), nullable=False),
        sa.Column("approved_at", sa.BigInteger(), nullable=False),
        sa.Column("required", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("approval_id", name="pk_change_approvals"),
    )
    op.create_index(
        "ix_change_approvals_change_id", "change_approvals", ["change_id", "approval_id"]
    )


def downgrade() -> None:
    op.drop_table("change_approvals")
