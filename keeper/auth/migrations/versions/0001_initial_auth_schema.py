"""initial auth schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "auth_oauth_clients",
        sa.Column("oauth_client_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("oauth_client_id", name=op.f("pk_auth_oauth_clients")),
    )
    with op.batch_alter_table("auth_oauth_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auth_oauth_clients_client_id"), ["client_id"],
                              unique=False)
    op.create_table(
        "auth_signing_keys",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_auth_signing_keys")),
    )
    op.create_table(
        "auth_rate_limits",
        sa.Column("bucket", sa.String(length=100), nullable=False),
        sa.Column("window", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", name=op.f("pk_auth_rate_limits")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("auth_rate_limits")
    op.drop_table("auth_signing_keys")
    with op.batch_alter_table("auth_oauth_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auth_oauth_clients_client_id"))
    op.drop_table("auth_oauth_clients")
