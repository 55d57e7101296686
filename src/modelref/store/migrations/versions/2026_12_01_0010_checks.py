"""Review checks: per-change state and findings, identity keys for duplicate findings.

Revision ID: 0010
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "check_runs",
        sa.Column(
            "change_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("identity_findings", sa.Text(), nullable=False),
        sa.Column("findings", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("completions", sa.Integer(), nullable=False),
        sa.Column("progress_field", sa.String(64), nullable=True),
        sa.Column("bytes_done", sa.BigInteger(), nullable=False),
        sa.Column("bytes_total", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("change_id", name="pk_check_runs"),
    )
    op.create_table(
        "check_keys",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("change_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("model_name", sa.String(512), nullable=False),
        sa.Column("field", sa.String(64), nullable=False),
        sa.Column("display", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "digest", "change_id", "category", "model_name", "field", name="pk_check_keys"
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "check_key_versions",
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("category", name="pk_check_key_versions"),
    )


def downgrade() -> None:
    op.drop_table("check_key_versions")
    op.drop_table("check_keys")
    op.drop_table("check_runs")
