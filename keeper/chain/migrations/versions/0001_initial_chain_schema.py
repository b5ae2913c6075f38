"""Initial chain sender schema: nonces (CAS), send intents and their signed attempts.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:20:00
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
    op.create_table('chain_nonces',
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('next_nonce', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('chain_id', 'address', name=op.f('pk_chain_nonces'))
    )
    op.create_table('chain_intents',
    sa.Column('intent_id', sa.String(length=160), nullable=False),
    sa.Column('chain_id', sa.BigInteger(), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('nonce', sa.BigInteger(), nullable=False),
    sa.Column('to', sa.String(length=42), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('value', sa.String(length=80), nullable=False),
    sa.Column('gas', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('mined_hash', sa.String(length=66), nullable=True),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('revert_reason', sa.Text(), nullable=True),
    sa.Column('stuck_alerted', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('intent_id', name=op.f('pk_chain_intents')),
    sa.UniqueConstraint('chain_id', 'sender', 'nonce',
                        name='uq_chain_intents_chain_id_sender_nonce')
    )
    with op.batch_alter_table('chain_intents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_intents_state'), ['state'], unique=False)
    op.create_table('chain_attempts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('intent_id', sa.String(length=160), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('max_fee', sa.String(length=80), nullable=False),
    sa.Column('tip', sa.String(length=80), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['intent_id'], ['chain_intents.intent_id'],
                            name=op.f('fk_chain_attempts_intent_id_chain_intents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chain_attempts')),
    sa.UniqueConstraint('tx_hash', name=op.f('uq_chain_attempts_tx_hash'))
    )
    with op.batch_alter_table('chain_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_chain_attempts_intent_id'), ['intent_id'],
                              unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('chain_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_attempts_intent_id'))
    op.drop_table('chain_attempts')
    with op.batch_alter_table('chain_intents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_chain_intents_state'))
    op.drop_table('chain_intents')
    op.drop_table('chain_nonces')
