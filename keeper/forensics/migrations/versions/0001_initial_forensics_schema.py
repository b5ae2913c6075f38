"""Initial forensics schema: transfer mirror, cursors, detector state, alerts.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:44:13.433017
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
    op.create_table('forensics_alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('alert_key', sa.String(length=64), nullable=False),
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('event_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=False),
    sa.Column('raised', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forensics_alerts')),
    sa.UniqueConstraint('alert_key', name=op.f('uq_forensics_alerts_alert_key'))
    )
    with op.batch_alter_table('forensics_alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forensics_alerts_detector'), ['detector'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_forensics_alerts_raised'), ['raised'],
                              unique=False)

    op.create_table('forensics_blocks',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.PrimaryKeyConstraint('number', name=op.f('pk_forensics_blocks'))
    )
    op.create_table('forensics_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('position_hash', sa.String(length=66), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_forensics_cursors'))
    )
    op.create_table('forensics_state',
    sa.Column('detector', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('detector', 'key', name=op.f('pk_forensics_state'))
    )
    op.create_table('forensics_transfers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('block_hash', sa.String(length=66), nullable=False),
    sa.Column('block_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('asset', sa.String(length=16), nullable=False),
    sa.Column('token', sa.String(length=42), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('recipient', sa.String(length=42), nullable=False),
    sa.Column('amount', sa.String(length=80), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forensics_transfers')),
    sa.UniqueConstraint('tx_hash', 'log_index', name='uq_forensics_transfers_tx_log')
    )
    with op.batch_alter_table('forensics_transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_forensics_transfers_block_number'), ['block_number'],
                              unique=False)
        batch_op.create_index('ix_forensics_transfers_recipient_block', ['recipient', 'block_number'],
                              unique=False)
        batch_op.create_index('ix_forensics_transfers_sender_block', ['sender', 'block_number'],
                              unique=False)



def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('forensics_transfers', schema=None) as batch_op:
        batch_op.drop_index('ix_forensics_transfers_sender_block')
        batch_op.drop_index('ix_forensics_transfers_recipient_block')
        batch_op.drop_index(batch_op.f('ix_forensics_transfers_block_number'))

    op.drop_table('forensics_transfers')
    op.drop_table('forensics_state')
    op.drop_table('forensics_cursors')
    op.drop_table('forensics_blocks')
    with op.batch_alter_table('forensics_alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_forensics_alerts_raised'))
        batch_op.drop_index(batch_op.f('ix_forensics_alerts_detector'))

    op.drop_table('forensics_alerts')
