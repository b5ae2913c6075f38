"""running totals of each client's screened movements (compliance_movement_totals)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 07:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply: the table, filled from the movements already stored (their value-band counts are
    left out: the first screen of each client after this adds the bands its rules read)."""
    op.create_table(
        "compliance_movement_totals",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "at", name=op.f("pk_compliance_movement_totals")),
    )
    from keeper.compliance.totals import backfill

    backfill(op.get_bind())


def downgrade() -> None:
    """Revert."""
    op.drop_table("compliance_movement_totals")
