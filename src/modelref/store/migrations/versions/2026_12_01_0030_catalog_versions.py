"""Catalog versions, their change journal, and webhook subscriptions.

Revision ID: 0030
Revises: 0020
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_releases",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("job_id", sa.String(160), nullable=True),
        sa.Column("actor_id", sa.String(128), nullable=True),
        sa.Column("actor_username", sa.String(256), nullable=True),
        sa.Column("change_ids", sa.Text(), nullable=False),
        sa.Column("batch_ids", sa.Text(), nullable=False),
        sa.Column("approvers", sa.Text(), nullable=False),
        sa.Column("categories", sa.Text(), nullable=False),
        sa.Column("hashes", sa.Text(), nullable=False),
        sa.Column("audit_event_id", sa.BigInteger(), nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_catalog_releases"),
    )
    op.create_table(
        "catalog_journal",
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("model", sa.String(512), nullable=True),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("before_extras", sa.Text(), nullable=True),
        sa.Column("before_position", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("version", "seq", name="pk_catalog_journal"),
    )
    op.create_index(
        "ix_catalog_journal_category_version", "catalog_journal", ["category", "version"]
    )
    op.create_table(
        "webhook_subscriptions",
        sa.Column("subscription_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", sa.String(200), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_username", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name="pk_webhook_subscriptions"),
    )


def downgrade() -> None:
    op.drop_table("webhook_subscriptions")
    op.drop_index("ix_catalog_journal_category_version", table_name="catalog_journal")
    op.drop_table("catalog_journal")
    op.drop_table("catalog_releases")
