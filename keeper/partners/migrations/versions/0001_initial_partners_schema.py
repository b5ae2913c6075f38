"""Initial partners schema: sub-accounts, reported transactions and verdicts, chain moves, breaks,
withdrawal requests, per-partner state.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:47:30.052951
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
    op.create_table('partners_accounts',
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('client_ref', sa.String(length=64), nullable=False),
    sa.Column('address', sa.String(length=42), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('partner', 'client_ref', name=op.f('pk_partners_accounts')),
    sa.UniqueConstraint('partner', 'address', name=op.f('uq_partners_accounts_partner'))
    )
    op.create_table('partners_breaks',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=200), nullable=False),
    sa.Column('client_ref', sa.String(length=64), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners_breaks')),
    sa.UniqueConstraint('partner', 'ref', name=op.f('uq_partners_breaks_partner'))
    )
    with op.batch_alter_table('partners_breaks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_breaks_kind'), ['kind'], unique=False)

    op.create_table('partners_moves',
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('move_key', sa.String(length=100), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('block_number', sa.Integer(), nullable=False),
    sa.Column('asset', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.Text(), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('recipient', sa.String(length=42), nullable=False),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('partner', 'move_key', name=op.f('pk_partners_moves'))
    )
    with op.batch_alter_table('partners_moves', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_moves_block_number'), ['block_number'], unique=False)

    op.create_table('partners_reports',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('partner_tx_id', sa.String(length=64), nullable=False),
    sa.Column('client_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('asset', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.Text(), nullable=False),
    sa.Column('fee', sa.Text(), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('recipient', sa.String(length=42), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('log_index', sa.Integer(), nullable=True),
    sa.Column('block_number', sa.Integer(), nullable=True),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('verdict', sa.String(length=10), nullable=False),
    sa.Column('move_key', sa.String(length=100), nullable=True),
    sa.Column('chain_block', sa.Integer(), nullable=True),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners_reports')),
    sa.UniqueConstraint('partner', 'partner_tx_id', name=op.f('uq_partners_reports_partner'))
    )
    with op.batch_alter_table('partners_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_reports_tx_hash'), ['tx_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_partners_reports_verdict'), ['verdict'], unique=False)

    op.create_table('partners_state',
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('last_ok_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outage_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scanned_block', sa.Integer(), nullable=True),
    sa.Column('as_of_block', sa.Integer(), nullable=True),
    sa.Column('recon_ms', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('partner', name=op.f('pk_partners_state'))
    )
    op.create_table('partners_withdrawals',
    sa.Column('idem_key', sa.String(length=36), nullable=False),
    sa.Column('partner', sa.String(length=32), nullable=False),
    sa.Column('client_ref', sa.String(length=64), nullable=False),
    sa.Column('asset', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.Text(), nullable=False),
    sa.Column('destination', sa.String(length=42), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('partner_tx_id', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('idem_key', name=op.f('pk_partners_withdrawals')),
    sa.UniqueConstraint('partner_tx_id', name=op.f('uq_partners_withdrawals_partner_tx_id'))
    )
    with op.batch_alter_table('partners_withdrawals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partners_withdrawals_status'), ['status'], unique=False)



def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('partners_withdrawals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_withdrawals_status'))

    op.drop_table('partners_withdrawals')
    op.drop_table('partners_state')
    with op.batch_alter_table('partners_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_reports_verdict'))
        batch_op.drop_index(batch_op.f('ix_partners_reports_tx_hash'))

    op.drop_table('partners_reports')
    with op.batch_alter_table('partners_moves', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_moves_block_number'))

    op.drop_table('partners_moves')
    with op.batch_alter_table('partners_breaks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partners_breaks_kind'))

    op.drop_table('partners_breaks')
    op.drop_table('partners_accounts')
