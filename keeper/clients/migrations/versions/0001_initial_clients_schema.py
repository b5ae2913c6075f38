"""initial clients schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:02:27.970125
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
        "clients_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("client_ref", sa.String(length=66), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clients_clients")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_clients_clients_client_ref")),
    )
    op.create_table(
        "clients_api_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("key_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.String(length=256), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients_clients.id"],
            name=op.f("fk_clients_api_keys_client_id_clients_clients"),
        ),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_clients_api_keys")),
    )
    with op.batch_alter_table("clients_api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clients_api_keys_client_id"), ["client_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("clients_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clients_api_keys_client_id"))
    op.drop_table("clients_api_keys")
    op.drop_table("clients_clients")
