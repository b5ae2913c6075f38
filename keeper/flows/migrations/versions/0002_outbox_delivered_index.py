"""flows outbox: index on delivered_at (the pruning of relayed rows)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 22:50:00
"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('flows_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_flows_outbox_delivered_at', ['delivered_at'], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('flows_outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_flows_outbox_delivered_at')
