"""pooling: pooling runs and their planned transactions; the custody topology and its changes

Revision ID: pooling_0001
Revises: 0001
Create Date: 2026-11-23 22:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "pooling_0001"
down_revision = "0001"
branch_labels = ("pooling",)
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "treasury_pool_runs",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("funding", sa.String(length=64), nullable=True),
        sa.Column("max_fee_wei", sa.String(length=40), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_treasury_pool_runs")),
    )
    op.create_table(
        "treasury_pool_txs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("wallet", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("units", sa.String(length=80), nullable=False),
        sa.Column("keep", sa.String(length=80), nullable=False),
        sa.Column("intent_id", sa.String(length=160), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tx_hash", sa.String(length=80), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_pool_txs")),
        sa.UniqueConstraint("intent_id", name=op.f("uq_treasury_pool_txs_intent_id")),
        sa.UniqueConstraint("run_id", "kind", "wallet", "asset",
                            name=op.f("uq_treasury_pool_txs_run_id")),
    )
    op.create_index(op.f("ix_treasury_pool_txs_run_id"), "treasury_pool_txs", ["run_id"],
                    unique=False)
    op.create_table(
        "treasury_custody_wallets",
        sa.Column("wallet", sa.String(length=64), nullable=False),
        sa.Column("threshold", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("wallet", name=op.f("pk_treasury_custody_wallets")),
    )
    op.create_table(
        "treasury_custody_signers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("wallet", sa.String(length=64), nullable=False),
        sa.Column("signer", sa.String(length=64), nullable=False),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("technology", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_custody_signers")),
        sa.UniqueConstraint("wallet", "signer", name=op.f("uq_treasury_custody_signers_wallet")),
    )
    op.create_index(op.f("ix_treasury_custody_signers_wallet"), "treasury_custody_signers",
                    ["wallet"], unique=False)
    op.create_table(
        "treasury_custody_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("wallet", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_custody_changes")),
    )
    op.create_index(op.f("ix_treasury_custody_changes_wallet"), "treasury_custody_changes",
                    ["wallet"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_treasury_custody_changes_wallet"), table_name="treasury_custody_changes")
    op.drop_table("treasury_custody_changes")
    op.drop_index(op.f("ix_treasury_custody_signers_wallet"), table_name="treasury_custody_signers")
    op.drop_table("treasury_custody_signers")
    op.drop_table("treasury_custody_wallets")
    op.drop_index(op.f("ix_treasury_pool_txs_run_id"), table_name="treasury_pool_txs")
    op.drop_table("treasury_pool_txs")
    op.drop_table("treasury_pool_runs")
