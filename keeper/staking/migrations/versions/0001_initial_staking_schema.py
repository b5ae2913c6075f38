"""initial staking schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:57:53.739865
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('staking_allocations',
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('pool', 'tx_hash', 'log_index', 'client_id', name=op.f('pk_staking_allocations'))
    )
    op.create_table('staking_events',
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('block', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('contract_amount', sa.String(length=80), nullable=False),
    sa.Column('allocated', sa.String(length=80), nullable=False),
    sa.Column('remainder', sa.String(length=80), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('pool', 'tx_hash', 'log_index', name=op.f('pk_staking_events'))
    )
    op.create_table('staking_ops',
    sa.Column('op_id', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('position_id', sa.BigInteger(), nullable=True),
    sa.Column('request_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('op_id', name=op.f('pk_staking_ops'))
    )
    with op.batch_alter_table('staking_ops', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staking_ops_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_staking_ops_status'), ['status'], unique=False)

    op.create_table('staking_pools',
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('pooled', sa.String(length=80), nullable=False),
    sa.Column('total_shares', sa.String(length=80), nullable=False),
    sa.Column('unbonding_assets', sa.String(length=80), nullable=False),
    sa.Column('unbonding_units', sa.String(length=80), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('pool', name=op.f('pk_staking_pools'))
    )
    op.create_table('staking_positions',
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('position_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('shares', sa.String(length=80), nullable=False),
    sa.Column('principal', sa.String(length=80), nullable=False),
    sa.Column('rewards', sa.String(length=80), nullable=False),
    sa.Column('slashed', sa.String(length=80), nullable=False),
    sa.Column('locked_until', sa.BigInteger(), nullable=False),
    sa.Column('deposit_tx', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('pool', 'position_id', name=op.f('pk_staking_positions'))
    )
    with op.batch_alter_table('staking_positions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staking_positions_client_id'), ['client_id'], unique=False)

    op.create_table('staking_requests',
    sa.Column('pool', sa.String(length=42), nullable=False),
    sa.Column('request_id', sa.BigInteger(), nullable=False),
    sa.Column('position_id', sa.BigInteger(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('units', sa.String(length=80), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('slashed', sa.String(length=80), nullable=False),
    sa.Column('paid', sa.String(length=80), nullable=True),
    sa.Column('claimable_at', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('pool', 'request_id', name=op.f('pk_staking_requests'))
    )
    with op.batch_alter_table('staking_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staking_requests_client_id'), ['client_id'], unique=False)



def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('staking_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staking_requests_client_id'))

    op.drop_table('staking_requests')
    with op.batch_alter_table('staking_positions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staking_positions_client_id'))

    op.drop_table('staking_positions')
    op.drop_table('staking_pools')
    with op.batch_alter_table('staking_ops', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staking_ops_status'))
        batch_op.drop_index(batch_op.f('ix_staking_ops_client_id'))

    op.drop_table('staking_ops')
    op.drop_table('staking_events')
    op.drop_table('staking_allocations')
