"""rebalance: the rebalancer's decisions per run and asset, and their moves

Revision ID: rebalance_0001
Revises: 0001
Create Date: 2026-11-23 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "rebalance_0001"
down_revision = "0001"
branch_labels = ("rebalance",)
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "treasury_rebalance_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_key", sa.String(length=120), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("cost_cents", sa.String(length=40), nullable=False),
        sa.Column("binding", sa.String(length=32), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_rebalance_decisions")),
        sa.UniqueConstraint("run_key", "asset",
                            name=op.f("uq_treasury_rebalance_decisions_run_key")),
    )
    op.create_index(op.f("ix_treasury_rebalance_decisions_asset"),
                    "treasury_rebalance_decisions", ["asset"], unique=False)
    op.create_table(
        "treasury_rebalance_moves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("source_tier", sa.String(length=8), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("destination_tier", sa.String(length=8), nullable=False),
        sa.Column("units", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("cost_cents", sa.String(length=40), nullable=False),
        sa.Column("requires_quorum", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treasury_rebalance_moves")),
        sa.UniqueConstraint("idempotency_key",
                            name=op.f("uq_treasury_rebalance_moves_idempotency_key")),
    )
    op.create_index(op.f("ix_treasury_rebalance_moves_decision_id"), "treasury_rebalance_moves",
                    ["decision_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    op.drop_index(op.f("ix_treasury_rebalance_moves_decision_id"),
                  table_name="treasury_rebalance_moves")
    op.drop_table("treasury_rebalance_moves")
    op.drop_index(op.f("ix_treasury_rebalance_decisions_asset"),
                  table_name="treasury_rebalance_decisions")
    op.drop_table("treasury_rebalance_decisions")
