"""signature types up to 24 characters ("CONTRACT_SIGNATURE" did not fit 16 on PostgreSQL)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 19:37:00
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
    with op.batch_alter_table('safetx_confirmations', schema=None) as batch_op:
        batch_op.alter_column('signature_type', existing_type=sa.String(length=16),
                              type_=sa.String(length=24), existing_nullable=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table('safetx_confirmations', schema=None) as batch_op:
        batch_op.alter_column('signature_type', existing_type=sa.String(length=24),
                              type_=sa.String(length=16), existing_nullable=False)
