"""client profiles: status, KYC validity, bank customer id, country, limit overrides

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "clients_profiles",
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("kyc_valid_until", sa.Date(), nullable=True),
        sa.Column("bank_customer_id", sa.String(length=64), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("buy_single_limit_cents", sa.BigInteger(), nullable=True),
        sa.Column("buy_daily_limit_cents", sa.BigInteger(), nullable=True),
        sa.Column("sell_daily_limit_cents", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients_clients.id"],
            name=op.f("fk_clients_profiles_client_id_clients_clients"),
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_clients_profiles")),
        sa.UniqueConstraint("bank_customer_id", name=op.f("uq_clients_profiles_bank_customer_id")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("clients_profiles")
