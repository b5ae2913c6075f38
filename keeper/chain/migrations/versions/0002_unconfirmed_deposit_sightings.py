"""Sightings: vault deposits seen in the unconfirmed tip (shown to clients, never credited).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table('chain_sightings',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=128), nullable=False),
    sa.Column('client_ref', sa.String(length=66), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.BigInteger(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_hash', sa.String(length=66), nullable=False),
    sa.Column('asset', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=42), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('tip', sa.BigInteger(), nullable=False),
    sa.Column('required', sa.BigInteger(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_sightings')),
    sa.UniqueConstraint('source', 'block_hash', 'log_index',
                        name='uq_chain_sightings_source_block_hash_log_index')
    )
    with op.batch_alter_table('chain_sightings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_sightings_client_id'), ['client_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_chain_sightings_source'), ['source'], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('chain_sightings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_sightings_source'))
        batch_op.drop_index(batch_op.f('ix_chain_sightings_client_id'))
    op.drop_table('chain_sightings')
