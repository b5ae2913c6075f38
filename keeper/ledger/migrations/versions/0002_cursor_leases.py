"""cursor leases, cursor source time and followed addresses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 17:00:00
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
        "ledger_leases",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=160), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_leases")),
    )
    with op.batch_alter_table("ledger_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position_time", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("addresses", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("ledger_cursors", schema=None) as batch_op:
        batch_op.drop_column("addresses")
        batch_op.drop_column("position_time")
    op.drop_table("ledger_leases")
