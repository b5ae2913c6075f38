"""tiers: planned sweeps and the hot-ceiling crossing state

Revision ID: tiers_0001
Revises: 0001
Create Date: 2026-11-23 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tiers_0001"
down_revision = "0001"
branch_labels = ("tiers",)
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "treasury_tier_sweeps",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("destination", sa.String(length=64), nullable=False),
        sa.Column("units", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("intent_id", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=80), nullable=True),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_treasury_tier_sweeps")),
    )
    op.create_table(
        "treasury_tier_ceiling",
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("above", sa.Integer(), nullable=False),
        sa.Column("crossings", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_treasury_tier_ceiling")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("treasury_tier_ceiling")
    op.drop_table("treasury_tier_sweeps")
