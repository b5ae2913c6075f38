"""drop safetx_transactions.raw_tx: the keeper's signed bytes live with keeper.chain.TxSender

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 19:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table('safetx_transactions', schema=None) as batch_op:
        batch_op.drop_column('raw_tx')


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('safetx_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raw_tx', sa.LargeBinary(), nullable=True))
