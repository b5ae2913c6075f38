"""Initial gl schema: one EOD GL batch per business date.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 19:30:00
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
    op.create_table('gl_batches',
    sa.Column('business_date', sa.Date(), nullable=False),
    sa.Column('batch_id', sa.String(length=64), nullable=False),
    sa.Column('closing', sa.Text(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('atlas_batch_id', sa.String(length=64), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('business_date', name=op.f('pk_gl_batches')),
    sa.UniqueConstraint('batch_id', name=op.f('uq_gl_batches_batch_id'))
    )
    with op.batch_alter_table('gl_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gl_batches_status'), ['status'], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('gl_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gl_batches_status'))
    op.drop_table('gl_batches')
