"""delegates: safetx_delegates, and safetx_transactions.proposed_by_delegate

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('safetx_delegates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('safe', sa.String(length=42), nullable=True),
    sa.Column('delegate', sa.String(length=42), nullable=False),
    sa.Column('delegator', sa.String(length=42), nullable=False),
    sa.Column('label', sa.String(length=50), nullable=False),
    sa.Column('expiry_date', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['safe'], ['safetx_safes.address'],
                            name=op.f('fk_safetx_delegates_safe_safetx_safes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_safetx_delegates'))
    )
    op.create_index('ix_safetx_delegates_delegate', 'safetx_delegates', ['delegate'],
                    unique=False)
    with op.batch_alter_table('safetx_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proposed_by_delegate', sa.String(length=42),
                                      nullable=True))


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('safetx_transactions', schema=None) as batch_op:
        batch_op.drop_column('proposed_by_delegate')
    op.drop_index('ix_safetx_delegates_delegate', table_name='safetx_delegates')
    op.drop_table('safetx_delegates')
